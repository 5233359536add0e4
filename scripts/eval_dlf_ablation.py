"""DLF ablations (seed 002, Table 3) on real files: full model vs without the interactive transform vs
tokens only, each from its own weights folder, as BD-rates against the full model.

Each image is analyzed once per variant and coded at fixed rate points (no rate search); the bpp is the
real ``.gic`` size (header included), the reconstruction is the encoder's, which ``gic decode``
reproduces bit-exactly. The tokens-only model has one rate (its fixed semantic bits), so it gets no
curve: its figure is the bit change at equal quality against the full model's curve (log-linear
interpolation), or the reason it has none.

Usage: python scripts/eval_dlf_ablation.py full=DIR noit=DIR tokens=DIR --images KODAK_DIR [--limit N]
       [--rates 0,85,170,255] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from gencodec.bench.bdrate import bd_rate
from gencodec.container.format import Header, pack
from gencodec.container.registry import model_code
from gencodec.metrics.deep_features import deep_feature_distance
from gencodec.metrics.psnr import psnr
from gencodec.models.registry import load_codec

METRICS = (("psnr", True), ("dfd", False))


def evaluate(weights_dir: Path, images: list[Path], rates: list[int]) -> list[dict]:
    codec = load_codec("dlf", weights_dir)
    rows = []
    for f in images:
        img = np.asarray(Image.open(f).convert("RGB"))
        h, w = img.shape[:2]
        a = codec.analyze(img)
        first = len(rows)
        for r in rates if codec.cfg.detail_branch else rates[:1]:
            enc = codec.code(a, r)
            data = pack(Header(model_code("dlf"), codec.weights.tag, h, w, r), enc.sections)
            rec = codec.reconstruct(a, enc)
            rows.append({"image": f.stem, "rate": r, "bpp": 8 * len(data) / (h * w),
                         "sections_bytes": [len(s) for s in enc.sections],
                         "psnr": psnr(img, rec), "dfd": deep_feature_distance(img, rec)})
        print(f"{weights_dir.name} {f.stem}: " + " ".join(f"{x['bpp']:.4f}/{x['dfd']:.3f}" for x in rows[first:]),
              flush=True)
    return rows


def mean_curve(rows: list[dict]) -> dict[int, dict[str, float]]:
    out = {}
    for r in sorted({x["rate"] for x in rows}):
        sel = [x for x in rows if x["rate"] == r]
        out[r] = {k: float(np.mean([x[k] for x in sel])) for k in ("bpp", "psnr", "dfd")}
    return out


def bits_at_equal_quality(point: dict[str, float], curve: dict[int, dict[str, float]], metric: str,
                          higher: bool) -> str:
    """Percent bit change of a single point against a curve at the point's quality, or why there is none."""
    pts = sorted(curve.values(), key=lambda p: p[metric] * (1 if higher else -1))
    q = np.array([p[metric] for p in pts]) * (1 if higher else -1)
    lr = np.log(np.array([p["bpp"] for p in pts]))
    target = point[metric] * (1 if higher else -1)
    if target < q[0]:
        return (f"worse than the full model at its lowest rate ({pts[0]['bpp']:.4f} bpp, {metric} "
                f"{pts[0][metric]:.4f}) while using {100 * point['bpp'] / pts[0]['bpp']:.0f}% of its bits")
    if target > q[-1]:
        return "better than the full model's highest rate"
    equal = float(np.exp(np.interp(target, q, lr)))
    return f"{100 * (point['bpp'] / equal - 1):+.1f}% bits at equal {metric} (full model: {equal:.4f} bpp)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", help="NAME=WEIGHTS_DIR; the first is the anchor (full model)")
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--rates", default="0,85,170,255")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    images = sorted(args.images.glob("*.png"))[: args.limit]
    rates = [int(r) for r in args.rates.split(",")]
    results = {}
    for v in args.variants:
        name, wdir = v.split("=", 1)
        results[name] = evaluate(Path(wdir), images, rates)
    anchor, *others = results
    curves = {name: mean_curve(rows) for name, rows in results.items()}
    summary: dict[str, dict] = {}
    for name in others:
        summary[name] = {}
        for metric, higher in METRICS:
            a, b = curves[anchor], curves[name]
            if len(b) < 2:
                summary[name][metric] = bits_at_equal_quality(next(iter(b.values())), a, metric, higher)
                continue
            try:
                pct, rng = bd_rate([p["bpp"] for p in a.values()], [p[metric] for p in a.values()],
                                   [p["bpp"] for p in b.values()], [p[metric] for p in b.values()], higher)
                summary[name][metric] = f"BD-rate {pct:+.1f}% over {metric} {rng[0]:.4f}..{rng[1]:.4f}"
            except ValueError as e:
                summary[name][metric] = f"no BD-rate: {e}"
    for name, curve in curves.items():
        print(f"\n{name}")
        for r, p in curve.items():
            print(f"  rate {r:3d}: {p['bpp']:.4f} bpp, PSNR {p['psnr']:.2f}, DFD {p['dfd']:.4f}")
        for metric, text in summary.get(name, {}).items():
            print(f"  vs {anchor} ({metric}): {text}")
    if args.out:
        args.out.write_text(json.dumps({"images": [f.stem for f in images], "rates": rates, "rows": results,
                                        "curves": curves, "vs_" + anchor: summary}, indent=1))


if __name__ == "__main__":
    main()
