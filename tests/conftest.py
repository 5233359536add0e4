"""Shared fixtures: tiny seeded models exported like real weights, small images. No network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def crop_image() -> np.ndarray:
    """192x128 crop of Kodak kodim23 (evaluation image, never used for training)."""
    return np.asarray(Image.open(DATA / "kodim23_crop.png").convert("RGB"))


@pytest.fixture(scope="session")
def odd_image() -> np.ndarray:
    """100x77 crop of kodim04: sides that are not multiples of anything."""
    return np.asarray(Image.open(DATA / "kodim04_odd.png").convert("RGB"))


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder holding a tiny random-init 'hyperprior' exported like the real one."""
    from gencodec.nn.pixel_hyperprior import HyperpriorConfig, PixelHyperprior
    from gencodec.training.checkpoint import save_checkpoint
    from gencodec.training.export import export_hyperprior

    torch.manual_seed(0)
    cfg = HyperpriorConfig(n=16, m=24)
    model = PixelHyperprior(cfg)
    with torch.no_grad():  # make the latents non-trivial
        model.y_gain.log_gain.add_(torch.linspace(1.0, 3.0, cfg.n_rates).unsqueeze(1))
    root = tmp_path_factory.mktemp("tiny")
    ckpt = root / "ckpt"
    opt = torch.optim.Adam(model.parameters())
    save_checkpoint(
        ckpt,
        {"model": model},
        {"main": opt},
        {"step": 0, "sampler": {}, "config": {"model": cfg.to_dict(), "train": {}}},
    )
    wdir = root / "weights"
    wdir.mkdir()
    export_hyperprior(ckpt, wdir, note="tiny test model")
    return wdir
