"""``gic bench``: runner, report files and CLI, on two small images with the tiny hyperprior."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gencodec.bench import anchors as anchors_mod
from gencodec.bench import runner as runner_mod
from gencodec.bench.report import json_summary, write_all
from gencodec.bench.runner import BenchConfig, detect_optional_metrics, run_bench
from gencodec.cli.main import cli

DATA = Path(__file__).resolve().parents[1] / "data"
TARGETS = [0.02, 0.25, 0.5, 0.9]  # 0.02: nobody reaches it; the others: everybody does on both images
TOP_KEYS = {
    "schema",
    "config",
    "environment",
    "images",
    "codecs",
    "skipped",
    "metrics",
    "not_computed",
    "rows",
    "summary",
    "bd_rates",
    "files",
    "notes",
}
ROW_KEYS = {
    "image",
    "width",
    "height",
    "codec",
    "kind",
    "target_bpp",
    "status",
    "reason",
    "stream",
    "bytes",
    "bpp",
    "setting",
    "header_bytes",
    "section_bytes",
    "psnr",
    "ms_ssim",
    "deep_feature_distance",
    "encode_seconds",
    "decode_seconds",
    "search_seconds",
    "search_encodes",
    "decoder_matches_encoder",
}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _synthetic(h: int = 176, w: int = 176) -> np.ndarray:
    """Smooth gradient plus texture; 176 px sides so MS-SSIM is defined on it."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([xx / w * 200, yy / h * 180, (xx + yy) / (h + w) * 220], axis=2) + 20
    img = base + 30 * np.sin(xx[..., None] / 4) * np.cos(yy[..., None] / 6) + rng.normal(0, 8, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _image_dir(root: Path) -> Path:
    d = root / "images"
    d.mkdir()
    shutil.copy(DATA / "kodim23_crop.png", d / "kodim23_crop.png")  # 192x128
    Image.fromarray(_synthetic()).save(d / "synth.png")
    (d / "notes.txt").write_text("not an image")
    return d


def _unavailable_heic() -> anchors_mod.Anchor:
    heic = anchors_mod.ANCHORS["heic"]
    return anchors_mod.Anchor(
        heic.name,
        heic.settings,
        heic.setting_kind,
        heic.description,
        lambda: (False, "pillow_heif not importable (test)"),
        heic._encode,
        heic._decode,
        heic.options,
    )


@pytest.fixture(scope="module")
def bench(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One bench run shared by the tests below: hyperprior + glc (no weights) + jpeg, webp, heic (missing)."""
    root = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
        mp.setenv("TORCH_HOME", str(root / "torch_home"))  # nothing cached there
        mp.setitem(anchors_mod.ANCHORS, "heic", _unavailable_heic())
        cfg = BenchConfig(
            images_dir=_image_dir(root),
            out=root / "out",
            models=["hyperprior", "glc"],
            anchors=["jpeg", "webp", "heic"],
            targets=TARGETS,
            bd_anchor="jpeg",
            crops=["kodim23_crop", "kodim99"],
            progress=False,
            command="gic bench (test)",
        )
        data = run_bench(cfg)
        results = write_all(data)
        yield {"results": results, "out": root / "out", "cfg": cfg, "data": data}


def test_json_layout(bench: dict[str, Any]) -> None:
    res = bench["results"]
    on_disk = json.loads((bench["out"] / "results.json").read_text())
    assert set(on_disk) == TOP_KEYS
    assert on_disk["schema"] == "gic-bench/1"
    for key in ("cpu", "torch", "date", "command"):
        assert on_disk["environment"][key]
    assert [i["name"] for i in res["images"]] == ["kodim23_crop", "synth"]
    assert [c["name"] for c in res["codecs"]] == ["hyperprior", "jpeg", "webp"]
    assert res["metrics"] == ["psnr", "ms_ssim", "deep_feature_distance"]
    assert len(res["rows"]) == 2 * 3 * len(TARGETS)
    for row in res["rows"]:
        assert set(row) == ROW_KEYS
    assert len(res["summary"]) == 3 * len(TARGETS)
    for e in res["summary"]:
        for key in ("codec", "target_bpp", "n_reached", "n_images", "bpp", "psnr", "ms_ssim"):
            assert key in e
        for key in ("deep_feature_distance", "patch_fd", "patch_fd_n_patches", "encode_seconds", "decode_seconds"):
            assert key in e
    summary = json_summary(res)
    assert set(summary) == {"out", "summary", "bd_rates", "skipped", "not_computed", "files", "notes"}
    json.dumps(summary, allow_nan=False)
    json.dumps(on_disk, allow_nan=False)


def test_real_bpp_is_file_size(bench: dict[str, Any]) -> None:
    ok = [r for r in bench["results"]["rows"] if r["status"] == "ok"]
    assert {r["codec"] for r in ok} == {"hyperprior", "jpeg", "webp"}
    for r in ok:
        path = bench["out"] / r["stream"]
        size = path.stat().st_size
        assert r["bytes"] == size
        assert r["bpp"] == pytest.approx(size * 8 / (r["width"] * r["height"]), rel=1e-12)
        assert r["psnr"] is not None and r["deep_feature_distance"] is not None
        assert r["encode_seconds"] > 0 and r["decode_seconds"] > 0
        if r["kind"] == "gic":
            assert path.suffix == ".gic" and path.parent.name == f"{r['target_bpp']:g}"
            assert r["decoder_matches_encoder"] is True
            assert r["bpp"] <= r["target_bpp"] * 1.05
            assert r["header_bytes"] + sum(r["section_bytes"].values()) == size  # the bit split adds up
        else:
            assert r["bpp"] <= r["target_bpp"]
            assert r["search_encodes"] >= 1
        assert (r["ms_ssim"] is None) == (r["image"] == "kodim23_crop")  # 128 px side < 161


def test_bit_split_means_match_the_rows(bench: dict[str, Any]) -> None:
    results = bench["results"]
    for e in results["summary"]:
        ok = [r for r in results["rows"] if r["codec"] == e["codec"] and r["target_bpp"] == e["target_bpp"]
              and r["status"] == "ok"]
        if e["kind"] != "gic" or not ok:
            assert "bit_split_bpp" not in e
            continue
        assert sum(e["bit_split_bpp"].values()) == pytest.approx(e["bpp"], rel=1e-9)
        assert set(e["bit_split_bpp"]) == {"header", *ok[0]["section_bytes"]}
    assert "## Bit split" in (bench["out"] / "report.md").read_text()


def test_unreachable_targets_are_flagged(bench: dict[str, Any]) -> None:
    rows = bench["results"]["rows"]
    low = [r for r in rows if r["target_bpp"] == 0.02]
    assert len(low) == 6
    for r in low:
        assert r["status"] == "unreachable"
        assert r["stream"] is None and r["bpp"] is None and r["psnr"] is None
        assert "0.02" in r["reason"]
    assert not (bench["out"] / "streams" / "hyperprior" / "0.02").exists()
    assert all(r["status"] == "ok" for r in rows if r["target_bpp"] != 0.02)
    by_key = {(e["codec"], e["target_bpp"]): e for e in bench["results"]["summary"]}
    assert by_key[("hyperprior", 0.02)]["n_reached"] == 0 and by_key[("hyperprior", 0.02)]["bpp"] is None
    full = by_key[("webp", 0.5)]
    assert full["n_reached"] == 2 and full["complete"]
    assert full["ms_ssim"] is None  # one image too small for MS-SSIM
    assert full["patch_fd"] is not None and full["patch_fd_n_patches"] == 6 + 4
    assert full["patch_fd_warning"]  # 10 patches < 320 feature dims


def test_skips_and_metrics_not_computed(bench: dict[str, Any]) -> None:
    res = bench["results"]
    assert "weights" in res["skipped"]["glc"]
    assert res["skipped"]["heic"] == "pillow_heif not importable (test)"
    assert set(res["not_computed"]) == {"LPIPS", "DISTS", "FID/KID"}
    assert all("lpips" not in r and "fid" not in e for r, e in zip(res["rows"], res["summary"]))
    report = (bench["out"] / "report.md").read_text()
    assert "LPIPS not computed" in report and "FID/KID not computed" in report
    assert "**glc**" in report and "**heic**" in report


def test_bd_rates(bench: dict[str, Any]) -> None:
    bd = bench["results"]["bd_rates"]
    assert {b["anchor"] for b in bd} == {"jpeg"}
    assert {(b["codec"], b["metric"]) for b in bd} >= {("hyperprior", "psnr"), ("webp", "deep_feature_distance")}
    for b in bd:
        if b["codec"] in ("glc", "heic"):
            assert b["status"] == "skipped"
        elif b["metric"] == "ms_ssim":
            assert b["status"] == "too few points"
        else:
            assert b["status"] in ("ok", "no overlap"), b
            if b["status"] == "ok":
                assert np.isfinite(b["bd_rate_percent"]) and len(b["metric_range"]) == 2
    report = (bench["out"] / "report.md").read_text()
    assert "BD-rate vs jpeg" in report


def test_report_plots_and_crops(bench: dict[str, Any]) -> None:
    out, files = bench["out"], bench["results"]["files"]
    assert (out / "report.md").is_file()
    assert files["crops"] == [f"crops_kodim23_crop_{t:g}.png" for t in TARGETS[1:]]  # none at 0.02
    with Image.open(out / "crops_kodim23_crop_0.5.png") as im:
        assert im.height >= 128 and im.width >= 4 * 192  # original + 3 codecs, full 192x128 image
    if pytest.importorskip("matplotlib"):
        assert "rd_psnr.png" in files["plots"] and (out / "rd_psnr.png").is_file()
        assert "rd_patch_fd.png" in files["plots"]
        assert "rd_ms_ssim.png" not in files["plots"]  # no mean: one image is too small for MS-SSIM
    for name in files["plots"] + files["crops"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_reuses_streams(bench: dict[str, Any], tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setitem(anchors_mod.ANCHORS, "heic", _unavailable_heic())
    calls: list[str] = []
    monkeypatch.setattr(runner_mod, "_run_gic", lambda *a: calls.append("gic") or (_ for _ in ()).throw(AssertionError))
    cfg = bench["cfg"]
    again = run_bench(BenchConfig(**{**cfg.__dict__, "resume": True, "limit": 1, "crops": []}))
    assert not calls
    before = {(r["image"], r["codec"], r["target_bpp"]): r for r in bench["results"]["rows"]}
    for r in again.rows:
        old = before[(r["image"], r["codec"], r["target_bpp"])]
        assert (r["status"], r["bytes"], r["setting"]) == (old["status"], old["bytes"], old["setting"])
        if r["status"] == "ok":
            assert r["psnr"] == pytest.approx(old["psnr"])


def test_optional_metric_detection_never_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    pkg = tmp_path / "site" / "lpips"
    (pkg / "weights" / "v0.1").mkdir(parents=True)
    (pkg / "weights" / "v0.1" / "alex.pth").write_bytes(b"x")
    (pkg / "__init__.py").write_text(
        "import torch\n"
        "class LPIPS(torch.nn.Module):\n"
        "    def __init__(self, net='alex', verbose=True):\n"
        "        super().__init__()\n"
        "        assert net == 'alex'\n"
        "    def forward(self, a, b):\n"
        "        assert a.min() >= -1 and a.max() <= 1\n"
        "        return ((a - b) ** 2).mean().reshape(1, 1, 1, 1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "lpips", raising=False)
    request.addfinalizer(lambda: sys.modules.pop("lpips", None))  # drop the fake module imported below
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    found = detect_optional_metrics()
    assert "lpips" not in found.pair and "lpips" not in sys.modules  # not imported without cached weights
    assert "not cached" in found.not_computed["LPIPS"] and "never downloads" in found.not_computed["LPIPS"]
    assert "not installed" in found.not_computed["DISTS"] and "installed" in found.not_computed["FID/KID"]

    ckpt = tmp_path / "torch_home" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / runner_mod.ALEXNET_FILE).write_bytes(b"x")
    found = detect_optional_metrics()
    assert "LPIPS" not in found.not_computed
    a = np.zeros((16, 16, 3), np.uint8)
    b = np.full((16, 16, 3), 255, np.uint8)
    assert found.pair["lpips"](a, a) == 0.0
    assert found.pair["lpips"](a, b) == pytest.approx(4.0)


@pytest.fixture()
def cli_runner(tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
    return CliRunner()


def test_cli_bad_directory(cli_runner: CliRunner, tmp_path: Path) -> None:
    r = cli_runner.invoke(cli, ["bench", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [f"error: {tmp_path / 'missing'}: no such directory"]
    (tmp_path / "empty").mkdir()
    r = cli_runner.invoke(cli, ["bench", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "no images" in r.output and len(r.output.strip().splitlines()) == 1


def test_cli_unknown_model_or_anchor(cli_runner: CliRunner, tmp_path: Path) -> None:
    d = _image_dir(tmp_path)
    for args in (["--models", "nope"], ["--anchors", "jpeg,gif"], ["--bd-anchor", "png"]):
        r = cli_runner.invoke(cli, ["bench", str(d), "--out", str(tmp_path / "o"), *args])
        assert r.exit_code == 1, r.output
        assert r.output.startswith("error: unknown") and len(r.output.strip().splitlines()) == 1
    r = cli_runner.invoke(cli, ["bench", str(d), "--bpp", "0.1,x"])
    assert r.exit_code == 2 and "comma-separated numbers" in r.output


def test_cli_json(cli_runner: CliRunner, tmp_path: Path) -> None:
    d = _image_dir(tmp_path)
    out = tmp_path / "o"
    args = ["bench", str(d), "--models", "hyperprior", "--anchors", "jpeg", "--bd-anchor", "jpeg"]
    args += ["--bpp", "0.25,0.6", "--limit", "1", "--crops", "none", "--out", str(out), "--json"]
    r = cli_runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["out"] == str(out)
    assert [(e["codec"], e["target_bpp"], e["n_reached"]) for e in obj["summary"]] == [
        ("hyperprior", 0.25, 1),
        ("hyperprior", 0.6, 1),
        ("jpeg", 0.25, 1),
        ("jpeg", 0.6, 1),
    ]
    saved = json.loads((out / "results.json").read_text())
    assert saved["environment"]["command"] == (
        f"gic bench {d} --models hyperprior --bpp 0.25,0.6 --anchors jpeg --bd-anchor jpeg --out {out} --crops none"
        " --limit 1"
    )
    assert (out / "streams" / "hyperprior" / "0.25" / "kodim23_crop.gic").is_file()
    assert (out / "streams" / "jpeg" / "0.6" / "kodim23_crop.jpg").is_file()
