"""Training images held in memory and served as random crops.

All decoding happens once at start-up; each batch is a set of random crops
(with horizontal flips) drawn with a numpy Generator whose state is saved in
the checkpoint, so a resumed run sees exactly the batches it would have seen.
A sampler may decorate a fraction of its crops (``decorate``: e.g. ConHa training pastes rendered
text and line art on some crops); those draws come from the same Generator, so resuming stays exact.
Kodak is never a training source (``assert_not_kodak``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
HELDOUT_FOLDER = "sun_hays80"  # every HELDOUT_EVERY-th photo (sorted by name) is the ConHa test set
HELDOUT_EVERY = 5


def heldout_photos(files: list[Path]) -> set[Path]:
    """The ConHa test photos among ``files``: every 5th file (0, 5, 10, ...) of each ``sun_hays80`` folder,
    by name."""
    folders: dict[Path, list[Path]] = {}
    for p in files:
        if p.parent.name == HELDOUT_FOLDER:
            folders.setdefault(p.parent, []).append(p)
    return {p for group in folders.values() for p in sorted(group, key=lambda q: q.name)[::HELDOUT_EVERY]}


def list_images(roots: list[Path], heldout: bool = False) -> list[Path]:
    """Training images under ``roots`` (sorted), without the held-out ConHa test photos;
    ``heldout=True`` lists only those instead."""
    files: list[Path] = []
    for root in roots:
        found = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        held = heldout_photos(found)
        files += [p for p in found if (p in held) == heldout]
    return files


def assert_not_kodak(files: list[Path]) -> None:
    bad = [f for f in files if "kodak" in str(f).lower() or f.name.startswith("kodim")]
    if bad:
        raise ValueError(f"refusing to train on Kodak evaluation images ({bad[0]})")


class CropSampler:
    """Random crops from a list of images loaded as uint8 HWC arrays."""

    def __init__(self, files: list[Path], crop: int, seed: int, min_side: int | None = None,
                 decorate: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 decorate_fraction: float = 0.0) -> None:
        assert_not_kodak(files)
        if not 0.0 <= decorate_fraction <= 1.0 or (decorate_fraction > 0 and decorate is None):
            raise ValueError(f"decorate_fraction must be in [0, 1] with a decorate function, got {decorate_fraction}")
        self.crop = crop
        self.decorate, self.decorate_fraction = decorate, decorate_fraction
        self.images: list[np.ndarray] = []
        self.names: list[str] = []
        need = max(crop, min_side or crop)
        for f in files:
            with Image.open(f) as im:
                im = im.convert("RGB")
                if min(im.size) < need:
                    s = need / min(im.size)
                    im = im.resize((max(need, round(im.width * s)), max(need, round(im.height * s))), Image.BICUBIC)
                self.images.append(np.asarray(im, dtype=np.uint8))
                self.names.append(f.name)
        if not self.images:
            raise ValueError("no training images found")
        self.rng = np.random.default_rng(seed)
        self.rank, self.world = 0, 1

    def set_dist(self, rank: int, world: int) -> None:
        """Under data parallelism every rank draws the global batch and keeps its slice."""
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, size: int) -> tuple[torch.Tensor, list[int]]:
        """Return (B, 3, crop, crop) floats in [0, 1] and the image indices used (this rank's slice)."""
        x, idx = self._global_batch(size * self.world)
        lo = self.rank * size
        return x[lo : lo + size].contiguous(), idx[lo : lo + size]

    def _global_batch(self, size: int) -> tuple[torch.Tensor, list[int]]:
        idx = self.rng.integers(0, len(self.images), size=size)
        out = np.empty((size, self.crop, self.crop, 3), dtype=np.uint8)
        for j, i in enumerate(idx):
            im = self.images[i]
            h, w = im.shape[:2]
            y0 = int(self.rng.integers(0, h - self.crop + 1))
            x0 = int(self.rng.integers(0, w - self.crop + 1))
            patch = im[y0 : y0 + self.crop, x0 : x0 + self.crop]
            if self.rng.random() < 0.5:
                patch = patch[:, ::-1]
            if self.decorate is not None and self.decorate_fraction > 0 and self.rng.random() < self.decorate_fraction:
                patch = self.decorate(np.ascontiguousarray(patch), self.rng)
            out[j] = patch
        x = torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)
        return x.contiguous(), [int(i) for i in idx]

    def get_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
