"""Encode every training image once with the frozen autoencoder; serve random latent crops.

GLC stage II works purely in latent space, so the expensive encoder runs
once per image instead of once per step. Images are cropped (top-left) to
multiples of 16 before encoding; crops are aligned to the latent grid.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from gencodec.nn.precision import cpu_autocast
from gencodec.nn.vqgan import VQAutoencoder
from gencodec.training.data import assert_not_kodak


def _encoder_key(ae: VQAutoencoder, files: list[Path], max_side: int) -> str:
    """Hash of everything the cached latents depend on: E, the codebook, the files and the resize rule."""
    h = hashlib.sha256(f"{max_side}".encode())
    for name, t in sorted({**ae.encoder.state_dict(), **ae.quantizer.state_dict()}.items()):
        if not name.endswith("usage"):
            h.update(name.encode())
            h.update(t.detach().float().contiguous().numpy().tobytes())
    for f in files:
        h.update(f"{Path(f).resolve()}:{Path(f).stat().st_size}".encode())
    return h.hexdigest()[:16]


def _encode_one(ae: VQAutoencoder, path: Path, max_side: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(latent float16, code indices int16) of one image, or None when it is smaller than one latent cell."""
    f = ae.cfg.downsample
    with Image.open(path) as im:
        im = im.convert("RGB")
        if max(im.size) > max_side:
            s = max_side / max(im.size)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.BICUBIC)
        arr = np.asarray(im)
    h, w = (arr.shape[0] // f) * f, (arr.shape[1] // f) * f
    if h == 0 or w == 0:
        return None
    x = torch.from_numpy(arr[:h, :w].copy()).permute(2, 0, 1).unsqueeze(0).float() / 255
    with cpu_autocast(None):
        lat = ae.encode(x)
    _, idx = ae.quantize(lat)
    return lat[0].to(torch.float16), idx[0].to(torch.int16)


def _encode_all(ae: VQAutoencoder, files: list[Path], max_side: int) -> tuple[list, list, list[Path]]:
    latents, indices, kept = [], [], []
    ae.eval()
    start = time.monotonic()
    with torch.no_grad():
        for n, path in enumerate(files, 1):
            encoded = _encode_one(ae, path, max_side)
            if encoded is not None:
                latents.append(encoded[0])
                indices.append(encoded[1])
                kept.append(Path(path))
            if n % 100 == 0 or n == len(files):  # a skipped image still counts, so the last line always prints
                print(f"encoding training latents: {n}/{len(files)} images, {time.monotonic() - start:.0f} s",
                      flush=True)
    return latents, indices, kept


class LatentCache:
    """Latents of every training image, optionally stored on disk (``store``) so later runs on
    the same frozen encoder skip the encoding pass (several minutes on this CPU)."""

    def __init__(self, ae: VQAutoencoder, files: list[Path], crop: int, seed: int, max_side: int = 768,
                 store: Path | None = None) -> None:
        assert_not_kodak(files)
        self.crop = crop  # in latent positions
        self.last_picks: list[int] = []  # positions in ``files`` of the last batch (this rank's slice)
        latents, indices, kept = self._load_or_encode(ae, files, max_side, store)
        keep = [i for i, lt in enumerate(latents) if lt.shape[1] >= crop and lt.shape[2] >= crop]
        self.latents: list[torch.Tensor] = [latents[i] for i in keep]
        self.indices: list[torch.Tensor] = [indices[i] for i in keep]
        self.files: list[Path] = [kept[i] for i in keep]  # the image of each cached latent
        if not self.latents:
            raise ValueError("no training image is large enough for the latent crop")
        self.rng = np.random.default_rng(seed)
        self.rank, self.world = 0, 1

    @staticmethod
    def _load_or_encode(ae: VQAutoencoder, files: list[Path], max_side: int, store: Path | None):
        if store is None:
            return _encode_all(ae, files, max_side)
        path = Path(store) / f"latents_{_encoder_key(ae, files, max_side)}.safetensors"
        if path.exists():
            t = load_file(str(path))
            with safe_open(str(path), "pt") as fh:
                names = json.loads(fh.metadata()["files"])
            return [t[f"l{i}"] for i in range(len(names))], [t[f"i{i}"] for i in range(len(names))], \
                [Path(n) for n in names]
        latents, indices, kept = _encode_all(ae, files, max_side)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {**{f"l{i}": v for i, v in enumerate(latents)}, **{f"i{i}": v for i, v in enumerate(indices)}}
        tmp = path.with_suffix(".tmp")
        save_file(tensors, str(tmp), metadata={"files": json.dumps([str(k) for k in kept])})
        tmp.replace(path)
        return latents, indices, kept

    def set_dist(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return len(self.latents)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents (B, C, crop, crop) float32, indices (B, crop, crop) int64): this rank's slice."""
        lat, idx = [], []
        picks = self.rng.integers(0, len(self.latents), size=size * self.world)
        self.last_picks = [int(i) for j, i in enumerate(picks) if j // size == self.rank]
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
