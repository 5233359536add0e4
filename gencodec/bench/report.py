"""``gic bench`` outputs: summary per (codec, target), BD-rates, results.json, report.md, RD plots, crop grids.

Means are over the images a codec reached at a target. A (codec, target) point enters the BD-rate and the RD
lines only when every image reached it, so all points of a curve average the same images (partial points are
drawn hollow and are left out of BD-rates). A per-image metric mean is None if any reached image lacks it
(e.g. MS-SSIM on images with a side < 161 px).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from gencodec.bench.bdrate import bd_rate
from gencodec.bench.runner import BenchData

__all__ = [
    "BD_METRICS",
    "bd_rates",
    "crop_grids",
    "json_summary",
    "plot_rd",
    "render_markdown",
    "summarize",
    "write_all",
]

# metric -> higher is better (BD-rate direction)
BD_METRICS: dict[str, bool] = {
    "psnr": True,
    "ms_ssim": True,
    "deep_feature_distance": False,
    "lpips": False,
    "dists": False,
}
LABELS = {
    "psnr": "PSNR (dB)",
    "ms_ssim": "MS-SSIM",
    "deep_feature_distance": "EffNet-Lite0 feature distance (lower is better)",
    "lpips": "LPIPS (AlexNet, lower is better)",
    "dists": "DISTS (lower is better)",
    "patch_fd": "patch Frechet distance, EffNet-Lite0, 64 px (lower is better)",
    "fid": "FID, 256 px patches (lower is better)",
    "kid": "KID, 256 px patches (lower is better)",
}
SHORT = {
    "psnr": "PSNR",
    "ms_ssim": "MS-SSIM",
    "deep_feature_distance": "DFD",
    "lpips": "LPIPS",
    "dists": "DISTS",
    "patch_fd": "patch FD",
    "fid": "FID",
    "kid": "KID",
}


def _mean(values: list[Any]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))


def summarize(data: BenchData) -> list[dict[str, Any]]:
    """One entry per (codec, target): counts, mean real bpp, mean metrics, set metrics, mean timings."""
    n_images = len(data.images)
    out = []
    for c in data.codecs:
        for target in data.config["targets"]:
            sel = [r for r in data.rows if r["codec"] == c["name"] and r["target_bpp"] == target]
            ok = [r for r in sel if r["status"] == "ok"]
            bpps = [r["bpp"] for r in ok]
            e: dict[str, Any] = {
                "codec": c["name"],
                "kind": c["kind"],
                "target_bpp": target,
                "n_images": n_images,
                "n_reached": len(ok),
                "n_unreachable": sum(r["status"] == "unreachable" for r in sel),
                "n_errors": sum(r["status"] == "error" for r in sel),
                "complete": len(ok) == n_images and n_images > 0,
                "bpp": _mean(bpps),
                "bpp_min": min(bpps) if bpps else None,
                "bpp_max": max(bpps) if bpps else None,
            }
            for m in data.metrics:
                e[m] = _mean([r[m] for r in ok])
            e.update(data.set_metrics.get((c["name"], target), {}))
            split = bit_split(ok)
            if split:
                e["bit_split_bpp"] = split
            e["encode_seconds"] = _mean([r["encode_seconds"] for r in ok])
            e["decode_seconds"] = _mean([r["decode_seconds"] for r in ok])
            out.append(e)
    return out


def bit_split(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """Mean bpp of the header and of each named section over gic rows (None for anchors or old rows)."""
    if not rows or any(r.get("section_bytes") is None for r in rows):
        return None
    names = list(dict.fromkeys(n for r in rows for n in r["section_bytes"]))
    out = {"header": float(np.mean([8 * r["header_bytes"] / (r["width"] * r["height"]) for r in rows]))}
    for n in names:
        out[n] = float(np.mean([8 * r["section_bytes"].get(n, 0) / (r["width"] * r["height"]) for r in rows]))
    return out


def _curve(summary: list[dict[str, Any]], codec: str, metric: str) -> tuple[list[float], list[float]]:
    pts = [
        (e["bpp"], e[metric])
        for e in summary
        if e["codec"] == codec and e["complete"] and e["bpp"] is not None and e.get(metric) is not None
    ]
    pts.sort()
    return [p[0] for p in pts], [p[1] for p in pts]


def _span(xs: list[float]) -> list[float] | None:
    return [min(xs), max(xs)] if xs else None


def bd_rates(data: BenchData, summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BD-rate (%) of every other codec vs the BD anchor, per metric, over the overlapping metric range."""
    anchor = data.config.get("bd_anchor")
    if not anchor:
        return []
    names = [c["name"] for c in data.codecs]
    metrics = [m for m in BD_METRICS if m in data.metrics]
    out = []
    for codec in [n for n in [*names, *data.skipped] if n != anchor]:
        for m in metrics:
            hib = BD_METRICS[m]
            e: dict[str, Any] = {
                "codec": codec,
                "anchor": anchor,
                "metric": m,
                "higher_is_better": hib,
                "status": "ok",
                "bd_rate_percent": None,
                "metric_range": None,
                "codec_bpp_range": None,
                "anchor_bpp_range": None,
                "detail": "",
            }
            out.append(e)
            if anchor in data.skipped or codec in data.skipped:
                who = anchor if anchor in data.skipped else codec
                e["status"] = "skipped"
                e["detail"] = f"{who} skipped: {data.skipped[who]}"
                continue
            ra, ma = _curve(summary, anchor, m)
            rb, mb = _curve(summary, codec, m)
            e["codec_bpp_range"], e["anchor_bpp_range"] = _span(rb), _span(ra)
            if len(ra) < 2 or len(rb) < 2:
                e["status"] = "too few points"
                e["detail"] = (
                    f"needs >= 2 targets reached on every image with {m} available: "
                    f"{codec} has {len(rb)}, {anchor} has {len(ra)}"
                )
                continue
            try:
                value, rng = bd_rate(ra, ma, rb, mb, higher_is_better=hib)
            except ValueError as exc:
                msg = str(exc)
                e["status"] = "no overlap" if "no overlap" in msg else "error"
                e["detail"] = msg
                continue
            e["bd_rate_percent"] = value
            e["metric_range"] = list(rng)
            e["detail"] = f"over {m} {rng[0]:.4g}..{rng[1]:.4g}"
    return out


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def plot_rd(summary: list[dict[str, Any]], metrics: list[str], out: Path, n_images: int) -> tuple[list[str], str]:
    """rd_<metric>.png per metric with data: mean real bpp (log x) vs mean metric, one line per codec."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        return [], "RD plots not written: matplotlib is not installed (pip install 'gencodec[bench]')"
    files = []
    codecs = list(dict.fromkeys(e["codec"] for e in summary))
    for m in metrics:
        if not any(e.get(m) is not None and e["bpp"] is not None for e in summary):
            continue
        fig = Figure(figsize=(6.4, 4.4), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for i, codec in enumerate(codecs):
            color = f"C{i % 10}"
            pts = [e for e in summary if e["codec"] == codec and e["bpp"] is not None and e.get(m) is not None]
            full = sorted((e["bpp"], e[m]) for e in pts if e["complete"])
            part = sorted((e["bpp"], e[m]) for e in pts if not e["complete"])
            if full:
                ax.plot(*zip(*full), "o-", color=color, label=codec)
            if part:
                ax.plot(*zip(*part), "o", color=color, mfc="none", label=None if full else f"{codec} (partial)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bits per pixel (real file size, log scale)")
        ax.set_ylabel(LABELS.get(m, m))
        ax.set_title(f"{SHORT.get(m, m)} vs bpp: mean over {n_images} image(s); hollow = not all images reached")
        ax.title.set_fontsize(9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"rd_{m}.png"
        fig.savefig(out / name)
        files.append(name)
    return files, ""


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def crop_grids(data: BenchData, out: Path) -> list[str]:
    """crops_<image>_<bpp>.png: original | each codec at that target, labelled with codec and real bpp.

    Grids are drawn for the targets at least one codec reached on that image.
    """
    from PIL import Image, ImageDraw

    files = []
    font = _font(12)
    label_h = 18
    for name, crop in data.crops.items():
        orig = crop["original"]
        ch, cw = orig.shape[:2]
        for target in data.config["targets"]:
            if not any((c["name"], target) in crop["tiles"] for c in data.codecs):
                continue  # nobody reached this target on this image
            tiles: list[tuple[str, np.ndarray | None]] = [("original", orig)]
            for c in data.codecs:
                got = crop["tiles"].get((c["name"], target))
                if got is None:
                    tiles.append((f"{c['name']}: not reached", None))
                else:
                    tiles.append((f"{c['name']} {got[1]:.4f} bpp", got[0]))
            pad = 4
            grid = Image.new("RGB", (len(tiles) * (cw + pad) + pad, ch + label_h + 2 * pad), (255, 255, 255))
            draw = ImageDraw.Draw(grid)
            for i, (label, tile) in enumerate(tiles):
                x = pad + i * (cw + pad)
                draw.text((x + 2, pad), label, fill=(0, 0, 0), font=font)
                if tile is None:
                    draw.rectangle([x, pad + label_h, x + cw - 1, pad + label_h + ch - 1], fill=(200, 200, 200))
                else:
                    grid.paste(Image.fromarray(tile), (x, pad + label_h))
            fname = f"crops_{name}_{target:g}.png"
            grid.save(out / fname)
            files.append(fname)
    return files


# --------------------------------------------------------------------------------------------
# JSON and markdown
# --------------------------------------------------------------------------------------------


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def render_markdown(results: dict[str, Any]) -> str:
    """report.md: configuration, skips, summary table, BD-rates, figures, notes."""
    cfg, env = results["config"], results["environment"]
    metrics = results["metrics"]
    lines = [
        "# gic bench report",
        "",
        f"- date: {env['date']}",
        f"- command: `{env['command']}`" if env.get("command") else "- command: (API call)",
        f"- CPU: {env['cpu']} ({env['cpu_count']} logical), torch {env['torch']} ({env['torch_threads']} threads)",
        f"- images: {len(results['images'])} from `{cfg['images_dir']}`",
        f"- targets (bpp): {', '.join(f'{t:g}' for t in cfg['targets'])}",
        f"- codecs: {', '.join(c['name'] for c in results['codecs']) or 'none'}",
        "",
    ]
    if results["skipped"]:
        lines += ["## Skipped codecs", ""]
        lines += [f"- **{k}**: {v}" for k, v in results["skipped"].items()]
        lines.append("")
    if results["not_computed"]:
        lines += ["## Metrics not computed", ""]
        lines += [f"- {k} not computed: {v}" for k, v in results["not_computed"].items()]
        lines.append("")
    extra = [m for m in ("lpips", "dists") if m in metrics]
    has_fid = any("fid" in e for e in results["summary"])
    head = ["codec", "target", "reached", "bpp", "PSNR", "MS-SSIM", "DFD", *[SHORT[m] for m in extra]]
    head += ["patch FD (n)", *(["FID", "KID"] if has_fid else []), "enc s", "dec s"]
    lines += ["## Summary (means over the images reached)", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for e in results["summary"]:
        fd = "-" if e.get("patch_fd") is None else f"{e['patch_fd']:.3f} ({e['patch_fd_n_patches']})"
        if e.get("patch_fd_warning"):
            fd += "*"
        cells = [
            e["codec"],
            f"{e['target_bpp']:g}",
            f"{e['n_reached']}/{e['n_images']}",
            _f(e["bpp"], ".4f"),
            _f(e.get("psnr"), ".2f"),
            _f(e.get("ms_ssim"), ".4f"),
            _f(e.get("deep_feature_distance"), ".4f"),
            *[_f(e.get(m), ".4f") for m in extra],
            fd,
            *([_f(e.get("fid"), ".2f"), _f(e.get("kid"), ".4f")] if has_fid else []),
            _f(e["encode_seconds"], ".3f"),
            _f(e["decode_seconds"], ".3f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "DFD: EffNet-Lite0 deep-feature distance (unweighted, LPIPS-style; not LPIPS). Patch FD: Frechet distance "
        "of EffNet-Lite0 features of 64x64 patches (not FID; n = patches; * = fewer patches than feature "
        "dimensions, unreliable). gic encode time includes its rate search; anchor encode time is one encode at "
        "the chosen setting (its search is `search_seconds` in results.json). gic may exceed a target by up to "
        "5% (rate-control tolerance); anchors never exceed it.",
        "",
    ]
    splits = [e for e in results["summary"] if e.get("bit_split_bpp")]
    if splits:
        lines += ["## Bit split (mean bpp per part of the .gic file, over the images reached)", "",
                  "| codec | target | bpp | parts |", "|---|---|---|---|"]
        for e in splits:
            parts = ", ".join(f"{n} {v:.5f}" for n, v in e["bit_split_bpp"].items())
            lines.append(f"| {e['codec']} | {e['target_bpp']:g} | {_f(e['bpp'], '.4f')} | {parts} |")
        lines += ["", "Per-image sizes are in results.json (`header_bytes`, `section_bytes`).", ""]
    if results["bd_rates"]:
        lines += [f"## BD-rate vs {cfg['bd_anchor']} (negative = fewer bits for the same quality)", ""]
        lines += ["| codec | metric | BD-rate | range | status |", "|---|---|---|---|---|"]
        for b in results["bd_rates"]:
            val = "-" if b["bd_rate_percent"] is None else f"{b['bd_rate_percent']:+.1f}%"
            rng = "-" if b["metric_range"] is None else f"{b['metric_range'][0]:.4g}..{b['metric_range'][1]:.4g}"
            status = b["status"] if b["status"] == "ok" else f"{b['status']}: {b['detail']}"
            lines.append(f"| {b['codec']} | {SHORT.get(b['metric'], b['metric'])} | {val} | {rng} | {status} |")
        lines += [
            "",
            "Only targets reached on every image enter a curve; the range is the overlapping metric interval.",
            "",
        ]
    files = results["files"]
    if files["plots"]:
        lines += ["## Rate-distortion plots", ""] + [f"![{p}]({p})" for p in files["plots"]] + [""]
    if files["crops"]:
        lines += ["## Crops", ""] + [f"![{p}]({p})" for p in files["crops"]] + [""]
    if results["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


def write_all(data: BenchData) -> dict[str, Any]:
    """Write results.json, report.md, rd_*.png and crops_*.png into the output folder; return the results."""
    from gencodec.image_io import write_atomic

    out = Path(data.config["out"])
    summary = summarize(data)
    bd = bd_rates(data, summary)
    notes = list(data.notes)
    plot_metrics = [*data.metrics, "patch_fd", "fid", "kid"]
    plots, why = plot_rd(summary, plot_metrics, out, len(data.images))
    if why:
        notes.append(why)
    crops = crop_grids(data, out)
    for pattern in ("rd_*.png", "crops_*.png"):  # figures left by an earlier run in the same folder
        for stale in out.glob(pattern):
            if stale.name not in plots and stale.name not in crops:
                stale.unlink()
    results = _clean(
        {
            "schema": "gic-bench/1",
            "config": data.config,
            "environment": data.environment,
            "images": data.images,
            "codecs": data.codecs,
            "skipped": data.skipped,
            "metrics": data.metrics,
            "not_computed": data.not_computed,
            "rows": data.rows,
            "summary": summary,
            "bd_rates": bd,
            "files": {"results": "results.json", "report": "report.md", "plots": plots, "crops": crops},
            "notes": notes,
        }
    )
    write_atomic(out / "results.json", (json.dumps(results, indent=1) + "\n").encode(), force=True)
    write_atomic(out / "report.md", render_markdown(results).encode(), force=True)
    return results


def json_summary(results: dict[str, Any]) -> dict[str, Any]:
    """What ``gic bench --json`` prints: the summary, BD-rates, skips and where the files are."""
    keys = ("summary", "bd_rates", "skipped", "not_computed", "files", "notes")
    return {"out": results["config"]["out"], **{k: results[k] for k in keys}}
