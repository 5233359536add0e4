"""The gic command line: summaries, JSON, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gencodec.cli.main import cli


@pytest.fixture()
def runner(tiny_weights, monkeypatch) -> CliRunner:
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
    return CliRunner()


def _png(tmp_path: Path, img: np.ndarray, name: str = "in.png") -> Path:
    p = tmp_path / name
    Image.fromarray(img).save(p)
    return p


def test_encode_decode_info(runner, tmp_path, crop_image) -> None:
    src = _png(tmp_path, crop_image)
    r = runner.invoke(cli, ["encode", str(src), "-o", str(tmp_path / "a.gic"), "--rate", "120", "--json"])
    assert r.exit_code == 0, r.output
    enc = json.loads(r.output)
    assert enc["bytes"] == (tmp_path / "a.gic").stat().st_size
    r = runner.invoke(cli, ["info", str(tmp_path / "a.gic"), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    for key in ("model", "width", "height", "bytes", "bpp", "header_bytes", "sections"):
        assert key in info
    assert info["bytes"] == enc["bytes"] and info["width"] == 192 and info["height"] == 128
    assert info["header_bytes"] + sum(info["sections"].values()) == info["bytes"]
    r = runner.invoke(cli, ["decode", str(tmp_path / "a.gic"), "-o", str(tmp_path / "a.png")])
    assert r.exit_code == 0, r.output
    assert np.asarray(Image.open(tmp_path / "a.png")).shape == crop_image.shape


def test_bpp_option(runner, tmp_path, crop_image) -> None:
    src = _png(tmp_path, crop_image)
    hi = json.loads(
        runner.invoke(cli, ["encode", str(src), "-o", str(tmp_path / "h.gic"), "--rate", "255", "--json"]).output
    )["bpp"]
    target = hi * 0.7
    r = runner.invoke(cli, ["encode", str(src), "-o", str(tmp_path / "b.gic"), "--bpp", str(target), "--json"])
    assert r.exit_code == 0, r.output
    assert abs(json.loads(r.output)["bpp"] - target) / target <= 0.05


@pytest.mark.parametrize(
    "args, message",
    [
        (["encode", "missing.png"], "no such file"),
        (["encode", "notimage.png"], "not an image"),
        (["decode", "missing.gic"], "no such file"),
        (["decode", "corrupt.gic"], "checksum mismatch"),
        (["decode", "notgic.gic"], "bad magic"),
        (["info", "truncated.gic"], "ends"),
        (["encode", "in.png", "--bpp", "0.000001"], "cannot reach"),
    ],
)
def test_errors_are_one_line(runner, tmp_path, crop_image, args, message) -> None:
    os.chdir(tmp_path)
    _png(tmp_path, crop_image)
    (tmp_path / "notimage.png").write_bytes(b"hello, not a png")
    r = runner.invoke(cli, ["encode", "in.png", "-o", "good.gic", "--rate", "50"])
    assert r.exit_code == 0, r.output
    good = (tmp_path / "good.gic").read_bytes()
    (tmp_path / "corrupt.gic").write_bytes(good[:-1] + bytes([good[-1] ^ 0x10]))
    (tmp_path / "notgic.gic").write_bytes(b"PK\x03\x04 zip file")
    (tmp_path / "truncated.gic").write_bytes(good[:5])
    r = runner.invoke(cli, args)
    assert r.exit_code != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()] if hasattr(r, "stderr") else r.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert message in lines[0].lower()
    assert "Traceback" not in r.output


def test_existing_output_needs_force(runner, tmp_path, crop_image) -> None:
    src = _png(tmp_path, crop_image)
    out = tmp_path / "x.gic"
    out.write_bytes(b"keep me")
    r = runner.invoke(cli, ["encode", str(src), "-o", str(out), "--rate", "5"])
    assert r.exit_code == 1 and "--force" in r.output
    assert out.read_bytes() == b"keep me"
    r = runner.invoke(cli, ["encode", str(src), "-o", str(out), "--rate", "5", "--force"])
    assert r.exit_code == 0 and out.read_bytes()[:1] == b"g"


def test_never_overwrites_input(runner, tmp_path, crop_image) -> None:
    src = _png(tmp_path, crop_image, "same.png")
    before = src.read_bytes()
    r = runner.invoke(cli, ["encode", str(src), "-o", str(src), "--rate", "5", "--force"])
    assert r.exit_code == 1 and "input" in r.output
    assert src.read_bytes() == before


def test_subprocess_exit_codes(tmp_path, tiny_weights, monkeypatch) -> None:
    """A real process: missing input gives exit 1 and one stderr line, no traceback."""
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
    r = subprocess.run(
        [sys.executable, "-m", "gencodec.cli", "decode", str(tmp_path / "nope.gic")], capture_output=True, text=True
    )
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error: ")
    assert "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "gencodec.cli", "encode", "--bpp", "x", "in.png"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
