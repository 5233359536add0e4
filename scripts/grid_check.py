"""The 2-pixel decoder grid of a gic model on real files: local Nyquist amplitudes of its decodes.

For every image, the model encodes at ``--bpp`` (real file, rate control as in ``gic encode``) and the
decode is measured with ``gencodec.losses.nyquist.nyquist_amplitude`` (rows / columns / checkerboard,
mean absolute local amplitude in 8-bit levels over 8x8 windows and channels), next to the original's.
A decoder without a grid matches the original; PSNR and the deep-feature distance are printed too.

Usage:
    python scripts/grid_check.py ../shared/data/kodak --model glc --bpp 0.02 --out grid.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import gencodec
from gencodec.losses.nyquist import nyquist_amplitude
from gencodec.metrics.deep_features import deep_feature_distance
from gencodec.metrics.psnr import psnr

PARTS = ("rows", "cols", "checker")


def amplitudes(img: np.ndarray) -> dict[str, float]:
    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1).unsqueeze(0)
    a = nyquist_amplitude(x).abs().mean(dim=(0, 2, 3, 4)) * 255
    return dict(zip(PARTS, (round(float(v), 4) for v in a), strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("--model", default="glc")
    ap.add_argument("--bpp", type=float, default=0.02)
    ap.add_argument("--limit", type=int, default=0, help="first N images (0 = all)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    files = sorted(args.images.glob("*.png"))[: args.limit or None]
    if not files:
        raise SystemExit(f"error: no .png images in {args.images}")
    rows = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        res = gencodec.encode(img, model=args.model, bpp=args.bpp)
        rec = gencodec.decode(res.data)
        row = {"image": f.stem, "bpp": len(res.data) * 8 / (img.shape[0] * img.shape[1]),
               "psnr": psnr(img, rec), "dfd": deep_feature_distance(img, rec),
               "original": amplitudes(img), "decoded": amplitudes(rec)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    mean = {key: {p: float(np.mean([r[key][p] for r in rows])) for p in PARTS} for key in ("original", "decoded")}
    summary = {"model": args.model, "bpp_target": args.bpp, "images": len(rows),
               "bpp": float(np.mean([r["bpp"] for r in rows])), "psnr": float(np.mean([r["psnr"] for r in rows])),
               "dfd": float(np.mean([r["dfd"] for r in rows])), "amplitude": mean}
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
