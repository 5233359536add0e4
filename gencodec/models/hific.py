"""Codec ``hific``: HiFiC-style pixel codec with the ELIC context model (seed 000 sec. II.A).

Sections: ``hyper`` (z, categorical tables from the weights file, as in the
``hyperprior`` codec) and ``latent``: a 2-byte hash of the entropy-parameter
indices of all passes, then one range-coded stream of y coded group by
group (ELIC's uneven channel groups), each group anchors first and then
non-anchors (checkerboard), every pass followed by its escapes
(``gencodec.models.context_latent``). The priors of later passes depend on
decoded values, so both sides compute them pass by pass on the float64
parameter island from the same dequantized y_hat; the decoder checks the
hash after the last pass. The rate point r in 0..255 maps to the continuous
rate index t = r / 255 * (R - 1) of the gain vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gencodec.container.errors import MalformedStream
from gencodec.entropy import categorical
from gencodec.models.base import Encoded, latent_size, pad_to_multiple, to_tensor, to_uint8
from gencodec.models.context_latent import decode_context_latent, encode_context_latent
from gencodec.models.determinism import island_copy, parameter_island, to_island
from gencodec.models.weights import WeightsEntry, WeightsError, load_state
from gencodec.nn.hific import HiFiC, HiFiCConfig

TABLE_KEY = "z_prior.table"


@dataclass
class _Analysis:
    height: int
    width: int
    y: torch.Tensor  # float64 (1, M, h, w)
    z: torch.Tensor  # float64 (1, N, h/4, w/4)


@dataclass
class _Coded:
    y_hat: torch.Tensor  # float64, what the decoder reconstructs from
    scale_idx: list[np.ndarray]  # per pass, for tests and diagnostics


MODEL_IDS = ("hific", "conha", "conha-fixed")  # one network, three trainings (seed 004's baselines)


class HiFiCCodec:
    """Codecs ``hific``, ``conha`` and ``conha-fixed``: the same network and stream layout, weights trained
    with w = 1, w = M_P(x) and w = the training-set mean of M_P (``gencodec.training.hallucination``)."""

    model_id = "hific"  # per instance: the id of the weights it was built from
    model_ids = MODEL_IDS
    section_names = ("hyper", "latent")

    def __init__(self, entry: WeightsEntry, tensors: dict[str, torch.Tensor]) -> None:
        if entry.id not in MODEL_IDS:
            raise ValueError(f"weights {entry.id!r} are not for a HiFiC-family codec ({', '.join(MODEL_IDS)})")
        self.model_id = entry.id
        self.weights = entry
        self.cfg = HiFiCConfig.from_dict(entry.config["model"])
        if TABLE_KEY not in tensors:
            raise ValueError("hific weights carry no z_prior.table")
        self.table = tensors[TABLE_KEY].numpy().astype(np.int32)
        net = HiFiC(self.cfg)
        load_state(net, {k: v.float() for k, v in tensors.items() if k != TABLE_KEY})
        self.net = net.eval().requires_grad_(False)
        self.h_s64 = island_copy(net.h_s)
        self.context64 = island_copy(net.context)
        self.y_gain64 = island_copy(net.y_gain)
        self.z_gain64 = island_copy(net.z_gain)
        self.g_s64 = island_copy(net.g_s)  # synthesis in float64 too: identical pixels for any thread count
        self.device = torch.device("cpu")

    def set_device(self, device: torch.device) -> None:
        """Run analysis (and, off the CPU, float32 synthesis) on ``device``; the island stays on the CPU."""
        self.device = device
        for m in (self.net.g_a, self.net.h_a, self.net.g_s):
            m.to(device)

    # -- helpers ------------------------------------------------------------
    def rate_index(self, rate: int) -> torch.Tensor:
        return torch.tensor([rate / 255.0 * (self.cfg.n_rates - 1)], dtype=torch.float64)

    def _z_int(self, z: torch.Tensor, rate: int) -> torch.Tensor:
        k = self.cfg.z_half_range
        with parameter_island():
            return torch.round(z * self.z_gain64(self.rate_index(rate))).clamp(-k, k)

    def _island(self, z_int: torch.Tensor, rate: int) -> tuple[torch.Tensor, Any]:
        """The y gain and the prior function of the context model, both float64 on the island."""
        t = self.rate_index(rate)
        with parameter_island():
            hyper = self.h_s64(z_int.to(torch.float64) / self.z_gain64(t))
            gain = self.y_gain64(t)

        channel: dict[int, torch.Tensor | None] = {}  # both passes of a group share its channel context

        def prior(k: int, prev: torch.Tensor | None, anchors: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            with parameter_island():
                if k not in channel:
                    channel[k] = self.context64.channel_context(k, prev)
                return self.context64.params(k, hyper, channel[k], anchors)

        return gain, prior

    def _synthesize(self, y_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
        if self.device.type != "cpu":
            with torch.no_grad():
                x = self.net.g_s(y_hat.to(self.device, torch.float32))
            return to_uint8((x + 1) / 2, height, width)
        with parameter_island():
            x = self.g_s64(y_hat.to(torch.float64))
        return to_uint8((x + 1) / 2, height, width)

    # -- codec interface ------------------------------------------------------
    def analyze(self, img: np.ndarray) -> _Analysis:
        h, w = img.shape[:2]
        x = pad_to_multiple(to_tensor(img), self.cfg.downsample).to(self.device)
        with torch.no_grad():
            y = self.net.g_a(x * 2 - 1)
            z = self.net.h_a(y)
        return _Analysis(h, w, to_island(y), to_island(z))

    def code(self, a: _Analysis, rate: int, exact: bool = True) -> Encoded:
        k = self.cfg.z_half_range
        z_int = self._z_int(a.z, rate)
        z_sym = (z_int[0].numpy().astype(np.int64) + k).reshape(z_int.shape[1], -1)
        hyper = categorical.encode(z_sym, self.table, exact)
        gain, prior = self._island(z_int, rate)
        latent, y_hat, latent_bits, scale_idx = encode_context_latent(a.y, self.cfg.groups, gain, prior, exact)
        est = {"hyper": categorical.estimate_bits(z_sym, self.table), "latent": latent_bits}
        return Encoded(rate, [hyper, latent], est, state=_Coded(y_hat, scale_idx))

    def reconstruct(self, a: _Analysis, enc: Encoded) -> np.ndarray:
        return self._synthesize(enc.state.y_hat, a.height, a.width)

    def decode_latent(self, height: int, width: int, rate: int, sections: list[bytes]) -> _Coded:
        """The decoder's y_hat and per-pass scale indices (what :meth:`decode` synthesizes from)."""
        if len(sections) != 2:
            raise MalformedStream(f"hific streams have 2 sections, this one has {len(sections)}")
        hyper, latent = sections
        lh, lw = latent_size(height, width, 16, self.cfg.downsample)
        zh, zw = lh // 4, lw // 4
        k = self.cfg.z_half_range
        z_sym = categorical.decode(hyper, self.table, zh * zw)
        z_int = torch.from_numpy((z_sym.astype(np.int64) - k).reshape(1, -1, zh, zw))
        gain, prior = self._island(z_int, rate)
        y_hat, scale_idx = decode_context_latent(latent, (1, self.cfg.m, lh, lw), self.cfg.groups, gain, prior)
        return _Coded(y_hat, scale_idx)

    def decode(self, height: int, width: int, rate: int, sections: list[bytes]) -> np.ndarray:
        return self._synthesize(self.decode_latent(height, width, rate, sections).y_hat, height, width)


def build(entry: WeightsEntry, tensors: dict[str, Any], dependency: Any = None) -> HiFiCCodec:
    """``hific`` from its own weights; ``conha``/``conha-fixed`` from their decoder plus the ``hific``
    weights named in their ``config["base"]`` (sha256-checked)."""
    base = entry.config.get("base")
    if base is None:
        return HiFiCCodec(entry, tensors)
    if dependency is None:
        raise WeightsError(f"{entry.id!r} needs the {base['id']!r} weights it was trained on")
    base_entry, base_tensors = dependency(base["id"])
    if base_entry.sha256 != base["sha256"]:
        raise WeightsError(f"{entry.id!r} decoder was trained on other {base['id']!r} weights "
                           f"(sha256 {base['sha256'][:12]}..., shipped {base_entry.sha256[:12]}...)")
    return HiFiCCodec(entry, {**{k: v for k, v in base_tensors.items() if not k.startswith("g_s.")}, **tensors})
