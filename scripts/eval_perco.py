"""PerCo studies on real files (issue: PerCo): caption vs none at equal bpp, guidance 1 vs 3,
denoising steps, several seeds, and the bit split local / caption / header.

Every number comes from a real .gic stream decoded by ``gencodec.decode``. Metrics are the
bench's: PSNR, MS-SSIM, EfficientNet-Lite0 deep-feature distance (DFD) and the Frechet
distance of 64x64-patch features over the whole set (patch FD; needs enough patches).

Usage:
    python scripts/eval_perco.py ../shared/data/kodak --captions docs/perco/kodak_captions.json \\
        --out /tmp/perco_eval [--limit N] [--study-images 8] [--bpp 0.003,0.005,0.01]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

import gencodec
from gencodec.metrics.deep_features import deep_feature_distance
from gencodec.metrics.frechet import frechet_distance, patch_features
from gencodec.metrics.ms_ssim import ms_ssim
from gencodec.metrics.psnr import psnr
from gencodec.rate_control import RateUnreachable


def _metrics(ref: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(ref, rec), "ms_ssim": ms_ssim(ref, rec), "dfd": deep_feature_distance(ref, rec)}


def _patch_fd(refs: list[np.ndarray], recs: list[np.ndarray]) -> float | None:
    if not refs:
        return None
    a, b = patch_features(refs), patch_features(recs)
    return frechet_distance(a, b) if len(a) > 64 else None


def _split(res: gencodec.api.EncodeResult) -> dict[str, int]:
    sections = res.section_bytes
    return {"local": sections["local"], "caption_bytes": sections["global"], "header": res.header_bytes}


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows])) if rows else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("--captions", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bpp", default="0.003,0.005,0.01")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--study-images", type=int, default=8, help="images used for the guidance/steps/seed studies")
    ap.add_argument("--steps", default="2,4,8,20")
    args = ap.parse_args()
    captions = {k: v for k, v in json.loads(args.captions.read_text()).items() if not k.startswith("_")}
    files = sorted(p for p in args.images.glob("*.png"))[: args.limit]
    targets = [float(x) for x in args.bpp.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    recs: dict[tuple, list[np.ndarray]] = {}
    refs: list[np.ndarray] = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        refs.append(img)
        for target in targets:
            for with_caption in (False, True):
                cap = captions.get(f.stem) if with_caption else None
                try:
                    res = gencodec.encode(img, model="perco", bpp=target, caption=cap)
                except RateUnreachable as exc:
                    rows.append({"image": f.stem, "target": target, "caption": with_caption, "error": str(exc)})
                    continue
                t0 = time.perf_counter()
                out = gencodec.decode(res.data)
                dec_s = time.perf_counter() - t0
                assert np.array_equal(out, res.reconstruction)
                row = {"image": f.stem, "target": target, "caption": with_caption, "bpp": res.bpp,
                       "rate": res.rate, **_split(res), "decode_s": dec_s, **_metrics(img, out)}
                rows.append(row)
                recs.setdefault((target, with_caption), []).append(out)
                print(json.dumps(row), flush=True)
    summary = []
    for (target, with_caption), outs in sorted(recs.items()):
        ok = [r for r in rows if r["target"] == target and r["caption"] == with_caption and "error" not in r]
        ref_sub = [refs[[f.stem for f in files].index(r["image"])] for r in ok]
        summary.append({"target": target, "caption": with_caption, "n": len(ok), "bpp": _mean(ok, "bpp"),
                        **{k: _mean(ok, k) for k in ("local", "caption_bytes", "header", "psnr", "ms_ssim", "dfd",
                                                      "decode_s")},
                        "patch_fd": _patch_fd(ref_sub, outs)})
    studies = _studies(files[: args.study_images], captions, targets, [int(s) for s in args.steps.split(",")],
                       args.out)
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "summary": summary, **studies}, indent=1))
    print(json.dumps({"summary": summary, **studies}, indent=1))


def _studies(files: list[Path], captions: dict[str, str], targets: list[float], steps_list: list[int],
             out_dir: Path) -> dict:
    """Guidance 1 vs 3 and the step count at each rate (decode-time settings), three seeds of one image."""
    guidance_rows, step_rows = [], []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        for target in targets:
            try:
                res = gencodec.encode(img, model="perco", bpp=target, caption=captions.get(f.stem))
            except RateUnreachable:
                continue
            for g in (1.0, 3.0):
                guidance_rows.append({"image": f.stem, "target": target, "guidance": g,
                                      **_metrics(img, gencodec.decode(res.data, guidance=g))})
            for n in steps_list:
                t0 = time.perf_counter()
                rec = gencodec.decode(res.data, steps=n)
                step_rows.append({"image": f.stem, "target": target, "steps": n,
                                  "decode_s": time.perf_counter() - t0, **_metrics(img, rec)})
    seeds = []
    if files:
        img = np.asarray(Image.open(files[0]).convert("RGB"))
        tiles = [img]
        for seed in (0, 1, 2):
            res = gencodec.encode(img, model="perco", bpp=targets[len(targets) // 2], seed=seed,
                                  caption=captions.get(files[0].stem))
            tiles.append(res.reconstruction)
            seeds.append({"seed": seed, "bytes": len(res.data), **_metrics(img, res.reconstruction)})
        Image.fromarray(np.concatenate(tiles, axis=1)).save(out_dir / f"seeds_{files[0].stem}.png")

    def table(rows: list[dict], key: str) -> list[dict]:
        keys = sorted({(r["target"], r[key]) for r in rows})
        return [{"target": t, key: v, **{m: _mean([r for r in rows if r["target"] == t and r[key] == v], m)
                                         for m in ("psnr", "ms_ssim", "dfd") + (("decode_s",) if key == "steps"
                                                                                  else ())}}
                for t, v in keys]

    return {"guidance": table(guidance_rows, "guidance"), "steps": table(step_rows, "steps"), "seeds": seeds}


if __name__ == "__main__":
    main()
