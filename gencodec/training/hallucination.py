"""ConHa's per-image hallucination weight w for codec training (seed 004, eq. 4 and appendix C).

    L_wrdp = E_x[ lambda r(y) + d(x, x') + beta * w(x) * (d_LPIPS(x, x') - log D(x', y)) ]

Three modes, one per codec id trained with the same recipe:

* ``none``   w = 1 for every image: plain HiFiC (codec ``hific``);
* ``conha``  w = sigmoid(temperature * logit of M_P(x)) on the original crop x, temperature 100 as in the
  paper's appendix C so that w is pushed to 0 or 1 (codec ``conha``);
* ``fixed``  one constant w for every image, by default the mean of the ``conha`` weights over random training
  crops (the paper's ConHa-fixed: "the average weight across the entire training dataset").

w is a constant of x: no gradient flows into M_P.

The training photos hold almost no text (mean w over plain crops 0.95), so w would rarely act;
``structure_sampler`` pastes the synthetic M_P labels' structure (text, line art, small faces,
``gencodec.training.preference_pairs.draw_structure``) on a fraction of the training crops. Every
w mode uses the same crops, so hific, conha and conha-fixed differ only in w.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gencodec.models.preference import load_preference
from gencodec.nn.preference import PreferenceModel
from gencodec.training.data import CropSampler, list_images
from gencodec.training.preference_pairs import draw_structure

W_MODES = ("none", "conha", "fixed")


class HallucinationWeight:
    """Callable x (B, 3, H, W) in [0, 1] -> w (B,), or None in mode ``none`` (w = 1)."""

    def __init__(self, mode: str, model: PreferenceModel | None = None, temperature: float = 100.0,
                 fixed: float | None = None) -> None:
        if mode not in W_MODES:
            raise ValueError(f"w_mode must be one of {', '.join(W_MODES)}, got {mode!r}")
        if mode == "conha" and model is None:
            raise ValueError("w_mode 'conha' needs the preference model M_P")
        if mode == "fixed" and (fixed is None or not 0.0 <= fixed <= 1.0):
            raise ValueError(f"w_mode 'fixed' needs a weight in [0, 1], got {fixed}")
        self.mode, self.model, self.temperature, self.fixed = mode, model, temperature, fixed

    def __call__(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.mode == "none":
            return None
        if self.mode == "fixed":
            return torch.full((x.shape[0],), float(self.fixed))
        assert self.model is not None
        with torch.no_grad():
            return self.model.weight(x.float(), self.temperature).float()


def structure_sampler(data: list[str], crop: int, seed: int, structure: float) -> CropSampler:
    """Training crops of the folders ``data``; a fraction ``structure`` of them get rendered structure."""
    if not 0.0 <= structure <= 1.0:
        raise ValueError(f"structure must be a fraction of the crops in [0, 1], got {structure}")
    files = list_images([Path(p) for p in data])
    return CropSampler(files, crop, seed, decorate=draw_structure if structure > 0 else None,
                       decorate_fraction=structure)


def training_mean(model: PreferenceModel, sampler: CropSampler, crops: int, temperature: float,
                  batch: int = 16) -> float:
    """Mean w over ``crops`` random crops of ``sampler`` (ConHa-fixed's constant); the sampler's state is
    restored afterwards, so measuring does not move a training run's batches."""
    state = sampler.get_state()
    total, seen = 0.0, 0
    with torch.no_grad():
        while seen < crops:
            x, _ = sampler.batch(min(batch, crops - seen))
            total += model.weight(x, temperature).sum().item()
            seen += x.shape[0]
    sampler.set_state(state)
    return total / seen


def build_weight(mode: str, preference: str | Path, temperature: float, fixed: float,
                 sampler: CropSampler | None = None, crops: int = 512) -> tuple[HallucinationWeight, float | None]:
    """The weight of ``mode`` and the constant it uses (``fixed`` < 0 in mode ``fixed``: the training mean,
    measured on ``crops`` crops of ``sampler``); M_P comes from the weights folder ``preference``."""
    if mode == "none":
        return HallucinationWeight("none"), None
    model = load_preference(preference)
    if mode == "conha":
        return HallucinationWeight("conha", model, temperature), None
    if fixed < 0 and sampler is None:
        raise ValueError("measuring the training-set mean of w needs a crop sampler")
    value = fixed if fixed >= 0 else training_mean(model, sampler, crops, temperature)
    return HallucinationWeight("fixed", fixed=value), value
