"""hific-rd and hific-gan run on tiny models, resume exactly, and export weights the codec decodes.
ConHa (seed 004, eq. 4): w scales the perceptual, style and adversarial terms per image; the conha and
conha-fixed codecs are hific networks under their own ids; the ConHa test photos never reach training."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file

from gencodec.api import decode, encode
from gencodec.container import unpack
from gencodec.losses.semantic_ensemble import EnsembleWeights, SemanticEnsemble
from gencodec.metrics.backbone import default_backbone
from gencodec.models.hific import build
from gencodec.models.preference import load_preference
from gencodec.models.registry import load_codec
from gencodec.models.weights import WEIGHTS_DIR, WeightsError, load_weights, read_manifest
from gencodec.nn.hific import HiFiCConfig
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder
from gencodec.training.checkpoint import save_checkpoint
from gencodec.training.data import CropSampler, list_images
from gencodec.training.hallucination import HallucinationWeight, build_weight, structure_sampler, training_mean
from gencodec.training.loop import run
from gencodec.training.preference_pairs import draw_structure
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


def _rd(train_dir: str, steps: int = 4, z_rate: str = "noisy") -> HiFiCRDStage:
    cfg = HiFiCRDTrainConfig(data=[train_dir], init="", crop=64, batch=2, total_steps=steps,
                             targets=(0.05, 0.1, 0.2), bf16=False, z_rate=z_rate)
    return HiFiCRDStage(cfg, TINY, backbone=default_backbone())


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("z_rate", ["noisy", "density"])
def test_hific_rd_step_and_exact_resume(tmp_path, train_dir, z_rate) -> None:
    stage = _rd(train_dir, z_rate=z_rate)
    metrics = stage.train_step(0)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    assert {"bpp", "rec", "per", "style", "above"} <= metrics.keys()
    run(_rd(train_dir, z_rate=z_rate), tmp_path / "straight", minutes=5)
    assert run(_rd(train_dir, z_rate=z_rate), tmp_path / "split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(_rd(train_dir, z_rate=z_rate), tmp_path / "split", minutes=5, log_every=1) == 4
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))
    # the density (and its optimizer) is checkpointed with the model, so the comparison above covers it
    assert any(k.startswith("z_density.") for k in _weights(tmp_path / "split")) == (z_rate == "density")


def test_target_rate_switches_lambda(train_dir) -> None:
    """Eq. 2: lambda_above applies to samples whose real rate exceeds the target of their rate index."""
    stage = _rd(train_dir, steps=100)
    t = torch.tensor([0.0, 0.5, 2.0])
    assert torch.allclose(stage.target(t), torch.tensor([0.05, math.sqrt(0.05 * 0.1), 0.2]))
    assert stage.warm(0) == stage.cfg.warm_factor and stage.warm(99) == 1.0


def test_rounded_z_rate_charges_collapsed_channels_nothing() -> None:
    """``noise=False`` (hific-rd's off-by-default ``z_rate=rounded``) is the rate of the rounded z (what the
    coder writes), with a central-difference gradient to z and the exact gradient to the table; the default
    noisy-z rate charges a zero z under a peaked table ~0.5 bit or more."""
    from gencodec.nn.bottleneck import CategoricalPrior

    prior = CategoricalPrior(channels=2, half_range=3)
    with torch.no_grad():
        prior.logits.copy_(torch.tensor([[-20.0, -20.0, -8.0, 0.0, -8.0, -20.0, -20.0],
                                         [-20.0, -20.0, -8.0, 0.0, -2.0, -20.0, -20.0]]))
    z = torch.full((1, 2, 4, 4), 0.2, requires_grad=True)
    _, like_q = prior(z, noise=False)
    lp = torch.log_softmax(prior.logits.detach(), dim=-1)
    assert torch.allclose(like_q.detach()[0, :, 0, 0], lp[:, 3].exp())  # p(round(z)), exactly
    bits_q = -torch.log2(like_q).sum()
    assert float(-torch.log2(like_q.detach()[:, 0]).sum()) / 16 < 0.01
    torch.manual_seed(0)
    _, like_noisy = prior(z, noise=True)
    assert float(-torch.log2(like_noisy.detach()[:, 0]).sum()) / 16 > 0.5
    bits_q.backward()
    assert torch.all(z.grad[:, 0] == 0)  # symmetric table: no push off the mode
    assert torch.all(z.grad[:, 1] < 0)  # descent moves z towards the likelier neighbour (+1)
    assert prior.logits.grad.abs().sum() > 0


def test_refit_sets_the_z_table_to_the_rounded_z_frequencies(train_dir) -> None:
    from gencodec.training.export import refit_z_table

    model = _rd(train_dir).model
    torch.manual_seed(3)
    refit_z_table(model, CropSampler(list_images([Path(train_dir)]), 64, 5), crops=4, batch=4)
    torch.manual_seed(3)  # the same crops and rate indices, counted here by hand
    x, _ = CropSampler(list_images([Path(train_dir)]), 64, 5).batch(4)
    t = torch.rand(4) * (model.cfg.n_rates - 1)
    k = model.cfg.z_half_range
    with torch.no_grad():
        z = torch.round((model.h_a(model.g_a(x * 2 - 1)) * model.z_gain(t)).clamp(-k, k)).long() + k
    counts = torch.stack([torch.bincount(z[:, c].flatten(), minlength=2 * k + 1) for c in range(z.shape[1])])
    expected = (counts.double() + 0.5) / (counts.sum(dim=1, keepdim=True) + 0.5 * (2 * k + 1))
    assert torch.allclose(torch.softmax(model.z_prior.logits.detach().double(), dim=-1), expected, atol=1e-6)


def test_z_rate_setting_is_checked_and_used(train_dir) -> None:
    with pytest.raises(ValueError, match="z_rate"):
        HiFiCRDStage(HiFiCRDTrainConfig(data=[train_dir], init="", z_rate="soft", targets=(0.05, 0.1, 0.2)), TINY,
                     backbone=default_backbone())
    noisy = []
    for mode in ("rounded", "noisy"):
        stage = _rd(train_dir)
        stage.cfg.z_rate = mode
        noisy.append(stage.train_step(0)["bpp_noisy"])
    assert noisy[0] != noisy[1]


def test_density_z_rate_trains_the_table_on_the_rounded_z(train_dir) -> None:
    """``z_rate=density``: the rate of z is the factorized density's, and the coded table gets only the
    maximum-likelihood gradient of the rounded z (it never pushes z, which the density's rate does)."""
    stage = _rd(train_dir, z_rate="density")
    assert stage.z_density is not None and "z_density" in stage.modules() and "density" in stage.optimizers()
    before = {k: v.clone() for k, v in stage.z_density.state_dict().items()}
    stage.train_step(0)
    assert not _same(before, stage.z_density.state_dict())  # the density learns with the model
    x, _ = stage.sampler.batch(2)
    stage.model.zero_grad(set_to_none=True)
    out = stage.model(x, torch.zeros(2))
    table_bits = -torch.log2(stage.model.z_prior(out["z_scaled"].detach(), noise=False)[1]).sum()
    table_bits.backward()
    assert stage.model.z_prior.logits.grad.abs().sum() > 0
    assert stage.model.h_a[0].weight.grad is None  # z detached: the table's fit leaves the transforms alone


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
    trained = export_hific(tmp_path / "split" / "checkpoint", tmp_path / "trained_table", refit_crops=0)
    entry = export_hific(tmp_path / "split" / "checkpoint", wdir, refit_crops=8)
    assert entry["config"]["z_table"].startswith("refit") and "z_table" not in trained["config"]
    assert entry["sha256"] != trained["sha256"]
    export_hific(tmp_path / "split" / "checkpoint", tmp_path / "again", refit_crops=8)
    assert _same(load_file(str(wdir / "hific.safetensors")),  # deterministic (the file's metadata order is not)
                 load_file(str(tmp_path / "again" / "hific.safetensors")))
    assert not any(k.startswith("nb_d") for k in load_file(str(wdir / "hific.safetensors")))
    codec = build(read_manifest(wdir)["hific"], load_weights(read_manifest(wdir)["hific"], wdir))
    assert entry["config"]["model"] == TINY.to_dict()
    img = np.asarray(np.random.default_rng(0).integers(0, 256, (37, 70, 3)), dtype=np.uint8)
    a = codec.analyze(img)
    enc = codec.code(a, 200)
    assert np.array_equal(codec.decode(37, 70, 200, enc.sections), codec.reconstruct(a, enc))
    again, _ = load_hific(wdir / "hific.safetensors")  # stage 2 can continue from shipped weights
    assert again.cfg == TINY

def test_export_without_the_training_data_says_so(tmp_path, train_dir) -> None:
    import json

    from click.testing import CliRunner

    from gencodec.cli.main import cli

    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)
    state_path = tmp_path / "rd" / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    state["config"]["train"]["data"] = [str(tmp_path / "gone")]
    state_path.write_text(json.dumps(state))
    args = ["export", "hific", "--run", str(tmp_path / "rd"), "--weights-dir", str(tmp_path / "w")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "--refit-crops 0" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "w" / "hific.safetensors").exists()
    result = CliRunner().invoke(cli, [*args, "--refit-crops", "0"])
    assert result.exit_code == 0, result.output
    assert "z_table" not in read_manifest(tmp_path / "w")["hific"].config


def test_code_prior_discriminator_trains_and_resumes_exactly(tmp_path, train_dir, autoencoder) -> None:
    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)

    def gan() -> HiFiCGANStage:
        return _gan(tmp_path / "rd" / "checkpoint", autoencoder, train_dir, d_code_prior=True, structure=0.5)
    plain = _gan(tmp_path / "rd" / "checkpoint", autoencoder, train_dir, structure=0.5).train_step(0)
    first = gan().train_step(0)
    assert first["d_loss"] < plain["d_loss"] - 0.5  # the real codes are ranked first from the start
    run(gan(), tmp_path / "straight", minutes=5)
    assert run(gan(), tmp_path / "split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(gan(), tmp_path / "split", minutes=5, log_every=1) == 3
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))
    assert "nb_d.log_prior_scale" in _weights(tmp_path / "split")


def test_discriminator_warmup_leaves_the_decoder_alone(tmp_path, train_dir, autoencoder) -> None:
    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)
    cfg = HiFiCGANTrainConfig(init=str(tmp_path / "rd" / "checkpoint"), autoencoder=autoencoder, data=[train_dir],
                              crop=64, batch=2, total_steps=3, lr=1e-3, d_warmup=2, bf16=False)
    stage = HiFiCGANStage(cfg, backbone=default_backbone())
    g0 = {k: v.clone() for k, v in stage.model.g_s.state_dict().items()}
    d0 = {k: v.clone() for k, v in stage.disc.state_dict().items()}
    for step in range(2):
        stage.train_step(step)
    assert _same(g0, stage.model.g_s.state_dict()) and not _same(d0, stage.disc.state_dict())
    stage.train_step(2)
    assert not _same(g0, stage.model.g_s.state_dict())


def test_ensemble_w_scales_only_the_feature_terms() -> None:
    torch.manual_seed(0)
    loss = SemanticEnsemble(default_backbone())
    x = torch.rand(3, 3, 64, 64)
    x_hat = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    plain = loss(x_hat, x)
    ones = loss(x_hat, x, torch.ones(3))
    zeros = loss(x_hat, x, torch.zeros(3))
    half = loss(x_hat, x, torch.tensor([0.0, 1.0, 0.5]))
    assert torch.allclose(plain["distortion"], ones["distortion"])
    assert torch.allclose(zeros["distortion"], 10.0 * plain["rec"])
    assert plain["per"] > 0 and plain["style"] > 0
    feature_part = plain["distortion"] - 10.0 * plain["rec"]
    assert zeros["distortion"] < half["distortion"] < ones["distortion"]
    assert not torch.isclose(half["distortion"], zeros["distortion"] + 0.5 * feature_part)  # per image, not mean


def test_ensemble_pixel_weight_follows_w_when_alpha_w0_is_set() -> None:
    torch.manual_seed(0)
    backbone = default_backbone()
    plain, lifted = SemanticEnsemble(backbone), SemanticEnsemble(backbone, EnsembleWeights(10.0, 1.0, 1.5e-3, 100.0))
    x = torch.rand(2, 3, 64, 64)
    x_hat = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    ref = plain(x_hat, x)
    # w = 1: exactly eq. 3; w = 0: the pixel term alone at alpha_w0; no w: alpha_w0 plays no part
    assert torch.allclose(lifted(x_hat, x, torch.ones(2))["distortion"], ref["distortion"])
    assert torch.allclose(lifted(x_hat, x)["distortion"], ref["distortion"])
    assert torch.allclose(lifted(x_hat, x, torch.zeros(2))["distortion"], 100.0 * ref["rec"])
    # per image: a w = 0 crop and a w = 1 crop mix 100 * rec_0 and (10 * rec_1 + features_1), not batch means
    rec = [plain(x_hat[i:i + 1], x[i:i + 1]) for i in range(2)]
    mixed = lifted(x_hat, x, torch.tensor([0.0, 1.0]))["distortion"]
    assert torch.allclose(mixed, (100.0 * rec[0]["rec"] + rec[1]["distortion"]) / 2, rtol=1e-4)


def test_weight_modes_and_errors() -> None:
    x = torch.rand(2, 3, 64, 64)
    assert HallucinationWeight("none")(x) is None
    assert torch.equal(HallucinationWeight("fixed", fixed=0.25)(x), torch.full((2,), 0.25))
    with pytest.raises(ValueError, match="w_mode must be one of"):
        HallucinationWeight("sometimes")
    with pytest.raises(ValueError, match="needs the preference model"):
        HallucinationWeight("conha")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        HallucinationWeight("fixed", fixed=1.5)


def _text_and_texture() -> torch.Tensor:
    """A crop with black text on white (avoid hallucination) and a noisy texture crop (hallucinate)."""
    text = Image.new("RGB", (128, 128), "white")
    draw = ImageDraw.Draw(text)
    for row in range(6):
        draw.text((4, 4 + 20 * row), "GENCODEC 0123", fill="black")
    rng = np.random.default_rng(0)
    grass = (rng.normal(0.35, 0.15, (128, 128, 1)) * np.array([0.6, 1.0, 0.4])).clip(0, 1)
    arrays = [np.asarray(text, dtype=np.float32) / 255, grass.astype(np.float32)]
    return torch.stack([torch.from_numpy(a).permute(2, 0, 1) for a in arrays])


def test_conha_weight_is_the_sharpened_shipped_preference() -> None:
    x = _text_and_texture()
    w, constant = build_weight("conha", WEIGHTS_DIR, 100.0, -1.0)
    assert constant is None
    got = w(x)
    expected = torch.sigmoid(100.0 * load_preference(WEIGHTS_DIR)(x))
    assert torch.allclose(got, expected)
    assert got[0] < 0.5 < got[1], got  # text: keep faithful; texture: hallucinate


def test_fixed_weight_is_the_training_mean(train_dir) -> None:
    sampler = CropSampler(list_images([Path(train_dir)]), 64, 0)
    before = sampler.get_state()
    w, constant = build_weight("fixed", WEIGHTS_DIR, 100.0, -1.0, sampler, crops=8)
    again = CropSampler(list_images([Path(train_dir)]), 64, 0)
    assert constant == pytest.approx(training_mean(load_preference(WEIGHTS_DIR), again, 8, 100.0))
    assert 0.0 <= constant <= 1.0
    assert torch.equal(w(torch.rand(3, 3, 64, 64)), torch.full((3,), constant))
    assert sampler.get_state() == before  # measuring drew crops, then put the sampler back


def test_structure_crops_are_the_fraction_asked_and_lower_w(train_dir) -> None:
    """``structure``: that fraction of the crops get rendered text / lines / faces; M_P gives them w near 0."""
    marked = structure_sampler([train_dir], 64, 3, structure=0.3)
    assert marked.decorate is draw_structure and marked.decorate_fraction == 0.3
    x_plain, _ = CropSampler(list_images([Path(train_dir)]), 64, 3).batch(16)
    grass = (_text_and_texture()[1].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    decorated = [draw_structure(grass, rng) for _ in range(8)]
    batch = torch.stack([torch.from_numpy(a.copy()).permute(2, 0, 1).float() / 255 for a in [grass, *decorated]])
    w = load_preference(WEIGHTS_DIR).weight(batch, 100.0)
    assert w[0] > 0.5 > w[1:].mean(), w  # the texture: hallucinate; the same crop with structure: keep faithful
    calls = []

    def count(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(1)
        return patch
    CropSampler(list_images([Path(train_dir)]), 64, 3, decorate=count, decorate_fraction=0.3).batch(400)
    assert 80 <= len(calls) <= 160  # 0.3 of 400 = 120
    calls.clear()
    CropSampler(list_images([Path(train_dir)]), 64, 3, decorate=count, decorate_fraction=1.0).batch(50)
    assert len(calls) == 50  # fraction 1: every crop
    none = structure_sampler([train_dir], 64, 3, structure=0.0)
    assert torch.equal(none.batch(16)[0], x_plain)  # structure 0 leaves the batches as they were
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="structure must be a fraction"):
            structure_sampler([train_dir], 64, 3, structure=bad)


def test_structure_crops_resume_exactly(tmp_path, train_dir) -> None:
    """The structure draws come from the sampler's saved Generator, so a split run equals a straight one."""
    def stage() -> HiFiCRDStage:
        cfg = HiFiCRDTrainConfig(data=[train_dir], init="", crop=64, batch=2, total_steps=4,
                                 targets=(0.05, 0.1, 0.2), bf16=False, structure=0.5)
        return HiFiCRDStage(cfg, TINY, backbone=default_backbone())
    run(stage(), tmp_path / "straight", minutes=5)
    assert run(stage(), tmp_path / "split", minutes=5, stop_at=2, log_every=1) == 2
    assert run(stage(), tmp_path / "split", minutes=5, log_every=1) == 4
    assert _same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))


def _gan(rd: Path, ae: str, data: str, **kw) -> HiFiCGANStage:
    cfg = HiFiCGANTrainConfig(init=str(rd), autoencoder=ae, data=[data], crop=64, batch=2, total_steps=3,
                              lr=1e-3, bf16=False, preference=str(WEIGHTS_DIR), **kw)
    return HiFiCGANStage(cfg, backbone=default_backbone())


def test_rd_stage_w_scales_its_feature_terms(train_dir) -> None:
    cfg = HiFiCRDTrainConfig(data=[train_dir], init="", crop=64, batch=2, total_steps=4, targets=(0.05, 0.1, 0.2),
                             bf16=False, w_mode="fixed", w_fixed=0.0, preference=str(WEIGHTS_DIR))
    stage = HiFiCRDStage(cfg, TINY, backbone=default_backbone())
    plain = _rd(train_dir)
    assert stage.sampler.get_state() == plain.sampler.get_state() and stage.config()["w_fixed"] == 0.0
    torch.manual_seed(0)
    zero = stage.train_step(0)
    torch.manual_seed(0)
    full = plain.train_step(0)  # same weights, batch, rate indices and noise: only w differs
    assert zero["w"] == 0.0 and full["w"] == 1.0
    assert full["loss"] - zero["loss"] > 0.5 * full["per"]  # the perceptual and style terms left the loss


def test_w_zero_leaves_only_the_charbonnier_term(tmp_path, train_dir, autoencoder) -> None:
    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)
    m = _gan(tmp_path / "rd" / "checkpoint", autoencoder, train_dir, w_mode="fixed", w_fixed=0.0).train_step(0)
    assert m["w"] == 0.0 and m["per"] > 0 and m["g_adv"] > 0
    assert m["loss"] == pytest.approx(10.0 * m["rec"], rel=1e-5)
    full = _gan(tmp_path / "rd" / "checkpoint", autoencoder, train_dir).train_step(0)
    assert full["w"] == 1.0 and full["loss"] > 10.0 * full["rec"] * 1.01


def test_fixed_mode_sees_the_same_batches_and_records_w(tmp_path, train_dir, autoencoder) -> None:
    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)
    rd = tmp_path / "rd" / "checkpoint"
    plain, fixed = _gan(rd, autoencoder, train_dir), _gan(rd, autoencoder, train_dir, w_mode="fixed")
    assert plain.sampler.get_state() == fixed.sampler.get_state()
    assert fixed.config()["w_fixed"] == fixed.w_fixed and 0.0 <= fixed.w_fixed <= 1.0
    assert plain.config()["w_fixed"] is None


def test_conha_trains_resumes_exports_and_codes_under_its_own_id(tmp_path, train_dir, autoencoder) -> None:
    from gencodec.training.export import export_hific

    run(_rd(train_dir, steps=1), tmp_path / "rd", minutes=5)
    rd = tmp_path / "rd" / "checkpoint"
    m = _gan(rd, autoencoder, train_dir, w_mode="conha").train_step(0)
    assert all(math.isfinite(v) for v in m.values()) and 0.0 <= m["w"] <= 1.0
    run(_gan(rd, autoencoder, train_dir, w_mode="conha"), tmp_path / "straight", minutes=5)
    assert run(_gan(rd, autoencoder, train_dir, w_mode="conha"), tmp_path / "split", minutes=5, stop_at=1) == 1
    assert run(_gan(rd, autoencoder, train_dir, w_mode="conha"), tmp_path / "split", minutes=5) == 3
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    wdir = tmp_path / "weights"
    with pytest.raises(ValueError, match="export hific first"):
        export_hific(tmp_path / "split" / "checkpoint", wdir, model_id="conha")
    for model_id in ("hific", "conha"):
        export_hific(tmp_path / "split" / "checkpoint", wdir, model_id=model_id)
    with pytest.raises(ValueError, match="not a HiFiC-family codec id"):
        export_hific(tmp_path / "split" / "checkpoint", wdir, model_id="glc")
    decoder_only = load_file(str(wdir / "conha.safetensors"))
    assert decoder_only and all(k.startswith("g_s.") for k in decoder_only)
    assert torch.equal(load_hific(wdir / "conha.safetensors")[0].g_s.state_dict()["0.weight"],
                       decoder_only["g_s.0.weight"].float())
    run(_rd(train_dir, steps=2), tmp_path / "other_rd", minutes=5)  # its own stage 1: the whole network ships
    entry = export_hific(tmp_path / "other_rd" / "checkpoint", wdir, model_id="conha-fixed")
    assert "base" not in entry["config"]
    assert load_file(str(wdir / "conha-fixed.safetensors")).keys() == load_file(str(wdir / "hific.safetensors")).keys()
    assert load_codec("conha-fixed", wdir).model_id == "conha-fixed"
    img = np.asarray(np.random.default_rng(1).integers(0, 256, (40, 56, 3)), dtype=np.uint8)
    for model_id in ("hific", "conha"):
        assert load_codec(model_id, wdir).model_id == model_id
        result = encode(img, model=model_id, rate=180, weights_dir=wdir)
        header, sections = unpack(result.data)
        assert header.model == model_id and result.model == model_id
        assert np.array_equal(decode(result.data, weights_dir=wdir), result.reconstruction)
    # same weights under two ids: the payloads agree, the model code in the header differs
    h_res, c_res = (encode(img, model=m, rate=180, weights_dir=wdir) for m in ("hific", "conha"))
    assert unpack(h_res.data)[1] == unpack(c_res.data)[1] and h_res.data != c_res.data

    other = tmp_path / "other_weights"  # conha refuses a hific it was not trained with
    export_hific(tmp_path / "split" / "checkpoint", other)
    export_hific(tmp_path / "split" / "checkpoint", other, model_id="conha")
    export_hific(tmp_path / "other_rd" / "checkpoint", other)
    with pytest.raises(WeightsError, match="trained on other 'hific' weights"):
        load_codec("conha", other)


def test_conha_test_photos_never_reach_training(tmp_path) -> None:
    folder = tmp_path / "train" / "sun_hays80"
    folder.mkdir(parents=True)
    names = [f"scene_{i:02d}.jpg" for i in range(12)]
    for n in names:
        (folder / n).write_bytes(b"")
    (tmp_path / "train" / "other").mkdir()
    (tmp_path / "train" / "other" / "scene_00.jpg").write_bytes(b"")
    train = list_images([tmp_path / "train"])
    held = list_images([tmp_path / "train"], heldout=True)
    assert [p.name for p in held] == ["scene_00.jpg", "scene_05.jpg", "scene_10.jpg"]
    assert not set(train) & set(held) and len(train) + len(held) == 13
    assert tmp_path / "train" / "other" / "scene_00.jpg" in train  # only the sun_hays80 folder holds out
