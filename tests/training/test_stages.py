"""Every training stage runs a few steps on tiny models, checkpoints, resumes exactly and exports
to weights the codecs load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import gencodec
from gencodec.nn.denoiser import DenoiserConfig
from gencodec.nn.glc import GLCConfig
from gencodec.nn.perco import PerCoConfig
from gencodec.nn.pixel_hyperprior import HyperpriorConfig
from gencodec.nn.vqgan import AutoencoderConfig
from gencodec.training.loop import run
from gencodec.training.stages.autoencoder import AutoencoderStage, AutoencoderTrainConfig
from gencodec.training.stages.glc_joint import GLCJointStage, GLCJointTrainConfig
from gencodec.training.stages.glc_latent import GLCLatentStage, GLCLatentTrainConfig
from gencodec.training.stages.hyperprior import HyperpriorStage, HyperpriorTrainConfig
from gencodec.training.stages.perco import PerCoStage, PerCoTrainConfig

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
TINY_AE = AutoencoderConfig(channels=(8, 8, 16, 16), latent_dim=8, codebook_size=32, decoder_depth=(1, 1, 1, 1))
TINY_PERCO = PerCoConfig(latent_dim=8, code_dim=4, hidden=8, rate_points=((1, 16), (0, 4)),
                         denoiser=DenoiserConfig(latent_dim=8, cond_dim=4, channels=(8, 8), blocks=1, emb_dim=16,
                                                 n_rates=2))
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


def test_cli_stop_at_checkpoints_there_and_keeps_the_schedule(tmp_path, train_dir) -> None:
    from click.testing import CliRunner

    from gencodec.cli.main import cli

    run_dir = tmp_path / "run"
    args = ["train", "hyperprior", "--run", str(run_dir), "--threads", "1", "--set", f"data=[\"{train_dir}\"]",
            "--set", "crop=64", "--set", "batch=1", "--set", "total_steps=9", "--set", "bf16=false"]
    r = CliRunner().invoke(cli, [*args, "--stop-at", "2"])
    assert r.exit_code == 0, r.output
    assert "stopped at step 2/9" in r.output
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2 and state["config"]["train"]["total_steps"] == 9
    r = CliRunner().invoke(cli, [*args, "--stop-at", "3"])
    assert r.exit_code == 0 and "stopped at step 3/9" in r.output
    r = CliRunner().invoke(cli, [*args, "--stop-at", "0"])
    assert r.exit_code == 2 and "Traceback" not in r.output


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
                                    batch=1, total_steps=2, bf16=False)
    joint = GLCJointStage(joint_cfg)
    assert joint.lambdas == (0.01, 0.1, 1.0)  # stage III inherits stage II's lambdas, so the rate range stays
    run(joint, tmp_path / "glc3", minutes=5)
    wdir = tmp_path / "weights"
    export_autoencoder(tmp_path / "ae" / "checkpoint", wdir)
    export_glc(tmp_path / "glc3" / "checkpoint", wdir, decoder_ckpt_module="decoder")
    warm = AutoencoderStage(AutoencoderTrainConfig(data=[train_dir], init=str(wdir / "autoencoder.safetensors"),
                                                   crop=64, batch=2, bf16=False),
                            TINY_AE)  # a later session resumes from shipped weights (no optimizer state)
    shipped = load_file(str(wdir / "autoencoder.safetensors"))
    state = warm.model.state_dict()
    assert shipped and set(shipped) <= set(state)
    assert all(torch.equal(state[k].float(), v.float()) for k, v in shipped.items())
    assert warm.train_step(0)["restarted"] == 0.0  # step 0 re-seeds dead codes: none after a warm start
    again = GLCJointStage(GLCJointTrainConfig(autoencoder=str(wdir / "autoencoder.safetensors"),
                                              latent_codec=str(wdir / "glc.safetensors"), data=[train_dir]))
    assert again.lambdas == (0.01, 0.1, 1.0)  # stage III continues from shipped weights on a fresh machine
    glc_shipped = load_file(str(wdir / "glc.safetensors"))
    codec_state, dec_state = again.model.state_dict(), again.decoder.state_dict()
    assert all(torch.equal(codec_state[k[6:]], v.float()) for k, v in glc_shipped.items() if k.startswith("codec."))
    assert all(torch.equal(dec_state[k[8:]], v.float()) for k, v in glc_shipped.items() if k.startswith("decoder."))
    assert any(k.startswith("decoder.") for k in glc_shipped)
    adapt = GLCLatentStage(GLCLatentTrainConfig(autoencoder=str(wdir / "autoencoder.safetensors"), data=[train_dir],
                                                init=str(wdir / "glc.safetensors"), crop=8, batch=2, bf16=False))
    adapted = adapt.model.state_dict()  # stage II can adapt the shipped codec (its decoder is left out)
    assert all(torch.equal(adapted[k[6:]], v.float()) for k, v in glc_shipped.items() if k.startswith("codec."))
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(wdir))
    from PIL import Image

    img = np.asarray(Image.open(TEST_DATA / "kodim04_odd.png").convert("RGB"))
    for rate in (0, 255):
        res = gencodec.encode(img, model="glc", rate=rate, weights_dir=wdir)
        assert np.array_equal(gencodec.decode(res.data, weights_dir=wdir), res.reconstruction)
        assert res.section_bytes["hyper"] == 1  # one z position (77x100 -> 128x128), 4 bits -> 1 byte
    _replacing_the_autoencoder_keeps_pinned_codecs(tmp_path, wdir, train_dir, img, res.data)


def _replacing_the_autoencoder_keeps_pinned_codecs(tmp_path: Path, wdir: Path, train_dir: str, img: np.ndarray,
                                                  stream: bytes) -> None:
    """A retrained autoencoder replaces the shared one; glc, pinned to the old one, keeps it and codes as before,
    and a codec trained on the old one can no longer be linked to the new one."""
    from gencodec.models.registry import _load_codec
    from gencodec.training.export import export_autoencoder, export_glc

    old_sha = json.loads((wdir / "manifest.json").read_text())["weights"]
    old_sha = next(e["sha256"] for e in old_sha if e["id"] == "autoencoder")
    cfg = AutoencoderTrainConfig(data=[train_dir], init=str(tmp_path / "ae" / "checkpoint"), crop=64, batch=2,
                                 total_steps=1, lr=1e-2, bf16=False)
    run(AutoencoderStage(cfg, TINY_AE), tmp_path / "ae_b", minutes=5)
    new = export_autoencoder(tmp_path / "ae_b" / "checkpoint", wdir)
    entries = {e["id"]: e for e in json.loads((wdir / "manifest.json").read_text())["weights"]}
    kept = f"autoencoder-{old_sha[:8]}"
    assert new["sha256"] != old_sha and entries[kept]["sha256"] == old_sha
    assert (wdir / f"{kept}.safetensors").exists() and not (wdir / "autoencoder.safetensors.partial").exists()
    assert entries["glc"]["config"]["autoencoder_weights"] == kept
    _load_codec.cache_clear()
    assert gencodec.encode(img, model="glc", rate=255, weights_dir=wdir).data == stream
    with pytest.raises(ValueError, match="export that autoencoder first"):
        export_glc(tmp_path / "glc3" / "checkpoint", wdir, decoder_ckpt_module="decoder")


@pytest.fixture(scope="module")
def glc_stage2(tmp_path_factory, train_dir) -> Path:
    """A tiny stage-I autoencoder run and a stage-II latent codec run on it (two steps each)."""
    root = tmp_path_factory.mktemp("glc_stage2")
    ae_cfg = AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=2, bf16=False)
    run(AutoencoderStage(ae_cfg, TINY_AE), root / "ae", minutes=5)
    lat_cfg = GLCLatentTrainConfig(autoencoder=str(root / "ae" / "checkpoint"), data=[train_dir], crop=8, batch=2,
                                   total_steps=2, lambdas=(0.01, 0.1, 1.0), bf16=False)
    run(GLCLatentStage(lat_cfg, TINY_GLC), root / "glc2", minutes=5)
    return root


def _joint(root: Path, train_dir: str, **kw) -> GLCJointStage:
    settings = {"crop": 128, "batch": 1, "total_steps": 3, "lr": 1e-3, "bf16": False, **kw}
    return GLCJointStage(GLCJointTrainConfig(autoencoder=str(root / "ae" / "checkpoint"),
                                             latent_codec=str(root / "glc2" / "checkpoint"), data=[train_dir],
                                             **settings))


def test_glc_latent_init_starts_the_codec_from_a_run_and_trains_it(glc_stage2, train_dir) -> None:
    """Stage II adapting a trained codec to a retrained encoder starts from the codec's weights and config."""
    from gencodec.training.checkpoint import load_module_weights

    base = GLCLatentStage(GLCLatentTrainConfig(autoencoder=str(glc_stage2 / "ae" / "checkpoint"), data=[train_dir],
                                               crop=8, batch=2, total_steps=2, bf16=False), TINY_GLC)
    load_module_weights(glc_stage2 / "glc2" / "checkpoint", {"model": base.model})
    cfg = GLCLatentTrainConfig(autoencoder=str(glc_stage2 / "ae" / "checkpoint"), data=[train_dir], crop=8, batch=2,
                               total_steps=2, lambdas=(0.01, 0.1, 1.0), bf16=False,
                               init=str(glc_stage2 / "glc2" / "checkpoint"))
    warm = GLCLatentStage(cfg)  # no model config given: it comes from the run
    assert warm.model_cfg == TINY_GLC
    trained, started = base.model.state_dict(), warm.model.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in started.items())
    assert not all(torch.equal(v, GLCLatentStage(GLCLatentTrainConfig(
        autoencoder=cfg.autoencoder, data=[train_dir], crop=8, batch=2, bf16=False), TINY_GLC).model.state_dict()[k])
        for k, v in started.items())  # a fresh codec differs, so the copy above is not vacuous
    warm.train_step(0)
    assert any(not torch.equal(trained[k], v) for k, v in warm.model.state_dict().items())


def test_glc_joint_gain_lr_mult_moves_only_the_log_gains_faster(glc_stage2, train_dir) -> None:
    """gain_lr_mult scales the step of the rate-variable log-gains alone (Adam's first step is lr * sign)."""
    moved = {}
    for mult in (1.0, 50.0):
        stage = _joint(glc_stage2, train_dir, gain_lr_mult=mult, total_steps=1000)
        g0 = stage.model.y_gain.log_gain.detach().clone()
        w0 = stage.decoder.net[0].weight.detach().clone()
        stage.train_step(200)  # past the warm-up, before the decay: the base lr is lr
        moved[mult] = ((stage.model.y_gain.log_gain.detach() - g0).abs().max().item(),
                       stage.decoder.net[0].weight.detach() - w0)
    assert moved[1.0][0] == pytest.approx(1e-3, rel=0.05)
    assert moved[50.0][0] == pytest.approx(50e-3, rel=0.05)
    assert torch.equal(moved[1.0][1], moved[50.0][1])  # every other parameter takes the same step


def test_glc_joint_nyquist_weight_enters_the_loss(glc_stage2, train_dir) -> None:
    """w_nyquist adds L_nyq (losses.nyquist) to D_III: same batch, same nyq, a different loss and decoder step."""
    out = {}
    for w in (0.0, 100.0):
        stage = _joint(glc_stage2, train_dir, w_nyquist=w)
        w0 = stage.decoder.net[-2].weight.detach().clone()
        metrics = stage.train_step(0)
        out[w] = (metrics, stage.decoder.net[-2].weight.detach() - w0)
    assert out[0.0][0]["nyq"] == out[100.0][0]["nyq"] > 0
    assert out[100.0][0]["loss"] > out[0.0][0]["loss"]
    assert not torch.equal(out[0.0][1], out[100.0][1])


def test_glc_joint_freeze_codec_trains_the_decoder_alone_without_lambda(glc_stage2, train_dir) -> None:
    """freeze_codec: the latent codec stays bit-identical, the decoder moves, and the decoder's step no
    longer depends on lambda(t) (each rate segment weighs the same); without it, it does."""
    steps = {}
    for freeze in (True, False):
        for lambdas in ((0.01, 0.1, 1.0), (1.0, 1.0, 1.0)):
            stage = _joint(glc_stage2, train_dir, freeze_codec=freeze, lambdas=lambdas, batch=2)
            torch.manual_seed(0)  # the same rate indices t for every run
            codec0 = {k: v.clone() for k, v in stage.model.state_dict().items()}
            w0 = stage.decoder.net[-2].weight.detach().clone()
            stage.train_step(50)
            codec1 = stage.model.state_dict()
            last = stage.decoder.net[-2].weight
            steps[freeze, lambdas] = (all(torch.equal(codec0[k], codec1[k]) for k in codec0),
                                      last.detach() - w0, last.grad.clone())
    frozen_a, frozen_b = steps[True, (0.01, 0.1, 1.0)], steps[True, (1.0, 1.0, 1.0)]
    assert frozen_a[0] and frozen_b[0]
    assert frozen_a[1].abs().max() > 0
    assert torch.equal(frozen_a[2], frozen_b[2])  # the decoder's gradient, before Adam's normalisation
    free_a, free_b = steps[False, (0.01, 0.1, 1.0)], steps[False, (1.0, 1.0, 1.0)]
    assert not free_a[0]
    assert not torch.allclose(free_a[2], free_b[2], rtol=1e-3)


def test_glc_joint_code_prior_discriminator_warms_up_alone(tmp_path, glc_stage2, train_dir) -> None:
    """d_warmup steps train only the discriminator; the code prior ranks the real codes first from step 0
    (a stage-I discriminator without a prior still loads); the run resumes exactly."""

    def joint(**kw) -> GLCJointStage:
        return _joint(glc_stage2, train_dir, **kw)

    def generator(stage: GLCJointStage) -> dict[str, torch.Tensor]:
        return {f"{name}.{k}": v.clone() for name, m in (("codec", stage.model), ("decoder", stage.decoder))
                for k, v in m.state_dict().items() if not k.endswith("usage")}  # usage: a code-use statistic

    plain = joint().train_step(0)
    stage = joint(d_code_prior=True, d_warmup=2)
    g0, d0 = generator(stage), {k: v.clone() for k, v in stage.disc.state_dict().items()}
    first = stage.train_step(0)
    assert first["d_loss"] < plain["d_loss"] - 0.5  # the real codes are ranked first from the start
    stage.train_step(1)
    assert _same(g0, generator(stage)) and not _same(d0, stage.disc.state_dict())
    stage.train_step(2)
    g2 = generator(stage)
    assert not torch.equal(g0["decoder.net.0.weight"], g2["decoder.net.0.weight"])
    run(joint(d_code_prior=True, d_warmup=1), tmp_path / "straight", minutes=5)
    assert run(joint(d_code_prior=True, d_warmup=1), tmp_path / "split", minutes=5, stop_at=1, log_every=1) == 1
    assert run(joint(d_code_prior=True, d_warmup=1), tmp_path / "split", minutes=5, log_every=1) == 3
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))


def test_decoder_only_finetune_keeps_the_latent_space(tmp_path, train_dir) -> None:
    """freeze_encoder trains D alone from shipped weights, so latent codecs trained on E stay valid;
    load_autoencoder reads the same shipped file the codecs use."""
    from gencodec.training.export import export_autoencoder
    from gencodec.training.stages.glc_latent import load_autoencoder

    cfg = AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=2, bf16=False)
    run(AutoencoderStage(cfg, TINY_AE), tmp_path / "ae", minutes=5)
    wdir = tmp_path / "weights"
    export_autoencoder(tmp_path / "ae" / "checkpoint", wdir)
    shipped = load_file(str(wdir / "autoencoder.safetensors"))
    loaded = load_autoencoder(wdir / "autoencoder.safetensors").state_dict()
    assert all(torch.equal(loaded[k], v.float()) for k, v in shipped.items())
    ft = AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=3, gan_start=0.0, nonbinary_start=0.0,
                                lr=1e-2, bf16=False, init=str(wdir / "autoencoder.safetensors"), freeze_encoder=True)
    run(AutoencoderStage(ft, TINY_AE), tmp_path / "ae_ft", minutes=5)
    tuned = {k[len("model."):]: v for k, v in _weights(tmp_path / "ae_ft").items() if k.startswith("model.")}
    for k, v in shipped.items():
        same = torch.equal(tuned[k], v.float())
        assert same if k.startswith(("encoder.", "quantizer.")) else True, k
    assert not all(torch.equal(tuned[k], v.float()) for k, v in shipped.items() if k.startswith("decoder."))


def test_perco_trains_resumes_exports_and_samples_reproducibly(tmp_path, monkeypatch, train_dir) -> None:
    from gencodec.entropy.fixed_length import packed_size
    from gencodec.training.export import export_autoencoder, export_perco

    run(AutoencoderStage(AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=2, bf16=False),
                         TINY_AE), tmp_path / "ae", minutes=5)
    wdir = tmp_path / "weights"
    export_autoencoder(tmp_path / "ae" / "checkpoint", wdir)

    data = tmp_path / "captioned"  # ImageNet-style names give file-name captions, so the text path trains
    data.mkdir()
    for i, name in enumerate(["n01443537_goldfish.png", "n02669723_academic_gown.png", "test_1.png"]):
        (data / name).write_bytes((Path(train_dir) / f"synthetic_{i}.png").read_bytes())

    def stage() -> PerCoStage:
        cfg = PerCoTrainConfig(autoencoder=str(wdir / "autoencoder.safetensors"), data=[str(data)], crop=4, batch=2,
                               total_steps=4, restart_every=3)
        return PerCoStage(cfg, TINY_PERCO)

    run(stage(), tmp_path / "straight", minutes=5)
    run(stage(), tmp_path / "split", minutes=5, stop_at=2)
    run(stage(), tmp_path / "split", minutes=5)
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))  # resume is exact (bf16, restarts)
    assert torch.isnan(stage().text).any(dim=1).tolist() == [False, False, True]  # test_1.png has no caption
    export_perco(tmp_path / "split" / "checkpoint", wdir)
    warm_cfg = PerCoTrainConfig(autoencoder=str(wdir / "autoencoder.safetensors"), data=[str(data)], crop=4, batch=2,
                                init=str(wdir / "perco.safetensors"))
    warm = PerCoStage(warm_cfg, TINY_PERCO)  # a later session continues from shipped weights
    shipped = load_file(str(wdir / "perco.safetensors"))
    state = warm.model.state_dict()
    assert shipped and all(torch.equal(state[k].float(), v.float()) for k, v in shipped.items())
    warm.train_step(1)  # step 1 trains rate point 1; it must not re-seed the shipped codebook of point 0
    assert torch.equal(warm.model.quantizers[0].codebook, shipped["quantizers.0.codebook"].float())
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(wdir))
    from PIL import Image

    img = np.asarray(Image.open(TEST_DATA / "kodim04_odd.png").convert("RGB"))  # 100x77 -> 128x96 -> 8x6 latent
    sizes = {0: packed_size(3 * 4, 16), 255: packed_size(6 * 8, 4)}
    for rate, local_bytes in sizes.items():
        res = gencodec.encode(img, model="perco", rate=rate, weights_dir=wdir)
        assert res.section_bytes == {"local": local_bytes, "global": 0}
        assert np.array_equal(gencodec.decode(res.data, weights_dir=wdir), res.reconstruction)
    from gencodec.container.errors import BitstreamError
    from gencodec.models.registry import load_codec

    codec = load_codec("perco", wdir)
    assert [codec.rate_point(b) for b in (0, 127, 128, 255)] == [0, 0, 1, 1]  # rate byte -> 2 rate points
    good = gencodec.encode(img, model="perco", rate=0, weights_dir=wdir)
    with pytest.raises(BitstreamError):
        codec.decode(img.shape[0], img.shape[1], 0, [good.data[-6:-1], b""])  # local section one byte short
    plain = gencodec.encode(img, model="perco", rate=0, weights_dir=wdir)
    again = gencodec.encode(img, model="perco", rate=0, weights_dir=wdir)
    seeded = gencodec.encode(img, model="perco", rate=0, seed=5, weights_dir=wdir)
    captioned = gencodec.encode(img, model="perco", rate=0, caption="a photo of a red door", weights_dir=wdir)
    assert again.data == plain.data and np.array_equal(again.reconstruction, plain.reconstruction)
    assert seeded.section_bytes["global"] == 1 and not np.array_equal(seeded.reconstruction, plain.reconstruction)
    assert captioned.section_bytes["global"] == 1 + len("a photo of a red door")
    assert not np.array_equal(captioned.reconstruction, plain.reconstruction)
    assert np.array_equal(gencodec.decode(captioned.data, weights_dir=wdir), captioned.reconstruction)
    four = gencodec.decode(captioned.data, weights_dir=wdir, steps=4)
    assert np.array_equal(four, gencodec.decode(captioned.data, weights_dir=wdir, steps=4))
    assert not np.array_equal(four, captioned.reconstruction)
    unguided = gencodec.decode(captioned.data, weights_dir=wdir, guidance=1.0)
    assert not np.array_equal(unguided, captioned.reconstruction)
    from click.testing import CliRunner

    from gencodec.cli.main import cli
    from gencodec.models.weights import WEIGHTS_DIR

    with pytest.raises(ValueError, match="takes no caption"):
        gencodec.encode(img, model="hyperprior", rate=0, caption="x", weights_dir=WEIGHTS_DIR)
    src, gic, png = TEST_DATA / "kodim04_odd.png", tmp_path / "a.gic", tmp_path / "a.png"
    (tmp_path / "cap.txt").write_text("  a photo of a red door\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["encode", str(src), "-o", str(gic), "--model", "perco", "--rate", "0",
                                 "--caption-file", str(tmp_path / "cap.txt")])
    assert r.exit_code == 0, r.output
    assert gic.read_bytes() == captioned.data  # the file caption (stripped) equals the API caption
    padded = gencodec.encode(img, model="perco", rate=0, caption=" a photo of a red door\t", weights_dir=wdir)
    assert padded.data == captioned.data and np.array_equal(padded.reconstruction, captioned.reconstruction)
    r = CliRunner().invoke(cli, ["decode", str(gic), "-o", str(png), "--steps", "4", "-q"])
    assert r.exit_code == 0 and np.array_equal(np.asarray(Image.open(png).convert("RGB")), four)
    bad = [["encode", str(src), "-o", str(tmp_path / "b.gic"), "--model", "perco", "--caption", "x", "--caption-file",
            str(tmp_path / "cap.txt")],
           ["encode", str(src), "-o", str(tmp_path / "b.gic"), "--model", "perco", "--seed", "64"],
           ["encode", str(src), "-o", str(tmp_path / "b.gic"), "--model", "perco", "--caption", "   "]]
    for args in bad:
        r = CliRunner().invoke(cli, args)
        assert r.exit_code != 0 and "Traceback" not in r.output and not (tmp_path / "b.gic").exists(), args


def test_latent_store_reuses_encodings_of_the_same_encoder(tmp_path, train_dir, capsys) -> None:
    from gencodec.nn.vqgan import VQAutoencoder
    from gencodec.training.data import list_images
    from gencodec.training.latent_cache import LatentCache

    torch.manual_seed(0)
    ae = VQAutoencoder(TINY_AE)
    files = list_images([Path(train_dir)])
    first = LatentCache(ae, files, crop=4, seed=0, store=tmp_path)
    assert f"encoding training latents: {len(files)}/{len(files)} images" in capsys.readouterr().out
    stored = list(tmp_path.glob("latents_*.safetensors"))
    assert len(stored) == 1
    again = LatentCache(ae, files, crop=4, seed=0, store=tmp_path)
    assert "encoding" not in capsys.readouterr().out  # loaded from the store, nothing encoded
    assert again.files == first.files and all(torch.equal(a, b) for a, b in zip(again.latents, first.latents))
    assert all(torch.equal(a, b) for a, b in zip(again.indices, first.indices))
    with torch.no_grad():
        next(ae.encoder.parameters()).add_(0.1)  # another encoder: another key, a fresh encoding
    LatentCache(ae, files, crop=4, seed=0, store=tmp_path)
    assert len(list(tmp_path.glob("latents_*.safetensors"))) == 2


def test_latent_encoding_skips_tiny_images_and_still_reports_the_end(tmp_path, train_dir, capsys) -> None:
    from PIL import Image

    from gencodec.nn.vqgan import VQAutoencoder
    from gencodec.training.data import list_images
    from gencodec.training.latent_cache import _encode_all

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 40)).save(tiny)  # narrower than one 16-px latent cell
    files = [*list_images([Path(train_dir)]), tiny]
    latents, indices, kept = _encode_all(VQAutoencoder(TINY_AE), files, max_side=768)
    assert kept == files[:-1] and len(latents) == len(indices) == len(files) - 1
    assert f"encoding training latents: {len(files)}/{len(files)} images" in capsys.readouterr().out


def test_csv_log_grows_new_columns(tmp_path) -> None:
    from gencodec.training.loop import append_row

    p = tmp_path / "log.csv"
    append_row(p, {"step": 1, "loss": 0.5})
    append_row(p, {"step": 2, "loss": 0.4, "g_adv": 1.0})  # the GAN phase adds a column
    assert p.read_text().splitlines() == ["step,loss,g_adv", "1,0.5,", "2,0.4,1.0"]


def test_autoencoder_code_prior_warm_starts_from_a_run_and_spares_the_encoder(tmp_path, train_dir) -> None:
    """d_code_prior: a run's checkpoint warm-starts model and discriminators (the prior's scale is new);
    the generator's code similarities pass gradients to x_hat but not to the encoder or codebook."""
    base = AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=2, gan_start=0.0,
                                  nonbinary_start=0.0, bf16=False)
    run(AutoencoderStage(base, TINY_AE), tmp_path / "ae", minutes=5)
    saved = _weights(tmp_path / "ae")
    cfg = AutoencoderTrainConfig(data=[train_dir], crop=64, batch=2, total_steps=2, gan_start=0.0,
                                 nonbinary_start=0.0, bf16=False, d_code_prior=True,
                                 init=str(tmp_path / "ae" / "checkpoint"))
    stage = AutoencoderStage(cfg, TINY_AE)
    for name, module in stage.modules().items():
        for k, v in module.state_dict().items():
            if k != "log_prior_scale":
                assert torch.equal(v, saved[f"{name}.{k}"]), (name, k)
    assert stage.nb_d.log_prior_scale is not None

    x_hat = torch.rand(2, 3, 64, 64, requires_grad=True)
    stage._similarity(x_hat).sum().backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    assert all(p.grad is None and p.requires_grad for p in stage.model.encoder.parameters())
    assert all(p.grad is None for p in stage.model.quantizer.parameters())

    run(stage, tmp_path / "prior", minutes=5)
    assert "nb_d.log_prior_scale" in _weights(tmp_path / "prior")
    before = {k: v.clone() for k, v in stage.nb_d.state_dict().items()}
    metrics = stage.train_step(2)
    assert np.isfinite(metrics["d_loss"]) and np.isfinite(metrics["g_adv"])
    assert not torch.equal(before["log_prior_scale"], stage.nb_d.log_prior_scale.detach())
