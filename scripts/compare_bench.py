"""Paired comparison of two `gic bench` runs of one codec, image by image.

    python scripts/compare_bench.py docs/bench/glc10/results.json runs/bench_new/results.json glc

For every target rate both runs reached on the same images: mean bpp, PSNR, MS-SSIM and deep-feature
distance (DFD) of each run, and on how many images the second run's DFD is lower. Two weight versions
are compared on the same images and targets, so the per-image count says more than the means alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

METRICS = ("bpp", "psnr", "ms_ssim", "deep_feature_distance")


def load_rows(path: Path, codec: str) -> dict[tuple[float, str], dict]:
    """(target bpp, image) -> the bench row of ``codec`` that reached its target."""
    rows = json.loads(path.read_text())["rows"]
    return {(r["target_bpp"], r["image"]): r for r in rows if r["codec"] == codec and r["status"] == "ok"}


def compare(old: dict[tuple[float, str], dict], new: dict[tuple[float, str], dict]) -> list[dict]:
    """One summary per target rate over the images both runs reached."""
    out = []
    for target in sorted({t for t, _ in old} & {t for t, _ in new}):
        images = sorted(i for t, i in old if t == target and (target, i) in new)
        if not images:
            continue
        pairs = [(old[(target, i)], new[(target, i)]) for i in images]
        mean = {side: {m: sum(p[k][m] for p in pairs) / len(pairs) for m in METRICS}
                for k, side in enumerate(("old", "new"))}
        better = sum(b["deep_feature_distance"] < a["deep_feature_distance"] for a, b in pairs)
        out.append({"target": target, "images": len(images), **mean, "new_dfd_lower": better})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", type=Path, help="results.json of the reference run")
    p.add_argument("new", type=Path, help="results.json of the candidate run")
    p.add_argument("codec")
    a = p.parse_args(argv)
    try:
        summary = compare(load_rows(a.old, a.codec), load_rows(a.new, a.codec))
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not summary:
        print(f"error: no target rate of {a.codec} reached on the same images in both runs", file=sys.stderr)
        return 1
    print("| target | images | old bpp / PSNR / MS-SSIM / DFD | new bpp / PSNR / MS-SSIM / DFD | new DFD lower |")
    print("|---|---|---|---|---|")
    for s in summary:
        cells = [" / ".join(f"{s[side][m]:.4f}" if m in ("bpp", "deep_feature_distance") else f"{s[side][m]:.3f}"
                            for m in METRICS) for side in ("old", "new")]
        print(f"| {s['target']} | {s['images']} | {cells[0]} | {cells[1]} | {s['new_dfd_lower']} of {s['images']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
