"""ConHa's preference model M_P (seed 004, sec. 3.1, appendix C): pairs files, synthetic labels, the model,
a resumable training stage and its export. Tiny data in tmp dirs, the shipped backbone, no network."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageDraw
from safetensors.torch import load_file

from gencodec.metrics.backbone import default_backbone
from gencodec.models.preference import load_preference
from gencodec.nn.preference import PreferenceConfig, PreferenceModel
from gencodec.training.loop import run
from gencodec.training.preference_pairs import (
    FIDELITY,
    HALLUCINATE,
    draw_structure,
    is_generative,
    main,
    read_pairs,
    synthetic_samples,
    write_synthetic_pairs,
)
from gencodec.training.stages.preference import PreferenceStage, PreferenceTrainConfig

torch.set_num_threads(1)
FIELDS = ("image", "model_a", "model_b", "choice")


@pytest.fixture(scope="module")
def backbone():
    return default_backbone()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Four synthetic 'training photos' (gradients, noise, a disc), 96 to 150 pixels: never Kodak."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(96, 130), (150, 100), (120, 120), (100, 96)]):
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = np.stack([yy, xx, (xx + yy) / 2], -1) * rng.uniform(0.3, 1.0, 3) * 255
        im = Image.fromarray((base + rng.normal(0, 12, base.shape)).clip(0, 255).astype(np.uint8))
        ImageDraw.Draw(im).ellipse((10 + 5 * i, 15, 60, 70 + 5 * i), fill=tuple(rng.integers(0, 255, 3).tolist()))
        im.save(root / f"photo_{i}.png")
    return root


@pytest.fixture(scope="module")
def synth_pairs(tmp_path_factory, photos) -> Path:
    return write_synthetic_pairs(tmp_path_factory.mktemp("pairs") / "set", [photos], n=12, seed=0, crop=64)


def _write_csv(path: Path, rows: list[dict[str, str]], fields: tuple[str, ...] = FIELDS) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)
    return path


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(path)
    return path


# ------------------------------------------------------------------------------------------------ pairs files


def test_read_pairs_labels_and_paths(tmp_path) -> None:
    _png(tmp_path / "crops" / "a.png")
    absolute = _png(tmp_path / "elsewhere" / "b.png")
    rows = [
        {"image": "crops/a.png", "model_a": "hyperprior", "model_b": "hific", "choice": "hific"},
        {"image": "crops/a.png", "model_a": "HiFiC-low", "model_b": "mse", "choice": "mse"},
        {"image": str(absolute), "model_a": "conha", "model_b": "bpg", "choice": "a"},
        {"image": "crops/a.png", "model_a": "hyperprior", "model_b": "gan_v2", "choice": "2"},
        {"image": "crops/a.png", "model_a": "hyperprior", "model_b": "hific", "choice": "model_a"},
    ]
    pairs = read_pairs(_write_csv(tmp_path / "p.csv", rows))
    assert [p.label for p in pairs] == [HALLUCINATE, FIDELITY, HALLUCINATE, HALLUCINATE, FIDELITY]
    assert [p.choice for p in pairs] == ["hific", "mse", "conha", "gan_v2", "hyperprior"]
    assert pairs[0].image == tmp_path / "crops" / "a.png" and pairs[2].image == absolute
    assert is_generative("HiFiC-low") and not is_generative("hyperprior") and not is_generative("organic")
    # a custom generative set: "perco" is generative, "hific" is not
    custom = [{"image": "crops/a.png", "model_a": "perco", "model_b": "hific", "choice": "hific"}]
    assert read_pairs(_write_csv(tmp_path / "c.csv", custom), generative="perco")[0].label == FIDELITY


@pytest.mark.parametrize(
    ("rows", "fields", "match"),
    [
        ([{"image": "x.png", "model_a": "hyperprior", "model_b": "hific"}], FIELDS[:3], "missing column 'choice'"),
        ([{"image": "x.png", "model_a": "hyperprior", "model_b": "hific", "choice": "c"}], FIELDS,
         "line 2: unknown choice 'c'"),
        ([{"image": "gone.png", "model_a": "hyperprior", "model_b": "hific", "choice": "a"}], FIELDS,
         "line 2: image file not found"),
        ([{"image": "x.png", "model_a": "hific", "model_b": "conha", "choice": "a"}], FIELDS, "both generative"),
        ([{"image": "x.png", "model_a": "mse", "model_b": "bpg", "choice": "a"}], FIELDS, "both fidelity"),
        ([], FIELDS, "no pairs"),
    ],
)
def test_read_pairs_errors_are_one_line(tmp_path, rows, fields, match) -> None:
    _png(tmp_path / "x.png")
    with pytest.raises(ValueError, match=match) as exc:
        read_pairs(_write_csv(tmp_path / "p.csv", rows, fields))
    assert "\n" not in str(exc.value)


# ------------------------------------------------------------------------------------------- synthetic labels


def test_synthetic_labels_deterministic_balanced_and_marked(photos) -> None:
    files = sorted(photos.glob("*.png"))
    a = list(synthetic_samples(files, 11, seed=3, crop=48))
    b = list(synthetic_samples(files, 11, seed=3, crop=48))
    c = list(synthetic_samples(files, 11, seed=4, crop=48))
    assert all(np.array_equal(x.image, y.image) and x.kind == y.kind for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x.image, y.image) for x, y in zip(a, c, strict=True))
    assert sum(s.label == FIDELITY for s in a) == 5 and sum(s.label == HALLUCINATE for s in a) == 6
    for s in a:
        assert s.image.shape == (48, 48, 3) and s.image.dtype == np.uint8
        if s.label == FIDELITY:  # structure was drawn on the natural crop
            assert s.kind != "texture" and np.abs(s.image.astype(int) - s.source).sum() > 0
        else:
            assert s.kind == "texture" and np.array_equal(s.image, s.source)
    for kind in ("text", "lines", "faces"):
        base = a[0].source
        assert not np.array_equal(draw_structure(base, np.random.default_rng(0), (kind,)), base)


def test_synthetic_labels_refuse_kodak(tmp_path) -> None:
    bad = _png(tmp_path / "kodak" / "kodim01.png")
    with pytest.raises(ValueError, match="Kodak"):
        next(synthetic_samples([bad], 2, seed=0, crop=32))


def test_synthetic_set_is_a_pairs_file(synth_pairs, capsys) -> None:
    rows = list(csv.DictReader(synth_pairs.open()))
    pairs = read_pairs(synth_pairs)
    assert [p.label for p in pairs] == [int(r["label"]) for r in rows]
    assert {(r["model_a"], r["model_b"]) for r in rows} == {("hyperprior", "hific")}
    assert sum(p.label for p in pairs) == 6
    with pytest.raises(FileExistsError):
        write_synthetic_pairs(synth_pairs.parent, [synth_pairs.parent], n=2)
    assert main(["--check", str(synth_pairs)]) == 0
    assert "12 pairs, 6 prefer the generative model" in capsys.readouterr().out
    assert main(["--check", str(synth_pairs.parent / "nope.csv")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


# ------------------------------------------------------------------------------------------------------ model


def test_model_weights_in_unit_range_and_maps(backbone) -> None:
    torch.manual_seed(0)
    model = PreferenceModel(PreferenceConfig(), backbone=backbone).eval()
    assert all(not k.startswith("backbone") for k in model.state_dict())
    assert 10_000 < sum(p.numel() for p in model.parameters()) < 100_000
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        w, sharp = model.weight(x), model.weight(x, temperature=100.0)
        assert w.shape == (3,) and bool(((w >= 0) & (w <= 1)).all())
        assert bool(((sharp - 0.5).abs() >= (w - 0.5).abs() - 1e-6).all())
        # the model feeds [0, 1] input unchanged: the backbone does the [-1, 1] mapping itself
        assert all(torch.equal(a, b) for a, b in zip(model._taps(x), backbone(x), strict=True))
        assert torch.allclose(model.weight_map(x, crop=64, stride=32)[:, 0, 0], w, atol=1e-6)
        big = model.weight_map(torch.rand(1, 3, 160, 224), crop=64, stride=32)
        assert big.shape == (1, 4, 6) and bool(((big >= 0) & (big <= 1)).all())
    with pytest.raises(ValueError, match="multiples of 32"):
        model.weight_map(x, crop=48)


# ---------------------------------------------------------------------------------------- training and export


def _stage(pairs: Path, backbone, steps: int = 4) -> PreferenceStage:
    cfg = PreferenceTrainConfig(pairs=str(pairs), crop=32, batch=2, total_steps=steps, val_fraction=0.25,
                                val_every=2)
    return PreferenceStage(cfg, backbone=backbone)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoint" / "model.safetensors"))


def test_training_resumes_exactly_and_exports(tmp_path, synth_pairs, backbone) -> None:
    from gencodec.training.export import export_preference

    stage = _stage(synth_pairs, backbone)
    assert len(stage.val_idx) == 3 and len(stage.train_idx) == 9
    m = stage.train_step(0)
    assert {"loss", "acc", "w_mean", "lr"} <= m.keys() and m["lr"] == pytest.approx(1e-4)
    m = stage.train_step(1)
    assert 0.0 <= m["val_acc"] <= 1.0 and m["val_loss"] > 0

    assert run(_stage(synth_pairs, backbone), tmp_path / "straight", minutes=2) == 4
    assert run(_stage(synth_pairs, backbone), tmp_path / "split", minutes=2, stop_at=3, log_every=1) == 3
    assert run(_stage(synth_pairs, backbone), tmp_path / "split", minutes=2, log_every=1) == 4
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(k.startswith("model.blocks.") or k.startswith("model.fc") for k in a)
    states = [json.loads((tmp_path / r / "checkpoint" / "state.json").read_text()) for r in ("straight", "split")]
    assert states[0]["sampler"] == states[1]["sampler"]
    assert "val_acc" in next(csv.DictReader((tmp_path / "split" / "log.csv").open())).keys()

    wdir = tmp_path / "weights"
    entry = export_preference(tmp_path / "split" / "checkpoint", wdir)
    assert entry["id"] == "preference" and entry["config"]["step"] == 4
    assert set(load_file(str(wdir / entry["file"]))) == {k[len("model."):] for k in a}
    trained = _stage(synth_pairs, backbone)
    trained.model.load_state_dict({k[len("model."):]: v for k, v in a.items()})
    shipped = load_preference(wdir, backbone=backbone)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(shipped.weight(x), trained.model.eval().weight(x))


def test_cli_registration(tmp_path) -> None:
    from gencodec.cli.train import STAGE_CLASSES, export_cmd, train_cmd

    assert STAGE_CLASSES["preference"] == ("preference", "PreferenceStage", "PreferenceTrainConfig")
    res = CliRunner().invoke(train_cmd, ["hyperprior", "--run", str(tmp_path / "r"), "--pairs", "x.csv"])
    assert res.exit_code == 2 and "only the preference stage takes --pairs" in res.output
    assert "preference" in export_cmd.params[0].type.choices


def test_cli_bad_pairs_file_is_a_one_line_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gencodec.cli.main import cli

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    run_dir = tmp_path / "run"
    r = CliRunner().invoke(cli, ["train", "preference", "--run", str(run_dir), "--pairs", str(bad)])
    assert r.exit_code == 1
    want = f"error: {bad}: missing column 'image' (need image, model_a, model_b, choice)"
    assert r.output.strip().splitlines() == [want]
    assert not run_dir.exists()
    r = CliRunner().invoke(cli, ["train", "dlf-align", "--run", str(run_dir), "--pairs", str(bad)])
    assert r.exit_code != 0 and "only the preference stage takes --pairs" in r.output
