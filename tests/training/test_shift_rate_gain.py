"""scripts/shift_rate_gain.py edits one rate point of a checkpoint and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "shift_rate_gain.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_shifts_one_rate_index_and_keeps_everything_else(tmp_path) -> None:
    ckpt = tmp_path / "run" / "checkpoint"
    ckpt.mkdir(parents=True)
    gains = torch.linspace(-1, 1, 15).reshape(5, 3)
    other = torch.randn(4, 4)
    save_file({"model.y_gain.log_gain": gains, "decoder.w": other}, str(ckpt / "model.safetensors"))
    done = _run(str(tmp_path / "run"), "--index", "0", "--delta", "-0.25")
    assert done.returncode == 0, done.stderr
    after = load_file(str(ckpt / "model.safetensors"))
    assert torch.allclose(after["model.y_gain.log_gain"][0], gains[0] - 0.25)
    assert torch.equal(after["model.y_gain.log_gain"][1:], gains[1:])
    assert torch.equal(after["decoder.w"], other)
    bad = _run(str(tmp_path / "run"), "--index", "5", "--delta", "-0.25")
    assert bad.returncode != 0 and bad.stderr.strip() == "error: rate index 5 outside 0..4"
    missing = _run(str(tmp_path / "nowhere"), "--index", "0", "--delta", "1")
    assert missing.returncode != 0 and "no checkpoint" in missing.stderr and "Traceback" not in missing.stderr
