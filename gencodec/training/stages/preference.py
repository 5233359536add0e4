"""ConHa's hallucination-preference model M_P (seed 004, sec. 3.1, appendix C): train the small head on a
frozen backbone as a binary classifier of "the generative model was preferred" from a pairs file
(:mod:`gencodec.training.preference_pairs`: the paper's labels or the synthetic proxy).

    L = BCE(logit(x), label),   label = 1 if the hallucinating (GAN) model was preferred, 0 if the MSE one

Appendix C: batch 8, Adam, lr 1e-4 with cosine annealing, BCE, 30 epochs (``total_steps = 0`` derives the
steps from ``epochs``). A training sample is a random ``crop`` of a pair's image (images smaller than
that are scaled up) with random horizontal and vertical flips, drawn in epoch order from a seeded shuffle
(decoded images stay in memory up to ``max_cache_mb``, else they are re-read per use).
A seeded ``val_fraction`` of the pairs is held out and scored every ``val_every`` steps (centre crops, no
flips: ``val_acc``, ``val_loss``). The sampler state (numpy RNG + epoch order + position) is checkpointed, so a
resumed run is bit-identical to an uninterrupted one. The output w = sigmoid(temperature * logit) is the
weight of the perceptual terms in eq. 4.

    gic train preference --run runs/mp --set pairs=labels.csv
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gencodec.metrics.backbone import WEIGHTS_FILENAME, WEIGHTS_SHA256, EfficientNetLite0Features
from gencodec.nn.preference import PreferenceConfig, PreferenceModel
from gencodec.training.data import assert_not_kodak
from gencodec.training.loop import lr_at, set_lr
from gencodec.training.preference_pairs import DEFAULT_GENERATIVE, read_pairs


@dataclass
class PreferenceTrainConfig:
    pairs: str = "labels.csv"  # pairs CSV (image, model_a, model_b, choice)
    generative: tuple[str, ...] = tuple(sorted(DEFAULT_GENERATIVE))  # model names counted as hallucinating
    crop: int = 128  # random training crop (paper: 256)
    batch: int = 8
    lr: float = 1e-4
    epochs: int = 30
    total_steps: int = 0  # 0 = ceil(epochs * n_train / batch)
    warmup: int = 0  # linear warm-up steps before the cosine (paper: none)
    final_lr_frac: float = 0.0  # cosine annealing from lr to final_lr_frac * lr over the run
    val_fraction: float = 0.1
    val_every: int = 200
    seed: int = 0
    max_cache_mb: int = 2048  # decoded images are kept in memory if they fit, else re-read from disk per use
    model: dict = field(default_factory=dict)  # PreferenceConfig overrides, e.g. {"hidden": 64}


def _load_rgb(path: Path, need: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if min(im.size) < need:
            s = need / min(im.size)
            im = im.resize((max(need, round(im.width * s)), max(need, round(im.height * s))), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8)


def _decoded_mb(paths: set[Path], need: int) -> float:
    """Memory the decoded RGB images would take (read from the headers only)."""
    total = 0
    for f in paths:
        with Image.open(f) as im:
            s = max(1.0, need / min(im.size))
            total += 3 * round(im.width * s) * round(im.height * s)
    return total / 2**20


def _to_tensor(crops: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0).contiguous()


class PreferenceStage:
    name = "preference"

    def __init__(self, cfg: PreferenceTrainConfig, model_cfg: PreferenceConfig | None = None,
                 backbone: EfficientNetLite0Features | None = None) -> None:
        self.cfg = cfg
        if cfg.batch < 1 or cfg.crop < 32 or not 0.0 <= cfg.val_fraction < 1.0 or cfg.val_every < 1:
            raise ValueError("need batch >= 1, crop >= 32, 0 <= val_fraction < 1 and val_every >= 1")
        pairs = read_pairs(cfg.pairs, cfg.generative)
        assert_not_kodak([p.image for p in pairs])
        self.paths = [p.image for p in pairs]
        self._cache: dict[Path, np.ndarray] | None = None
        if _decoded_mb(set(self.paths), cfg.crop) <= cfg.max_cache_mb:
            self._cache = {f: _load_rgb(f, cfg.crop) for f in dict.fromkeys(self.paths)}
        self.labels = np.array([p.label for p in pairs], dtype=np.float32)
        split = np.random.default_rng(cfg.seed).permutation(len(pairs))
        n_val = min(len(pairs) - 1, math.ceil(cfg.val_fraction * len(pairs))) if cfg.val_fraction > 0 else 0
        self.val_idx = np.sort(split[:n_val])
        self.train_idx = np.sort(split[n_val:])
        self.total_steps = cfg.total_steps or math.ceil(cfg.epochs * len(self.train_idx) / cfg.batch)
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_cfg or PreferenceConfig.from_dict(cfg.model)
        self.model = PreferenceModel(self.model_cfg, backbone=backbone)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.rng = np.random.default_rng(cfg.seed + 1)
        self.order: list[int] = []
        self.pos = 0

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}  # head only: the backbone has no persistent state

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt}

    def sampler_state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "order": list(self.order), "pos": self.pos}

    def set_sampler_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order, self.pos = [int(i) for i in state["order"]], int(state["pos"])

    def config(self) -> dict:
        return {
            "train": asdict(self.cfg), "model": self.model_cfg.to_dict(),
            "data": {"n_train": len(self.train_idx), "n_val": len(self.val_idx),
                     "train_positive": round(float(self.labels[self.train_idx].mean()), 4)},
            "backbone": {"file": WEIGHTS_FILENAME, "sha256": WEIGHTS_SHA256},
        }

    def image(self, i: int) -> np.ndarray:
        """Pair ``i``'s image as uint8 HxWx3 (at least ``crop`` on each side)."""
        f = self.paths[i]
        return self._cache[f] if self._cache is not None else _load_rgb(f, self.cfg.crop)

    def _next_indices(self, n: int) -> list[int]:
        out = []
        for _ in range(n):
            if self.pos >= len(self.order):  # a new epoch
                self.order = [int(i) for i in self.rng.permutation(self.train_idx)]
                self.pos = 0
            out.append(self.order[self.pos])
            self.pos += 1
        return out

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, crop, crop) in [0, 1] with random crops and flips, and labels (B,)."""
        c, idx = self.cfg.crop, self._next_indices(self.cfg.batch)
        crops = []
        for i in idx:
            im = self.image(i)
            y0 = int(self.rng.integers(0, im.shape[0] - c + 1))
            x0 = int(self.rng.integers(0, im.shape[1] - c + 1))
            patch = im[y0 : y0 + c, x0 : x0 + c]
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            if self.rng.random() < 0.5:
                patch = patch[::-1]
            crops.append(np.ascontiguousarray(patch))
        return _to_tensor(crops), torch.from_numpy(self.labels[idx])

    def _centre(self, i: int) -> np.ndarray:
        im, c = self.image(i), self.cfg.crop
        y0, x0 = (im.shape[0] - c) // 2, (im.shape[1] - c) // 2
        return im[y0 : y0 + c, x0 : x0 + c]

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Accuracy (logit > 0 vs label) and BCE on the held-out centre crops."""
        if len(self.val_idx) == 0:
            return {}
        logits = []
        for lo in range(0, len(self.val_idx), 4 * self.cfg.batch):
            chunk = self.val_idx[lo : lo + 4 * self.cfg.batch]
            logits.append(self.model(_to_tensor([self._centre(int(i)) for i in chunk])))
        z, y = torch.cat(logits), torch.from_numpy(self.labels[self.val_idx])
        return {"val_acc": ((z > 0).float() == y).float().mean().item(),
                "val_loss": F.binary_cross_entropy_with_logits(z, y).item()}

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        lr = lr_at(step, self.total_steps, c.lr, warmup=c.warmup, final_frac=c.final_lr_frac, decay_from=0.0)
        set_lr(self.opt, lr)
        x, y = self.batch()
        self.model.train()
        logit = self.model(x)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        z = logit.detach()
        metrics = {"loss": loss.item(), "acc": ((z > 0).float() == y).float().mean().item(),
                   "w_mean": torch.sigmoid(z).mean().item(), "lr": lr}
        if (step + 1) % c.val_every == 0 or step + 1 == self.total_steps:
            self.model.eval()
            metrics.update(self.validate())
        return metrics
