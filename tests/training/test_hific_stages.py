"""hific-rd and hific-gan run on tiny models, resume exactly, and export weights the codec decodes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gencodec.metrics.backbone import default_backbone
from gencodec.models.hific import build
from gencodec.models.weights import load_weights, read_manifest
from gencodec.nn.hific import HiFiCConfig
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder
from gencodec.training.checkpoint import save_checkpoint
from gencodec.training.loop import run
from gencodec.training.stages.hific_gan import HiFiCGANStage, HiFiCGANTrainConfig, load_hific
from gencodec.training.stages.hific_rd import HiFiCRDStage, HiFiCRDTrainConfig

TINY = HiFiCConfig(n=8, m=12, groups=(2, 2, 4, 4), ctx_hidden=8, param_hidden=8, n_rates=3)
TINY_AE = AutoencoderConfig(channels=(8, 8, 16, 16), latent_dim=8, codebook_size=32, decoder_depth=(1, 1, 1, 1))


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory) -> str:
    """Three synthetic 96x96 images (gradients, a disc, noise): never Kodak."""
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    for i in range(3):
        yy, xx = np.mgrid[0:96, 0:96] / 96.0
        base = np.stack([yy, xx, (xx + yy) / 2], -1) * rng.uniform(0.3, 1.0, 3) * 255
        im = Image.fromarray((base + rng.normal(0, 8, base.shape)).clip(0, 255).astype(np.uint8))
        ImageDraw.Draw(im).ellipse((10 + 5 * i, 15, 60, 70 + 5 * i), fill=tuple(rng.integers(0, 255, 3).tolist()))
        im.save(root / f"synthetic_{i}.png")
    return str(root)


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> str:
    """A random tiny VQ autoencoder saved like a stage-I run (it only labels the discriminator's classes)."""
    torch.manual_seed(0)
    ae = VQAutoencoder(TINY_AE)
    path = tmp_path_factory.mktemp("ae") / "checkpoint"
    save_checkpoint(path, {"model": ae}, {}, {"step": 0, "config": {"model": TINY_AE.to_dict(), "train": {}}})
    return str(path)


def _rd(train_dir: str, steps: int = 4) -> HiFiCRDStage:
    cfg = HiFiCRDTrainConfig(data=[train_dir], init="", crop=64, batch=2, total_steps=steps,
                             targets=(0.05, 0.1, 0.2), bf16=False)
    return HiFiCRDStage(cfg, TINY, backbone=default_backbone())


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_hific_rd_step_and_exact_resume(tmp_path, train_dir) -> None:
    stage = _rd(train_dir)
    metrics = stage.train_step(0)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    assert {"bpp", "rec", "per", "style", "above"} <= metrics.keys()
    run(_rd(train_dir), tmp_path / "straight", minutes=5)
    assert run(_rd(train_dir), tmp_path / "split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(_rd(train_dir), tmp_path / "split", minutes=5, log_every=1) == 4
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))


def test_target_rate_switches_lambda(train_dir) -> None:
    """Eq. 2: lambda_above applies to samples whose real rate exceeds the target of their rate index."""
    stage = _rd(train_dir, steps=100)
    t = torch.tensor([0.0, 0.5, 2.0])
    assert torch.allclose(stage.target(t), torch.tensor([0.05, math.sqrt(0.05 * 0.1), 0.2]))
    assert stage.warm(0) == stage.cfg.warm_factor and stage.warm(99) == 1.0


def test_init_copies_the_hyperprior_transforms(tiny_weights, train_dir) -> None:
    cfg = HiFiCRDTrainConfig(data=[train_dir], init=str(tiny_weights / "hyperprior.safetensors"), crop=64,
                             targets=(0.03, 0.04, 0.05, 0.07, 0.1, 0.2))
    stage = HiFiCRDStage(cfg, HiFiCConfig(n=16, m=24, groups=(4, 4, 8, 8), ctx_hidden=8, param_hidden=8),
                         backbone=default_backbone())
    shipped = load_file(str(tiny_weights / "hyperprior.safetensors"))
    state = stage.model.state_dict()
    assert stage.initialized == len(shipped) - 1  # everything but the frozen z table
    assert all(torch.equal(state[k], v.float()) for k, v in shipped.items() if k != "z_prior.table")


def test_hific_gan_step_resume_and_export(tmp_path, train_dir, autoencoder) -> None:
    from gencodec.training.export import export_hific

    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)
    rd = load_file(str(tmp_path / "rd" / "checkpoint" / "model.safetensors"))

    def gan() -> HiFiCGANStage:
        cfg = HiFiCGANTrainConfig(init=str(tmp_path / "rd" / "checkpoint"), autoencoder=autoencoder,
                                  data=[train_dir], crop=64, batch=2, total_steps=4, lr=1e-3, bf16=False)
        return HiFiCGANStage(cfg, backbone=default_backbone())

    metrics = gan().train_step(0)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    run(gan(), tmp_path / "straight", minutes=5)
    assert run(gan(), tmp_path / "split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(gan(), tmp_path / "split", minutes=5, log_every=1) == 4
    tuned = _weights(tmp_path / "split")
    assert _same(_weights(tmp_path / "straight"), tuned)
    for k, v in rd.items():  # only the decoder moved
        assert torch.equal(tuned[k], v) != k.startswith("model.g_s."), k

    wdir = tmp_path / "weights"
    entry = export_hific(tmp_path / "split" / "checkpoint", wdir)
    assert not any(k.startswith("nb_d") for k in load_file(str(wdir / "hific.safetensors")))
    codec = build(read_manifest(wdir)["hific"], load_weights(read_manifest(wdir)["hific"], wdir))
    assert entry["config"]["model"] == TINY.to_dict()
    img = np.asarray(np.random.default_rng(0).integers(0, 256, (37, 70, 3)), dtype=np.uint8)
    a = codec.analyze(img)
    enc = codec.code(a, 200)
    assert np.array_equal(codec.decode(37, 70, 200, enc.sections), codec.reconstruct(a, enc))
    again, _ = load_hific(wdir / "hific.safetensors")  # stage 2 can continue from shipped weights
    assert again.cfg == TINY
