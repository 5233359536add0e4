"""Codec ``perco``: diffusion decoding from a tiny local code and a caption (Careil et al., ICLR 2024).

Encode: l = E(x) -> local code indices of rate point r (fixed length,
ceil(log2 V_r) bits each) + the optional caption and the sampling seed
(``gencodec.entropy.caption``). Decode: condition = U_r(C_r[indices]);
DDIM from seeded noise with classifier-free guidance on the text only ->
l_hat -> x_hat = D(normalize(l_hat)). The reconstruction is a sample: the
seed in the stream and a CPU torch.Generator make it reproducible, and the
whole sampler and decoder run in float64 so it does not depend on threads.

Sections: ``local`` (indices) and ``global`` (caption + seed; empty when
neither is given). Rate byte b selects rate point floor(b * R / 256).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from gencodec.container.errors import MalformedStream
from gencodec.entropy import fixed_length
from gencodec.entropy.caption import decode_global, encode_global, normalize_caption
from gencodec.models.base import Encoded, latent_size, pad_to_multiple, to_tensor, to_uint8
from gencodec.models.determinism import island_copy, parameter_island
from gencodec.models.glc import Dependency, shared_autoencoder
from gencodec.models.weights import WeightsEntry, load_state
from gencodec.nn.diffusion import ddim_sample, guided
from gencodec.nn.perco import PerCoConfig, PerCoNet

DEFAULT_STEPS = 2  # measured (docs/models.md): at 2 steps DFD and patch FD are both lowest at every rate
DEFAULT_GUIDANCE = 3.0
Progress = Callable[[int, int], None]


@dataclass
class _Analysis:
    height: int
    width: int
    indices: list[np.ndarray]  # per rate point, int64 (h_r, w_r)
    caption: str | None
    seed: int


class PerCoCodec:
    model_id = "perco"
    section_names = ("local", "global")
    accepts_caption = True

    def __init__(self, entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> None:
        self.weights = entry
        self.ae = shared_autoencoder(entry, dependency)
        self.cfg = PerCoConfig.from_dict(entry.config["model"])
        net = PerCoNet(self.cfg)
        load_state(net, {k: v.float() for k, v in tensors.items()})
        self.net = net.eval().requires_grad_(False)
        self.net64 = island_copy(net)
        self.decoder64 = island_copy(self.ae.decoder)
        self.factor = self.ae.cfg.downsample
        self.multiple = self.factor * self.cfg.multiple

    def set_device(self, device: torch.device) -> None:
        """perco always samples on the CPU in float64 (reproducible samples); other devices are ignored."""

    def rate_point(self, rate: int) -> int:
        return min(len(self.cfg.rate_points) - 1, rate * len(self.cfg.rate_points) // 256)

    def _grid(self, height: int, width: int, r: int) -> tuple[int, int]:
        return latent_size(height, width, self.factor * 2 ** self.cfg.rate_points[r][0], self.multiple)

    def analyze(self, img: np.ndarray, caption: str | None = None, seed: int = 0) -> _Analysis:
        encode_global(caption, seed)  # validate early: clear errors before any work
        caption = None if caption is None else normalize_caption(caption)  # exactly what the stream stores
        h, w = img.shape[:2]
        x = pad_to_multiple(to_tensor(img), self.multiple)
        with torch.no_grad():
            latent = self.ae.encode(x)
            idx = [self.net.quantizers[r].lookup(self.net.hyper[r](latent))[1][0].numpy().astype(np.int64)
                   for r in range(len(self.cfg.rate_points))]
        return _Analysis(h, w, idx, caption, seed)

    def code(self, a: _Analysis, rate: int, exact: bool = True) -> Encoded:
        r = self.rate_point(rate)
        local = fixed_length.pack(a.indices[r], self.cfg.rate_points[r][1])
        glob = encode_global(a.caption, a.seed)
        return Encoded(rate, [local, glob], {"local": 8.0 * len(local), "global": 8.0 * len(glob)},
                       state=(r, a.indices[r], a.caption, a.seed))

    def reconstruct(self, a: _Analysis, enc: Encoded) -> np.ndarray:
        r, idx, caption, seed = enc.state
        return self._sample(idx, r, caption, seed, a.height, a.width, DEFAULT_STEPS, DEFAULT_GUIDANCE, None)

    def decode(self, height: int, width: int, rate: int, sections: list[bytes], steps: int | None = None,
               guidance: float | None = None, progress: Progress | None = None) -> np.ndarray:
        """Sample the image; ``steps``/``guidance`` override the defaults the encoder's preview used."""
        if steps is not None and not 1 <= steps <= 1000:
            raise ValueError("steps must be in 1..1000")
        if guidance is not None and not 0.0 <= guidance <= 30.0:
            raise ValueError("guidance must be in 0..30")
        if len(sections) != 2:
            raise MalformedStream(f"perco streams have 2 sections, this one has {len(sections)}")
        r = self.rate_point(rate)
        gh, gw = self._grid(height, width, r)
        idx = fixed_length.unpack(sections[0], gh * gw, self.cfg.rate_points[r][1]).reshape(gh, gw)
        caption, seed = decode_global(sections[1])
        return self._sample(idx, r, caption, seed, height, width, steps or DEFAULT_STEPS,
                            DEFAULT_GUIDANCE if guidance is None else guidance, progress)

    def text_embedding(self, caption: str | None) -> torch.Tensor | None:
        if caption is None:
            return None
        from gencodec.nn.text_encoder import embed_captions

        return embed_captions([caption]).to(torch.float64)

    def _sample(self, idx: np.ndarray, r: int, caption: str | None, seed: int, height: int, width: int, steps: int,
                guidance: float, progress: Progress | None) -> np.ndarray:
        text = self.text_embedding(caption)
        net = self.net64
        with parameter_island():
            cond = net.condition_from_indices(torch.from_numpy(idx)[None], r)
            rate = torch.tensor([r])

            def v_text(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
                return net.denoiser(x, s.to(x.dtype), cond, text, rate)

            def v_null(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
                return net.denoiser(x, s.to(x.dtype), cond, None, rate)

            v_fn = guided(v_text, v_null if text is not None else None, guidance)
            gen = torch.Generator().manual_seed(seed)
            shape = (1, self.cfg.latent_dim, *cond.shape[-2:])
            latent = ddim_sample(v_fn, shape, steps, gen, progress, dtype=torch.float64)
            x = self.decoder64(F.normalize(latent.double(), dim=1))
        return to_uint8(x, height, width)


def build(entry: WeightsEntry, tensors: dict[str, torch.Tensor], dependency: Dependency) -> PerCoCodec:
    return PerCoCodec(entry, tensors, dependency)
