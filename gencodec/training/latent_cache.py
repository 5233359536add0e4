"""Encode every training image once with the frozen autoencoder; serve random latent crops.

GLC stage II works purely in latent space, so the expensive encoder runs
once per image instead of once per step. Images are cropped (top-left) to
multiples of 16 before encoding; crops are aligned to the latent grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gencodec.nn.vqgan import VQAutoencoder
from gencodec.training.data import assert_not_kodak


class LatentCache:
    def __init__(self, ae: VQAutoencoder, files: list[Path], crop: int, seed: int, max_side: int = 768) -> None:
        assert_not_kodak(files)
        self.crop = crop  # in latent positions
        self.latents: list[torch.Tensor] = []
        self.indices: list[torch.Tensor] = []
        f = ae.cfg.downsample
        ae.eval()
        with torch.no_grad():
            for path in files:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    if max(im.size) > max_side:
                        s = max_side / max(im.size)
                        im = im.resize((round(im.width * s), round(im.height * s)), Image.BICUBIC)
                    arr = np.asarray(im)
                h, w = (arr.shape[0] // f) * f, (arr.shape[1] // f) * f
                if h // f < crop or w // f < crop:
                    continue
                x = torch.from_numpy(arr[:h, :w].copy()).permute(2, 0, 1).unsqueeze(0).float() / 255
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    lat = ae.encode(x)
                _, idx = ae.quantize(lat)
                self.latents.append(lat[0].to(torch.float16))
                self.indices.append(idx[0].to(torch.int16))
        if not self.latents:
            raise ValueError("no training image is large enough for the latent crop")
        self.rng = np.random.default_rng(seed)
        self.rank, self.world = 0, 1

    def set_dist(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return len(self.latents)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents (B, C, crop, crop) float32, indices (B, crop, crop) int64): this rank's slice."""
        lat, idx = [], []
        picks = self.rng.integers(0, len(self.latents), size=size * self.world)
        for j, i in enumerate(picks):
            lt, it = self.latents[i], self.indices[i]
            y0 = int(self.rng.integers(0, lt.shape[1] - self.crop + 1))
            x0 = int(self.rng.integers(0, lt.shape[2] - self.crop + 1))
            if j // size != self.rank:
                continue
            lat.append(lt[:, y0 : y0 + self.crop, x0 : x0 + self.crop].float())
            idx.append(it[y0 : y0 + self.crop, x0 : x0 + self.crop].long())
        return torch.stack(lat), torch.stack(idx)

    def get_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
