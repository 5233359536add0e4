"""Batch mode: folders and globs, relative paths kept, skip/force, failures summarized."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gencodec.cli.main import cli

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture()
def tree(tmp_path, tiny_weights, monkeypatch) -> Path:
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(DATA / "kodim23_crop.png", src / "a.png")
    shutil.copy(DATA / "kodim04_odd.png", src / "sub" / "b.png")
    (src / "broken.png").write_bytes(b"not an image")
    return tmp_path


def test_batch_encode_decode(tree: Path) -> None:
    r = CliRunner().invoke(cli, ["encode", str(tree / "in"), "-o", str(tree / "out"), "--rate", "30", "--json"])
    assert r.exit_code == 1  # the broken file fails, the others are coded
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    status = {Path(x["input"]).name: x["status"] for x in rows}
    assert status == {"a.png": "ok", "b.png": "ok", "broken.png": "failed"}
    assert (tree / "out" / "a.gic").exists() and (tree / "out" / "sub" / "b.gic").exists()
    assert "error: " in r.stderr and "broken.png" in r.stderr and r.stderr.count("\n") == 1
    # second run: existing outputs are skipped; --force redoes them
    r = CliRunner().invoke(cli, ["encode", str(tree / "in" / "**" / "*.png"), "-o", str(tree / "out2"),
                                 "--rate", "30", "--json"])
    names = sorted(Path(json.loads(x)["output"]).relative_to(tree / "out2").as_posix() for x in r.stdout.splitlines())
    assert names == ["a.gic", "broken.gic", "sub/b.gic"]
    r = CliRunner().invoke(cli, ["encode", str(tree / "in"), "-o", str(tree / "out"), "--rate", "30", "--json"])
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()} == {"skipped", "failed"}
    r = CliRunner().invoke(cli, ["decode", str(tree / "out"), "-o", str(tree / "png"), "-j", "2"])
    assert r.exit_code == 0, r.output
    assert (tree / "png" / "sub" / "b.png").exists() and "2 ok" in r.stdout


def test_batch_needs_outdir(tree: Path) -> None:
    r = CliRunner().invoke(cli, ["encode", str(tree / "in"), "--rate", "30"])
    assert r.exit_code == 2 and "-o OUTDIR" in r.output
    r = CliRunner().invoke(cli, ["decode", str(tree / "in"), "-o", str(tree / "x")])
    assert r.exit_code == 1 and "no .gic files" in r.stderr
