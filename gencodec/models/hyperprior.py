"""Codec ``hyperprior``: the pixel-space mean-scale hyperprior (gic 0.1 default).

Sections: ``hyper`` (z, categorical tables from the weights file) and
``latent`` (2-byte parameter hash + range-coded residuals of y). The rate
point r in 0..255 maps to the continuous rate index t = r / 255 * (R - 1)
of the model's gain vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gencodec.container.errors import MalformedStream
from gencodec.entropy import categorical
from gencodec.models.base import Encoded, RefineProblem, latent_size, pad_to_multiple, to_tensor, to_uint8
from gencodec.models.determinism import island_copy, parameter_island, to_island
from gencodec.models.gaussian_latent import decode_latent, encode_latent
from gencodec.models.weights import WeightsEntry, load_state
from gencodec.nn.pixel_hyperprior import HyperpriorConfig, PixelHyperprior

TABLE_KEY = "z_prior.table"


@dataclass
class _Analysis:
    height: int
    width: int
    y: torch.Tensor  # float64 (1, M, h, w)
    z: torch.Tensor  # float64 (1, N, h/4, w/4)


class HyperpriorCodec:
    model_id = "hyperprior"
    section_names = ("hyper", "latent")

    def __init__(self, entry: WeightsEntry, tensors: dict[str, torch.Tensor]) -> None:
        self.weights = entry
        self.cfg = HyperpriorConfig(**entry.config["model"])
        self.table = tensors[TABLE_KEY].numpy().astype(np.int32)
        state = {k: v.float() for k, v in tensors.items() if k != TABLE_KEY}
        net = PixelHyperprior(self.cfg)
        load_state(net, state)
        self.net = net.eval().requires_grad_(False)
        self.h_s64 = island_copy(net.h_s)
        self.y_gain64 = island_copy(net.y_gain)
        self.z_gain64 = island_copy(net.z_gain)
        # synthesis also runs in float64: fp32 CPU kernels give different pixels for 1 and 2 threads
        self.g_s64 = island_copy(net.g_s)
        self.device = torch.device("cpu")

    def set_device(self, device: torch.device) -> None:
        """Run analysis (and, off the CPU, float32 synthesis) on ``device``; the island stays on the CPU."""
        self.device = device
        for m in (self.net.g_a, self.net.h_a, self.net.g_s):
            m.to(device)

    # -- helpers ------------------------------------------------------------
    def rate_index(self, rate: int) -> torch.Tensor:
        return torch.tensor([rate / 255.0 * (self.cfg.n_rates - 1)], dtype=torch.float64)

    def _prior(self, z_int: torch.Tensor, rate: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prior (mu, sigma) of y and the y gain, float64 on the parameter island."""
        t = self.rate_index(rate)
        with parameter_island():
            mu, log_sigma = self.h_s64(z_int.to(torch.float64) / self.z_gain64(t)).chunk(2, dim=1)
            return mu, log_sigma.clamp(-6.0, 8.0).exp(), self.y_gain64(t)

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
        t = self.rate_index(rate)
        k = self.cfg.z_half_range
        with parameter_island():
            z_int = torch.round(a.z * self.z_gain64(t)).clamp(-k, k)
        z_sym = (z_int[0].numpy().astype(np.int64) + k).reshape(z_int.shape[1], -1)
        hyper = categorical.encode(z_sym, self.table, exact)
        latent, y_hat, latent_bits = encode_latent(a.y, *self._prior(z_int, rate), exact=exact)
        est = {"hyper": categorical.estimate_bits(z_sym, self.table), "latent": latent_bits}
        return Encoded(rate, [hyper, latent], est, state=y_hat)

    def refine_problem(self, a: _Analysis, rate: int) -> RefineProblem:
        """The refinement view of an analysis: z stays as the encoder chose it at this rate."""
        t = self.rate_index(rate)
        k = self.cfg.z_half_range
        with parameter_island():
            z_int = torch.round(a.z * self.z_gain64(t)).clamp(-k, k)
        mu, sigma, _ = self._prior(z_int, rate)

        def synthesize(y_hat: torch.Tensor) -> torch.Tensor:
            return (self.net.g_s(y_hat) + 1) / 2

        return RefineProblem(a.y.float(), mu.float(), sigma.float(), float(t), self.cfg.n_rates,
                             self.net.y_gain, synthesize, a.height, a.width)

    def with_latent(self, a: _Analysis, y: torch.Tensor) -> _Analysis:
        return _Analysis(a.height, a.width, to_island(y), a.z)

    def reconstruct(self, a: _Analysis, enc: Encoded) -> np.ndarray:
        return self._synthesize(enc.state, a.height, a.width)

    def decode(self, height: int, width: int, rate: int, sections: list[bytes]) -> np.ndarray:
        if len(sections) != 2:
            raise MalformedStream(f"hyperprior streams have 2 sections, this one has {len(sections)}")
        hyper, latent = sections
        lh, lw = latent_size(height, width, 16, self.cfg.downsample)
        zh, zw = lh // 4, lw // 4
        k = self.cfg.z_half_range
        z_sym = categorical.decode(hyper, self.table, zh * zw)
        z_int = torch.from_numpy((z_sym.astype(np.int64) - k).reshape(1, -1, zh, zw))
        y_hat = decode_latent(latent, *self._prior(z_int, rate))
        return self._synthesize(y_hat, height, width)


def build(entry: WeightsEntry, tensors: dict[str, Any], dependency: Any = None) -> HyperpriorCodec:
    return HyperpriorCodec(entry, tensors)
