"""Every training stage runs a few steps on tiny models, checkpoints, resumes exactly and exports
to weights the codecs load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import gencodec
from gencodec.nn.glc import GLCConfig
from gencodec.nn.pixel_hyperprior import HyperpriorConfig
from gencodec.nn.vqgan import AutoencoderConfig
from gencodec.training.loop import run
from gencodec.training.stages.autoencoder import AutoencoderStage, AutoencoderTrainConfig
from gencodec.training.stages.glc_joint import GLCJointStage, GLCJointTrainConfig
from gencodec.training.stages.glc_latent import GLCLatentStage, GLCLatentTrainConfig
from gencodec.training.stages.hyperprior import HyperpriorStage, HyperpriorTrainConfig

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
TINY_AE = AutoencoderConfig(channels=(8, 8, 16, 16), latent_dim=8, codebook_size=32, decoder_depth=(1, 1, 1, 1))
TINY_GLC = GLCConfig(latent_dim=8, hidden=16, m=8, hyper_hidden=8, z_dim=4, hyper_codebook=16, n_rates=3)


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory) -> str:
    """Three synthetic 160x160 photos-to-be (smooth gradients, shapes, noise): never Kodak."""
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    for i in range(3):
        yy, xx = np.mgrid[0:160, 0:160] / 160.0
        base = np.stack([yy, xx, (xx + yy) / 2], -1) * rng.uniform(0.3, 1.0, 3) * 255
        im = Image.fromarray((base + rng.normal(0, 8, base.shape)).clip(0, 255).astype(np.uint8))
        ImageDraw.Draw(im).ellipse((20 + 10 * i, 30, 110, 120 + 10 * i), fill=tuple(rng.integers(0, 255, 3).tolist()))
        im.save(root / f"synthetic_{i}.png")
    return str(root)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_hyperprior_resume_is_exact(tmp_path, train_dir) -> None:
    def stage() -> HyperpriorStage:
        cfg = HyperpriorTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=4, bf16=False)
        return HyperpriorStage(cfg, HyperpriorConfig(n=8, m=8, n_rates=3))

    run(stage(), tmp_path / "straight", minutes=5)
    assert run(stage(), tmp_path / "split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(stage(), tmp_path / "split", minutes=5, log_every=1) == 4
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))
    steps = [line.split(",")[0] for line in (tmp_path / "split" / "log.csv").read_text().splitlines()]
    assert steps == ["step", "1", "2", "3", "4"]


def test_glc_pipeline_trains_exports_and_codes(tmp_path, monkeypatch, train_dir) -> None:
    from gencodec.training.export import export_autoencoder, export_glc

    ae_cfg = AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=6, gan_start=0.3,
                                    nonbinary_start=0.6, bf16=False)
    run(AutoencoderStage(ae_cfg, TINY_AE), tmp_path / "ae", minutes=5)  # passes through all three GAN phases
    lat_cfg = GLCLatentTrainConfig(autoencoder=str(tmp_path / "ae" / "checkpoint"), data=[train_dir], crop=8, batch=2,
                                   total_steps=3, lambdas=(0.01, 0.1, 1.0), bf16=False)
    run(GLCLatentStage(lat_cfg, TINY_GLC), tmp_path / "glc2", minutes=5)
    joint_cfg = GLCJointTrainConfig(autoencoder=str(tmp_path / "ae" / "checkpoint"),
                                    latent_codec=str(tmp_path / "glc2" / "checkpoint"), data=[train_dir], crop=128,
                                    batch=1, total_steps=2, lambdas=(0.01, 0.1, 1.0), bf16=False)
    run(GLCJointStage(joint_cfg), tmp_path / "glc3", minutes=5)
    wdir = tmp_path / "weights"
    export_autoencoder(tmp_path / "ae" / "checkpoint", wdir)
    export_glc(tmp_path / "glc3" / "checkpoint", wdir, decoder_ckpt_module="decoder")
    warm = AutoencoderStage(AutoencoderTrainConfig(data=[train_dir], init=str(wdir / "autoencoder.safetensors")),
                            TINY_AE)  # a later session resumes from shipped weights (no optimizer state)
    shipped = load_file(str(wdir / "autoencoder.safetensors"))
    state = warm.model.state_dict()
    assert shipped and set(shipped) <= set(state)
    assert all(torch.equal(state[k].float(), v.float()) for k, v in shipped.items())
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(wdir))
    from PIL import Image

    img = np.asarray(Image.open(TEST_DATA / "kodim04_odd.png").convert("RGB"))
    for rate in (0, 255):
        res = gencodec.encode(img, model="glc", rate=rate, weights_dir=wdir)
        assert np.array_equal(gencodec.decode(res.data, weights_dir=wdir), res.reconstruction)
        assert res.section_bytes["hyper"] == 1  # one z position (77x100 -> 128x128), 4 bits -> 1 byte


def test_csv_log_grows_new_columns(tmp_path) -> None:
    from gencodec.training.loop import append_row

    p = tmp_path / "log.csv"
    append_row(p, {"step": 1, "loss": 0.5})
    append_row(p, {"step": 2, "loss": 0.4, "g_adv": 1.0})  # the GAN phase adds a column
    assert p.read_text().splitlines() == ["step,loss,g_adv", "1,0.5,", "2,0.4,1.0"]
