"""PerCo studies on real files (issue: PerCo): caption vs none at equal bpp, guidance 1 vs 3,
denoising steps, several seeds, and the bit split local / caption / header.

Every number comes from a real .gic stream: the metrics are computed on the encoder's
reconstruction, and one decode per image (``gencodec.decode``, default settings) checks that it
is bit-identical and gives the decode time. Metrics are the bench's: PSNR, MS-SSIM,
EfficientNet-Lite0 deep-feature distance (DFD) and the Frechet distance of 64x64-patch features
over the whole set (patch FD). Decode-time settings (guidance, steps) are studied on the first
``--study-images`` images with their captions.

Usage:
    python scripts/eval_perco.py ../shared/data/kodak --captions docs/perco/kodak_captions.json \\
        --out /tmp/perco_eval [--part studies|main|all] [--limit N] [--study-images 8] \\
        [--bpp 0.003,0.005,0.01] [--steps 2,4,8,20]
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
from gencodec.models.perco import DEFAULT_GUIDANCE, DEFAULT_STEPS
from gencodec.rate_control import RateUnreachable

METRICS = ("psnr", "ms_ssim", "dfd")


def _metrics(ref: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    return {"psnr": psnr(ref, rec), "ms_ssim": ms_ssim(ref, rec), "dfd": deep_feature_distance(ref, rec)}


def _patch_fd(refs: list[np.ndarray], recs: list[np.ndarray]) -> tuple[float | None, int]:
    if not refs:
        return None, 0
    a, b = patch_features(refs), patch_features(recs)
    return (frechet_distance(a, b) if len(a) > 64 else None), len(a)


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r]
    return float(np.mean(vals)) if vals else None


def _load(f: Path) -> np.ndarray:
    return np.asarray(Image.open(f).convert("RGB"))


def _encode(img: np.ndarray, target: float, caption: str | None, seed: int = 0):
    try:
        return gencodec.encode(img, model="perco", bpp=target, caption=caption, seed=seed)
    except RateUnreachable:
        return None


def _group(rows: list[dict], keys: tuple[str, ...], refs: dict[str, np.ndarray],
           recs: dict[tuple, list[tuple[str, np.ndarray]]], extra: tuple[str, ...] = ()) -> list[dict]:
    """Mean of the metrics per setting plus the patch FD of that setting over its images."""
    out = []
    for setting in sorted({tuple(r[k] for k in keys) for r in rows}):
        ok = [r for r in rows if tuple(r[k] for k in keys) == setting]
        pairs = recs.get(setting, [])
        fd, n = _patch_fd([refs[name] for name, _ in pairs], [rec for _, rec in pairs])
        out.append({**dict(zip(keys, setting)), "n": len(ok),
                    **{m: _mean(ok, m) for m in ("bpp",) + METRICS + extra}, "patch_fd": fd, "patches": n})
    return out


def main_table(files: list[Path], captions: dict[str, str], targets: list[float]) -> dict:
    """Every image x target, without and with its caption; one timed decode per image."""
    rows: list[dict] = []
    refs: dict[str, np.ndarray] = {}
    recs: dict[tuple, list[tuple[str, np.ndarray]]] = {}
    for f in files:
        img = refs.setdefault(f.stem, _load(f))
        for target in targets:
            for with_caption in (False, True):
                t0 = time.perf_counter()
                res = _encode(img, target, captions.get(f.stem) if with_caption else None)
                enc_s = time.perf_counter() - t0
                if res is None:
                    print(json.dumps({"image": f.stem, "target": target, "caption": with_caption,
                                      "error": "unreachable"}), flush=True)
                    continue
                row = {"image": f.stem, "target": target, "caption": with_caption, "bpp": res.bpp,
                       "rate": res.rate, "local": res.section_bytes["local"],
                       "caption_bytes": res.section_bytes["global"], "header": res.header_bytes,
                       "encode_s": enc_s, **_metrics(img, res.reconstruction)}
                if with_caption and target == targets[-1]:
                    t0 = time.perf_counter()
                    out = gencodec.decode(res.data)
                    row["decode_s"] = time.perf_counter() - t0
                    row["decode_equal"] = bool(np.array_equal(out, res.reconstruction))
                rows.append(row)
                recs.setdefault((target, with_caption), []).append((f.stem, res.reconstruction))
                print(json.dumps(row), flush=True)
    summary = _group(rows, ("target", "caption"), refs, recs,
                     extra=("local", "caption_bytes", "header", "encode_s", "decode_s"))
    return {"rows": rows, "summary": summary,
            "decode_equal": all(r["decode_equal"] for r in rows if "decode_equal" in r),
            "decodes_checked": sum("decode_equal" in r for r in rows)}


def studies(files: list[Path], captions: dict[str, str], targets: list[float], steps_list: list[int],
            out_dir: Path) -> dict:
    """Guidance 1 vs 3 and the step count at each rate (decode-time settings), three seeds of one image."""
    refs: dict[str, np.ndarray] = {}
    g_rows, s_rows = [], []
    g_recs: dict[tuple, list] = {}
    s_recs: dict[tuple, list] = {}
    for f in files:
        img = refs.setdefault(f.stem, _load(f))
        for target in targets:
            res = _encode(img, target, captions.get(f.stem))
            if res is None:
                continue
            for g in (1.0, 3.0):
                rec = res.reconstruction if g == DEFAULT_GUIDANCE else gencodec.decode(res.data, guidance=g)
                g_rows.append({"image": f.stem, "target": target, "guidance": g, "bpp": res.bpp,
                               **_metrics(img, rec)})
                g_recs.setdefault((target, g), []).append((f.stem, rec))
            for n in steps_list:
                t0 = time.perf_counter()
                rec = gencodec.decode(res.data, steps=n)
                s_rows.append({"image": f.stem, "target": target, "steps": n, "bpp": res.bpp,
                               "decode_s": time.perf_counter() - t0, **_metrics(img, rec)})
                s_recs.setdefault((target, n), []).append((f.stem, rec))
            print(f"studies: {f.stem} {target}", flush=True)
    seeds = []
    if files:
        img = refs[files[0].stem]
        tiles = [img]
        for seed in (0, 1, 2):
            res = _encode(img, targets[len(targets) // 2], captions.get(files[0].stem), seed=seed)
            if res is None:
                continue
            tiles.append(res.reconstruction)
            seeds.append({"seed": seed, "bytes": len(res.data), **_metrics(img, res.reconstruction)})
        Image.fromarray(np.concatenate(tiles, axis=1)).save(out_dir / f"seeds_{files[0].stem}.png")
    return {"guidance": _group(g_rows, ("target", "guidance"), refs, g_recs),
            "steps": _group(s_rows, ("target", "steps"), refs, s_recs, extra=("decode_s",)),
            "seeds": seeds, "default_steps": DEFAULT_STEPS, "default_guidance": DEFAULT_GUIDANCE}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("--captions", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--part", choices=("studies", "main", "all"), default="all")
    ap.add_argument("--bpp", default="0.003,0.005,0.01")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--study-images", type=int, default=8, help="images used for the guidance/steps/seed studies")
    ap.add_argument("--steps", default="2,4,8,20")
    args = ap.parse_args()
    captions = {k: v for k, v in json.loads(args.captions.read_text()).items() if not k.startswith("_")}
    files = sorted(p for p in args.images.glob("*.png"))[: args.limit]
    targets = [float(x) for x in args.bpp.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part in ("studies", "all"):
        result = studies(files[: args.study_images], captions, targets, [int(s) for s in args.steps.split(",")],
                         args.out)
        (args.out / "studies.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items()}, indent=1))
    if args.part in ("main", "all"):
        result = main_table(files, captions, targets)
        (args.out / "main.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result["summary"], indent=1))
        print(f"decodes checked: {result['decodes_checked']}, all equal: {result['decode_equal']}")


if __name__ == "__main__":
    main()
