"""DLF training stages on tiny models: a finite step, exact resume (bf16), export to weights the codec loads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gencodec.nn.discriminator import NonBinaryDiscriminator
from gencodec.nn.dlf import DLFConfig
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder
from gencodec.training.checkpoint import save_checkpoint
from gencodec.training.loop import run
from gencodec.training.stages.dlf_align import DLFAlignStage, DLFAlignTrainConfig, warm_scale
from gencodec.training.stages.dlf_joint import DLFJointStage, DLFJointTrainConfig

TINY_AE = AutoencoderConfig(channels=(8, 8, 16, 16), latent_dim=8, codebook_size=32, decoder_depth=(1, 1, 1, 1))
TINY_DLF = DLFConfig(latent_dim=8, dim=16, heads=2, window=4, detail_window=2, n_tokens=3, code_dim=4, codebook=16,
                     depth=1, sem_dec_depth=1, dec_depth=1, m=8, hyper_hidden=8, z_dim=4, hyper_codebook=8,
                     prior_hidden=16, adaptor_hidden=16, n_rates=3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[str, str]:
    """(training folder of three synthetic 160x160 images, a random tiny stage-I checkpoint)."""
    from PIL import ImageDraw

    root = tmp_path_factory.mktemp("dlf")
    data = root / "train"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        yy, xx = np.mgrid[0:160, 0:160] / 160.0
        base = np.stack([yy, xx, (xx + yy) / 2], -1) * rng.uniform(0.3, 1.0, 3) * 255
        im = Image.fromarray((base + rng.normal(0, 8, base.shape)).clip(0, 255).astype(np.uint8))
        ImageDraw.Draw(im).ellipse((20 + 10 * i, 30, 110, 120 + 10 * i), fill=tuple(rng.integers(0, 255, 3).tolist()))
        im.save(data / f"synthetic_{i}.png")
    torch.manual_seed(0)
    ae = VQAutoencoder(TINY_AE)
    ckpt = root / "ae" / "checkpoint"
    save_checkpoint(ckpt, {"model": ae, "nb_d": NonBinaryDiscriminator(TINY_AE.codebook_size)}, {},
                    {"step": 0, "sampler": {}, "config": {"model": TINY_AE.to_dict(), "train": {}}})
    return str(data), str(ckpt)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _losses(run_dir: Path) -> list[float]:
    return [float(r["loss"]) for r in csv.DictReader((run_dir / "log.csv").open())]


def test_lambda_warm_up_follows_the_paper() -> None:
    warm = (0.001, 2.0, 24.0)
    assert warm_scale(0, 500_000, warm, 0.02, 0.2) == pytest.approx(0.001 / 24)
    assert warm_scale(10_000, 500_000, warm, 0.02, 0.2) == pytest.approx(2.0 / 24)
    assert warm_scale(55_000, 500_000, warm, 0.02, 0.2) == pytest.approx(13.0 / 24)
    assert warm_scale(100_000, 500_000, warm, 0.02, 0.2) == 1.0


def test_dlf_stages_train_resume_exactly_and_export(tmp_path, setup) -> None:
    data, ae_ckpt = setup

    def align() -> DLFAlignStage:
        cfg = DLFAlignTrainConfig(autoencoder=ae_ckpt, data=[data], crop=8, batch=2, total_steps=4,
                                  lambdas=(30.0, 10.0, 3.0), restart_every=3)
        return DLFAlignStage(cfg, TINY_DLF)

    run(align(), tmp_path / "a_straight", minutes=5, log_every=1)
    assert run(align(), tmp_path / "a_split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(align(), tmp_path / "a_split", minutes=5, log_every=1) == 4
    losses = _losses(tmp_path / "a_straight")
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert _losses(tmp_path / "a_split") == losses  # the steps after the resume reproduce the straight run
    assert _same(_weights(tmp_path / "a_straight"), _weights(tmp_path / "a_split"))

    def joint() -> DLFJointStage:
        cfg = DLFJointTrainConfig(autoencoder=ae_ckpt, align=str(tmp_path / "a_split" / "checkpoint"), data=[data],
                                  crop=128, batch=1, total_steps=2, restart_every=1)
        return DLFJointStage(cfg)

    stage = joint()
    assert stage.lambdas == (30.0, 10.0, 3.0)  # inherited from stage 1
    run(stage, tmp_path / "j_straight", minutes=5, log_every=1)
    run(joint(), tmp_path / "j_split", minutes=5, stop_at=1, log_every=1)
    run(joint(), tmp_path / "j_split", minutes=5, log_every=1)
    losses = _losses(tmp_path / "j_straight")
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert _losses(tmp_path / "j_split") == losses
    assert _same(_weights(tmp_path / "j_straight"), _weights(tmp_path / "j_split"))

    from gencodec.models.dlf import build
    from gencodec.models.weights import load_weights, read_manifest
    from gencodec.training.export import export_autoencoder, export_dlf

    wdir = tmp_path / "weights"
    export_autoencoder(Path(ae_ckpt), wdir)
    entry = export_dlf(tmp_path / "j_split" / "checkpoint", wdir, decoder_ckpt_module="decoder")
    shipped = load_file(str(wdir / entry["file"]))
    assert not any(k.endswith(("ema_count", "ema_sum")) for k in shipped)
    assert shipped["codec.sem_vq.codebook"].dtype == torch.float32
    manifest = read_manifest(wdir)
    assert json.loads((wdir / "manifest.json").read_text())["weights"][0]["id"] == "autoencoder"
    codec = build(manifest["dlf"], load_weights(manifest["dlf"], wdir),
                  lambda dep: (manifest[dep], load_weights(manifest[dep], wdir)))
    img = np.asarray(Image.open(Path(data) / "synthetic_0.png").convert("RGB"))[:40, :72]
    a = codec.analyze(img)
    enc = codec.code(a, 200)
    assert np.array_equal(codec.decode(40, 72, 200, enc.sections), codec.reconstruct(a, enc))
    warm_cfg = DLFAlignTrainConfig(autoencoder=ae_ckpt, data=[data], crop=8, batch=2, lambdas=(30.0, 10.0, 3.0),
                                   init=str(wdir / entry["file"]))
    warm = DLFAlignStage(warm_cfg, TINY_DLF)
    state = warm.model.state_dict()  # a later session continues stage 1 from the shipped weights
    assert all(torch.equal(state[k[len("codec."):]], v.float()) for k, v in shipped.items() if k.startswith("codec."))
    assert torch.equal(warm.model.sem_vq.ema_sum, warm.model.sem_vq.codebook)  # EMA restarted at the codes

    # stage 2 continues from the shipped weights: codec, fine-tuned decoder, and no codebook re-seeded
    cfg = DLFJointTrainConfig(autoencoder=ae_ckpt, align=str(wdir / entry["file"]), data=[data], crop=128,
                              batch=1, total_steps=2, restart_every=1)
    cont = DLFJointStage(cfg)
    assert cont.lambdas == (30.0, 10.0, 3.0)  # from the manifest's train config
    dec = {k[len("decoder."):]: v for k, v in shipped.items() if k.startswith("decoder.")}
    assert dec and all(torch.equal(cont.decoder.state_dict()[k], v.float()) for k, v in dec.items())
    hyper = cont.model.hyper_vq.codebook.detach().clone()
    assert cont.train_step(0)["restarted"] == 0.0  # usage is not shipped: every code starts alive
    assert torch.allclose(cont.model.hyper_vq.codebook, hyper, atol=1e-3)  # moved by one Adam step only
