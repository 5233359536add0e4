"""Codec ``dlf``: dual-branch semantic + detail coding (DLF, seed 002) on the shared autoencoder.

Encode: l = E(x) -> (y_s, y_d) = f_enc(l) -> semantic indices VQ(y_s) (fixed length) and hyper indices
VQ_h(h_a(y_d)) (fixed length) -> on the parameter island: h_s = f^s_dec(y^_s), (mu, sigma, Delta) =
p(z^, h_s), gains G = g(t) / Delta -> Gaussian-coded y_d. Decode: h^ = f_ada(f^d_dec(y^_d), h_s),
x^ = D(normalize(h^)), all in float64 on the CPU so ``decode`` reproduces ``reconstruct`` bit-exactly.

Sections, in stream order:
  ``semantic``  ceil(log2 K) bits per token, T tokens per window of W x W latent positions: a cost fixed
                per window and independent of the rate (reported separately by ``gic info``)
  ``hyper``     ceil(log2 K_h) bits per z position (1/128 resolution)
  ``detail``    2-byte parameter hash + range-coded y_d (1/32 resolution); the rate point 0..255 only
                moves the gain g(t) of this branch
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from gencodec.container.errors import MalformedStream
from gencodec.entropy import fixed_length
from gencodec.models.base import Encoded, latent_size, pad_to_multiple, to_tensor, to_uint8
from gencodec.models.determinism import island_copy, parameter_island, to_island
from gencodec.models.gaussian_latent import decode_latent, encode_latent
from gencodec.models.glc import Dependency, autoencoder_for, prefixed
from gencodec.models.weights import WeightsEntry, load_state
from gencodec.nn.dlf import DLFConfig, DLFNet
from gencodec.nn.window_attention import WindowLayout

MULTIPLE = 128  # z is at 1/128 resolution; the semantic windows pad themselves inside the network
FACTOR = 16


@dataclass
class _Analysis:
    height: int
    width: int
    y: torch.Tensor | None  # float64 (1, m, lh/2, lw/2); None without the detail branch
    s_idx: np.ndarray  # int64 (windows, tokens)
    z_idx: np.ndarray  # int64 (lh/8, lw/8)


@dataclass
class _Semantic:
    tokens: torch.Tensor  # float64, decoded semantic tokens
    h_s: torch.Tensor  # float64, semantic features on the latent grid


class DLFCodec:
    model_id = "dlf"
    section_names = ("semantic", "hyper", "detail")

    def __init__(self, entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> None:
        self.weights = entry
        self.ae = autoencoder_for(entry, tensors, dependency)
        self.cfg = DLFConfig(**entry.config["model"])
        net = DLFNet(self.cfg)
        load_state(net, prefixed(tensors, "codec."))
        self.net = net.eval().requires_grad_(False)
        # everything after the indices runs on the float64 island (priors and pixels)
        self.dec64 = island_copy(net.decoder)
        self.sem_codes64 = net.sem_vq.codebook.detach().to(torch.float64)
        self.hyper_codes64 = net.hyper_vq.codes().detach().to(torch.float64)
        self.decoder64 = island_copy(self.ae.decoder)
        self.device = torch.device("cpu")

    def set_device(self, device: torch.device) -> None:
        """Run the analysis on ``device``; the island (priors, synthesis) always stays on the CPU."""
        self.device = device
        for m in (self.ae, self.net.encoder, self.net.sem_vq, self.net.hyper_vq):
            m.to(device)

    def rate_index(self, rate: int) -> torch.Tensor:
        return torch.tensor([rate / 255.0 * (self.cfg.n_rates - 1)], dtype=torch.float64)

    def n_windows(self, height: int, width: int) -> int:
        lh, lw = latent_size(height, width, FACTOR, MULTIPLE)
        return WindowLayout(lh, lw, self.cfg.window).count

    def semantic_bytes(self, height: int, width: int) -> int:
        """Size of the semantic section: windows x tokens x ceil(log2 K) bits, rounded up to bytes."""
        return fixed_length.packed_size(self.n_windows(height, width) * self.cfg.n_tokens, self.cfg.codebook)

    def _semantic(self, s_idx: np.ndarray, height: int, width: int) -> _Semantic:
        lh, lw = latent_size(height, width, FACTOR, MULTIPLE)
        with parameter_island():
            tokens, h_s = self.dec64.semantic(self.sem_codes64[torch.from_numpy(s_idx)], lh, lw)
        return _Semantic(tokens, h_s)

    def _prior(self, sem: _Semantic, z_idx: np.ndarray, rate: int) -> tuple[torch.Tensor, ...]:
        with parameter_island():
            z_hat = self.hyper_codes64[torch.from_numpy(z_idx)].permute(2, 0, 1).unsqueeze(0)
            mu, sigma, step = self.dec64.prior(z_hat, sem.h_s)
            return mu, sigma, self.dec64.y_gain(self.rate_index(rate)) / step

    def _synthesize(self, sem: _Semantic, y_hat: torch.Tensor | None, height: int, width: int) -> np.ndarray:
        with parameter_island():
            latent = self.dec64.synthesize(sem.tokens, sem.h_s, None if y_hat is None else y_hat.to(torch.float64))
            x = self.decoder64(F.normalize(latent, dim=1))
        return to_uint8(x, height, width)

    def analyze(self, img: np.ndarray) -> _Analysis:
        h, w = img.shape[:2]
        x = pad_to_multiple(to_tensor(img), MULTIPLE).to(self.device)
        with torch.no_grad():
            y_s, y_d = self.net.encoder(self.ae.encode(x))
            s_idx = self.net.semantic_indices(y_s).cpu().numpy().astype(np.int64)
            if y_d is None:
                return _Analysis(h, w, None, s_idx, np.zeros((0, 0), np.int64))
            _, z_idx = self.net.hyper_vq.lookup(self.net.encoder.h_a(y_d))
        return _Analysis(h, w, to_island(y_d), s_idx, z_idx[0].cpu().numpy().astype(np.int64))

    def code(self, a: _Analysis, rate: int, exact: bool = True) -> Encoded:
        semantic = fixed_length.pack(a.s_idx, self.cfg.codebook)
        sem = self._semantic(a.s_idx, a.height, a.width)
        if a.y is None:  # tokens-only ablation: the hyper and detail sections are empty
            return Encoded(rate, [semantic, b"", b""], {"semantic": 8.0 * len(semantic), "hyper": 0.0,
                                                         "detail": 0.0}, state=(sem, None))
        hyper = fixed_length.pack(a.z_idx, self.cfg.hyper_codebook)
        detail, y_hat, bits = encode_latent(a.y, *self._prior(sem, a.z_idx, rate), exact=exact)
        est = {"semantic": 8.0 * len(semantic), "hyper": 8.0 * len(hyper), "detail": bits}
        return Encoded(rate, [semantic, hyper, detail], est, state=(sem, y_hat))

    def reconstruct(self, a: _Analysis, enc: Encoded) -> np.ndarray:
        sem, y_hat = enc.state
        return self._synthesize(sem, y_hat, a.height, a.width)

    def decode(self, height: int, width: int, rate: int, sections: list[bytes]) -> np.ndarray:
        if len(sections) != 3:
            raise MalformedStream(f"dlf streams have 3 sections, this one has {len(sections)}")
        lh, lw = latent_size(height, width, FACTOR, MULTIPLE)
        n_tok = self.n_windows(height, width) * self.cfg.n_tokens
        s_idx = fixed_length.unpack(sections[0], n_tok, self.cfg.codebook).reshape(-1, self.cfg.n_tokens)
        if not self.cfg.detail_branch:
            if sections[1] or sections[2]:
                raise MalformedStream("this dlf model has no detail branch, but the stream has detail sections")
            return self._synthesize(self._semantic(s_idx, height, width), None, height, width)
        zh, zw = lh * FACTOR // MULTIPLE, lw * FACTOR // MULTIPLE
        z_idx = fixed_length.unpack(sections[1], zh * zw, self.cfg.hyper_codebook).reshape(zh, zw)
        sem = self._semantic(s_idx, height, width)
        y_hat = decode_latent(sections[2], *self._prior(sem, z_idx, rate))
        return self._synthesize(sem, y_hat, height, width)


def build(entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> DLFCodec:
    return DLFCodec(entry, tensors, dependency)
