"""Codec ``glc``: Generative Latent Coding (Jia et al., CVPR 2024).

Encode: l = E(x) -> y = g_a(l), z = h_a(y) -> z indices (fixed length, hyper
codebook C_h) -> prior (mu, sigma) = h_s(C_h[z]) on the parameter island ->
Gaussian-coded y at rate gain g(t). Decode: y_hat -> l_hat = g_s(y_hat) ->
x_hat = D(normalize(l_hat)).

Sections: ``hyper`` (ceil(log2 K_h) bits per z position, 1/128 resolution)
and ``latent`` (2-byte parameter hash + range-coded y at 1/32 resolution).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from gencodec.container.errors import MalformedStream
from gencodec.entropy import fixed_length
from gencodec.models.base import Encoded, RefineProblem, latent_size, pad_to_multiple, to_tensor, to_uint8
from gencodec.models.determinism import island_copy, parameter_island, to_island
from gencodec.models.gaussian_latent import decode_latent, encode_latent
from gencodec.models.weights import WeightsEntry, WeightsError, load_state
from gencodec.nn.glc import GLCConfig, GLCLatentCodec
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder

MULTIPLE = 128  # z is at 1/128 resolution

Dependency = Callable[[str], tuple[WeightsEntry, dict[str, torch.Tensor]]]


def build_autoencoder(entry: WeightsEntry, tensors: dict[str, torch.Tensor]) -> VQAutoencoder:
    raw = entry.config["model"]
    cfg = AutoencoderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    ae = VQAutoencoder(cfg)
    load_state(ae, {k: v.float() for k, v in tensors.items()})
    return ae.eval().requires_grad_(False)


def shared_autoencoder(entry: WeightsEntry, dependency: Dependency) -> VQAutoencoder:
    """The autoencoder a latent codec was trained with; refuses a different installed one."""
    ae_entry, ae_tensors = dependency(entry.config["autoencoder_weights"])
    if ae_entry.sha256 != entry.config["autoencoder_sha256"]:
        raise WeightsError(f"{entry.id} weights were trained with another autoencoder than the one installed")
    return build_autoencoder(ae_entry, ae_tensors)


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The float32 tensors under ``prefix`` (``codec.``, ``decoder.``) with the prefix removed."""
    return {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}


def autoencoder_for(entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> VQAutoencoder:
    """The shared autoencoder, with the codec's fine-tuned decoder when its weights carry one."""
    ae = shared_autoencoder(entry, dependency)
    decoder = prefixed(tensors, "decoder.")
    if decoder:
        load_state(ae.decoder, decoder)
    return ae


@dataclass
class _Analysis:
    height: int
    width: int
    y: torch.Tensor  # float64
    z_idx: np.ndarray  # int64 (h, w)


class GLCCodec:
    model_id = "glc"
    section_names = ("hyper", "latent")

    def __init__(self, entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> None:
        self.weights = entry
        self.ae = autoencoder_for(entry, tensors, dependency)
        self.cfg = GLCConfig(**entry.config["model"])
        net = GLCLatentCodec(self.cfg)
        load_state(net, prefixed(tensors, "codec."))
        self.net = net.eval().requires_grad_(False)
        self.h_s64 = island_copy(net.h_s)
        self.y_gain64 = island_copy(net.y_gain)
        self.codebook64 = net.hyper_vq.codes().detach().to(torch.float64)
        # synthesis runs in float64 so pixels do not depend on thread count or CPU kernels
        self.g_s64 = island_copy(net.g_s)
        self.decoder64 = island_copy(self.ae.decoder)
        self.device = torch.device("cpu")

    def set_device(self, device: torch.device) -> None:
        """Run analysis (and, off the CPU, float32 synthesis) on ``device``; the island stays on the CPU."""
        self.device = device
        for m in (self.ae, self.net.g_a, self.net.h_a, self.net.g_s, self.net.hyper_vq):
            m.to(device)

    def rate_index(self, rate: int) -> torch.Tensor:
        return torch.tensor([rate / 255.0 * (self.cfg.n_rates - 1)], dtype=torch.float64)

    def _prior(self, z_idx: np.ndarray, rate: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with parameter_island():
            z_hat = self.codebook64[torch.from_numpy(z_idx)].permute(2, 0, 1).unsqueeze(0)
            mu, log_sigma = self.h_s64(z_hat).chunk(2, dim=1)
            return mu, log_sigma.clamp(-6.0, 8.0).exp(), self.y_gain64(self.rate_index(rate))

    def _synthesize(self, y_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
        if self.device.type != "cpu":
            with torch.no_grad():
                x = self.ae.decode(F.normalize(self.net.g_s(y_hat.to(self.device, torch.float32)), dim=1))
            return to_uint8(x, height, width)
        with parameter_island():
            latent = self.g_s64(y_hat.to(torch.float64))
            x = self.decoder64(F.normalize(latent, dim=1))
        return to_uint8(x, height, width)

    def analyze(self, img: np.ndarray) -> _Analysis:
        h, w = img.shape[:2]
        x = pad_to_multiple(to_tensor(img), MULTIPLE).to(self.device)
        with torch.no_grad():
            y = self.net.g_a(self.ae.encode(x))
            _, z_idx = self.net.hyper_vq.lookup(self.net.h_a(y))
        return _Analysis(h, w, to_island(y), z_idx[0].cpu().numpy().astype(np.int64))

    def code(self, a: _Analysis, rate: int, exact: bool = True) -> Encoded:
        hyper = fixed_length.pack(a.z_idx, self.cfg.hyper_codebook)
        latent, y_hat, bits = encode_latent(a.y, *self._prior(a.z_idx, rate), exact=exact)
        est = {"hyper": 8.0 * len(hyper), "latent": bits}
        return Encoded(rate, [hyper, latent], est, state=y_hat)

    def refine_problem(self, a: _Analysis, rate: int) -> RefineProblem:
        mu, sigma, _ = self._prior(a.z_idx, rate)

        def synthesize(y_hat: torch.Tensor) -> torch.Tensor:
            return self.ae.decode(F.normalize(self.net.g_s(y_hat), dim=1))

        t = float(self.rate_index(rate))
        return RefineProblem(a.y.float(), mu.float(), sigma.float(), t, self.cfg.n_rates,
                             self.net.y_gain, synthesize, a.height, a.width)

    def with_latent(self, a: _Analysis, y: torch.Tensor) -> _Analysis:
        return _Analysis(a.height, a.width, to_island(y), a.z_idx)

    def reconstruct(self, a: _Analysis, enc: Encoded) -> np.ndarray:
        return self._synthesize(enc.state, a.height, a.width)

    def decode(self, height: int, width: int, rate: int, sections: list[bytes]) -> np.ndarray:
        if len(sections) != 2:
            raise MalformedStream(f"glc streams have 2 sections, this one has {len(sections)}")
        lh, lw = latent_size(height, width, 128, MULTIPLE)
        z_idx = fixed_length.unpack(sections[0], lh * lw, self.cfg.hyper_codebook).reshape(lh, lw)
        y_hat = decode_latent(sections[1], *self._prior(z_idx, rate))
        return self._synthesize(y_hat, height, width)


def build(entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> GLCCodec:
    return GLCCodec(entry, tensors, dependency)
