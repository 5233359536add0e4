"""scripts/compare_bench.py pairs two bench runs image by image and counts where the new one is better."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_bench.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def _row(image: str, target: float, dfd: float, status: str = "ok", codec: str = "glc") -> dict:
    return {"image": image, "codec": codec, "target_bpp": target, "status": status, "bpp": target,
            "psnr": 20.0, "ms_ssim": 0.5, "deep_feature_distance": dfd}


def _results(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps({"rows": rows}))
    return path


def test_pairs_images_and_counts_lower_distance(tmp_path) -> None:
    old = _results(tmp_path / "old.json", [_row("a", 0.01, 1.0), _row("b", 0.01, 1.0), _row("c", 0.01, 1.0),
                                           _row("a", 0.02, 0.9), _row("a", 0.01, 0.1, codec="hific")])
    # c failed in the new run, so it is left out of the pairs; b got worse, a better
    new = _results(tmp_path / "new.json", [_row("a", 0.01, 0.8), _row("b", 0.01, 1.3),
                                           _row("c", 0.01, 0.1, status="unreachable"), _row("a", 0.02, 0.95)])
    done = _run(str(old), str(new), "glc")
    assert done.returncode == 0, done.stderr
    lines = {line.split(" | ")[0]: line for line in done.stdout.splitlines() if line.startswith("| 0.0")}
    assert "| 2 |" in lines["| 0.01"] and "1.0000" in lines["| 0.01"] and "1.0500" in lines["| 0.01"]
    assert lines["| 0.01"].endswith("1 of 2 |")
    assert lines["| 0.02"].endswith("0 of 1 |")


def test_no_common_rows_is_a_one_line_error(tmp_path) -> None:
    old = _results(tmp_path / "old.json", [_row("a", 0.01, 1.0)])
    new = _results(tmp_path / "new.json", [_row("a", 0.04, 1.0)])
    done = _run(str(old), str(new), "glc")
    assert done.returncode == 1
    assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1
    assert _run(str(tmp_path / "missing.json"), str(new), "glc").returncode == 1
