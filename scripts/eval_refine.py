"""Measure SGA refinement and ROI masks on Kodak (real file sizes).

    python scripts/eval_refine.py sga --model hyperprior --bpp 0.02,0.05 [--limit N] --out docs/refine_sga.json
    python scripts/eval_refine.py roi --model hyperprior --bpp 0.05 --out docs/refine_roi.json

sga: per image, plain encoding vs --refine sga at the same --bpp: real bpp,
PSNR, MS-SSIM, EffNet-Lite0 feature distance (DFD), encode seconds.
roi: for the masks in docs/roi/, --refine sga with and without --roi at the
same --bpp: PSNR and DFD inside and outside the mask, plus side-by-side crops.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

import gencodec
from gencodec.metrics import deep_feature_distance, ms_ssim, psnr
from gencodec.rate_control import RateUnreachable

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"


def _load(name: str) -> np.ndarray:
    return np.asarray(Image.open(KODAK / f"{name}.png").convert("RGB"))


def _metrics(ref: np.ndarray, img: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(ref, img), "ms_ssim": ms_ssim(ref, img), "dfd": deep_feature_distance(ref, img)}


def run_sga(model: str, bpps: list[float], limit: int | None, steps: int | None) -> dict:
    names = sorted(p.stem for p in KODAK.glob("kodim*.png"))[:limit]
    rows: list[dict] = []
    skipped: list[dict] = []
    for name in names:
        img = _load(name)
        for bpp in bpps:
            t0 = time.perf_counter()
            try:
                plain = gencodec.encode(img, model=model, bpp=bpp)
            except RateUnreachable as exc:
                skipped.append({"image": name, "target": bpp, "reason": str(exc)})
                print(json.dumps(skipped[-1]), flush=True)
                continue
            t1 = time.perf_counter()
            ref = gencodec.encode(img, model=model, bpp=bpp, refine="sga", refine_steps=steps)
            t2 = time.perf_counter()
            dec = gencodec.decode(ref.data)
            assert np.array_equal(dec, ref.reconstruction)
            row = {"image": name, "target": bpp, "plain_bpp": plain.bpp, "sga_bpp": ref.bpp,
                   "plain_seconds": t1 - t0, "sga_seconds": t2 - t1, "sga_note": ref.notes}
            row.update({f"plain_{k}": v for k, v in _metrics(img, plain.reconstruction).items()})
            row.update({f"sga_{k}": v for k, v in _metrics(img, dec).items()})
            rows.append(row)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    summary = {}
    for bpp in bpps:
        rs = [r for r in rows if r["target"] == bpp]
        summary[str(bpp)] = {k: float(np.mean([r[k] for r in rs])) for k in rs[0] if k not in ("image", "sga_note")}
    return {"model": model, "rows": rows, "unreachable": skipped, "summary": summary}


def _masked(ref: np.ndarray, img: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """PSNR and DFD inside (m) and outside (1-m) the mask."""
    out = {}
    for tag, w in (("in", m), ("out", 1 - m)):
        sel = w > 0.5
        mse = float(((ref.astype(np.float64) - img) ** 2)[sel].mean())
        out[f"psnr_{tag}"] = 10 * np.log10(255**2 / mse)
        mixed = np.where(sel[..., None], img, ref)  # differences only in this region
        ys, xs = np.nonzero(sel)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        out[f"dfd_{tag}"] = deep_feature_distance(ref[y0:y1, x0:x1], mixed[y0:y1, x0:x1])
    return out


def run_roi(model: str, bpp: float, steps: int | None, crops_dir: Path) -> dict:
    rows = []
    crops_dir.mkdir(parents=True, exist_ok=True)
    for mask_path in sorted((ROOT / "docs" / "roi").glob("*_mask.png")):
        name = mask_path.stem.replace("_mask", "")
        img = _load(name)
        m = np.asarray(Image.open(mask_path).convert("L"), dtype=np.float32) / 255
        plain = gencodec.encode(img, model=model, bpp=bpp, refine="sga", refine_steps=steps)
        roi = gencodec.encode(img, model=model, bpp=bpp, refine="sga", refine_steps=steps, roi=m)
        row = {"image": name, "target": bpp, "sga_bpp": plain.bpp, "roi_bpp": roi.bpp}
        row.update({f"sga_{k}": v for k, v in _masked(img, plain.reconstruction, m).items()})
        row.update({f"roi_{k}": v for k, v in _masked(img, roi.reconstruction, m).items()})
        rows.append(row)
        ys, xs = np.nonzero(m > 0.5)
        cy, cx = int(ys.mean()), int(xs.mean())
        h, w = img.shape[:2]
        y0, x0 = max(0, min(h - 256, cy - 128)), max(0, min(w - 256, cx - 128))
        tiles = [a[y0:y0 + 256, x0:x0 + 256] for a in (img, plain.reconstruction, roi.reconstruction)]
        Image.fromarray(np.concatenate(tiles, axis=1)).save(crops_dir / f"roi_{name}_{model}_{bpp}.png")
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    keys = [k for k in rows[0] if k != "image"]
    return {"model": model, "rows": rows, "summary": {k: float(np.mean([r[k] for r in rows])) for k in keys}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sga", "roi"])
    ap.add_argument("--model", default="hyperprior")
    ap.add_argument("--bpp", default="0.02,0.05")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    bpps = [float(b) for b in args.bpp.split(",")]
    if args.mode == "sga":
        result = run_sga(args.model, bpps, args.limit, args.steps)
    else:
        result = run_roi(args.model, bpps[0], args.steps, ROOT / "docs" / "img")
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
