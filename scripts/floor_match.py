"""gic models against a classic codec at that codec's lowest setting, file size matched per image.

This is the comparison of the GLC issue's done-when: for every image the anchor (default HEIC)
is encoded at its lowest setting (quality 0); each gic model is then encoded with ``size=`` equal
to that file's size in bytes (gic's rate control keeps the real file at or below it, within
5%). Metrics are the bench's (PSNR, MS-SSIM, EfficientNet-Lite0 deep-feature distance), on the
decoded real files.

Usage:
    python scripts/floor_match.py ../shared/data/kodak --models glc --anchor heic --out floor.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

import gencodec
from gencodec.bench.anchors import get_anchor
from gencodec.metrics.deep_features import deep_feature_distance
from gencodec.metrics.ms_ssim import ms_ssim
from gencodec.metrics.psnr import psnr
from gencodec.rate_control import RateUnreachable


def _metrics(ref: np.ndarray, rec: np.ndarray, nbytes: int) -> dict[str, float]:
    return {"bytes": nbytes, "bpp": nbytes * 8 / (ref.shape[0] * ref.shape[1]), "psnr": psnr(ref, rec),
            "ms_ssim": ms_ssim(ref, rec), "dfd": deep_feature_distance(ref, rec)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("--models", default="glc")
    ap.add_argument("--anchor", default="heic")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    anchor = get_anchor(args.anchor)
    models = [m for m in args.models.split(",") if m]
    rows = []
    for f in sorted(args.images.glob("*.png")):
        img = np.asarray(Image.open(f).convert("RGB"))
        data = anchor.encode(img, anchor.settings[0])
        row = {"image": f.stem, args.anchor: _metrics(img, anchor.decode(data), len(data))}
        for m in models:
            try:
                res = gencodec.encode(img, model=m, size=len(data))
            except RateUnreachable as exc:
                row[m] = {"error": str(exc)}
                continue
            rec = gencodec.decode(res.data)
            same = bool(np.array_equal(rec, res.reconstruction))
            row[m] = {**_metrics(img, rec, len(res.data)), "decode_equal": same}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {}
    for c in [args.anchor, *models]:
        ok = [r[c] for r in rows if "error" not in r[c]]
        means = {k: float(np.mean([o[k] for o in ok])) for k in ("bpp", "psnr", "ms_ssim", "dfd")}
        summary[c] = {"n": len(ok), **means}
        if c != args.anchor:
            both = [r for r in rows if "error" not in r[c]]
            summary[c]["dfd_wins"] = sum(r[c]["dfd"] < r[args.anchor]["dfd"] for r in both)
            summary[c]["decode_equal"] = all(r[c]["decode_equal"] for r in both)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
