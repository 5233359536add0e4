"""``gic bench`` refuses an output folder that another bench is writing, and never leaves a stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gencodec.bench.out_lock import LOCK_NAME, OutDirBusy, locked_out_dir
from gencodec.cli.main import cli

_HOLD = """
import sys, time
from pathlib import Path
from gencodec.bench.out_lock import locked_out_dir
with locked_out_dir(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(out: Path) -> subprocess.Popen[str]:
    """A separate process that takes the lock on ``out`` and sleeps."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_holder_is_refused_with_the_pid(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _holder(out)
    try:
        with pytest.raises(OutDirBusy, match=rf"another gic bench \(pid {proc.pid}\)"), locked_out_dir(out):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _holder(out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with locked_out_dir(out) as held:
        assert held == out
        assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_lock_is_released_after_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), locked_out_dir(out):
        raise RuntimeError("boom")
    with locked_out_dir(out):
        pass


def test_cli_refuses_a_busy_out_dir_in_one_line(tiny_weights: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GIC_WEIGHTS_DIR", str(tiny_weights))
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(images / "a.png")
    out = tmp_path / "out"
    proc = _holder(out)
    try:
        start = time.monotonic()
        r = CliRunner().invoke(cli, ["bench", str(images), "--models", "hyperprior", "--anchors", "none",
                                     "--bpp", "0.5", "--out", str(out)])
        assert time.monotonic() - start < 30  # refused at once, not after waiting for the holder
    finally:
        proc.kill()
        proc.wait()
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"pid {proc.pid}" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing else was written
