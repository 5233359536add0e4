"""``gic bench`` runner: every image x codec x target bpp through the real encode/decode paths.

gic models go through :func:`gencodec.encode` (the bytes are written to ``OUT/streams/<model>/<bpp>/<image>.gic``)
and :func:`gencodec.decode`; classic anchors go through :func:`gencodec.bench.anchors.closest_below` (the largest
real bpp not above the target; their bytes are written next to the gic streams). Per image: real bpp (file size),
PSNR, MS-SSIM, EffNet-Lite0 deep-feature distance and timings. Per (codec, target) over the image set: the patch
Frechet distance on 64x64 patches. LPIPS, DISTS and FID/KID are computed only when their packages are installed
and their weights are already cached locally (nothing is ever downloaded); otherwise the reason is recorded.

Decoded images are not kept: only their patch features (for the patch FD) and a centre crop of the images chosen
for the crop grids. The summary, BD-rates and files are produced by :mod:`gencodec.bench.report`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib
import importlib.util
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "DEFAULT_ANCHORS",
    "DEFAULT_CROPS",
    "DEFAULT_TARGETS",
    "IMAGE_SUFFIXES",
    "BenchConfig",
    "BenchData",
    "OptionalMetrics",
    "detect_optional_metrics",
    "discover_images",
    "environment",
    "run_bench",
]

DEFAULT_TARGETS = (0.005, 0.01, 0.02, 0.04, 0.08)
DEFAULT_ANCHORS = ("jpeg", "webp", "avif", "heic", "jxl")
DEFAULT_CROPS = ("kodim04", "kodim14", "kodim23")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm")
ANCHOR_EXT = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "heic": "heic", "jxl": "jxl"}
FID_PATCH = 256  # HiFiC / MS-ILLM patch size for FID/KID

# Files the optional standard metrics would otherwise download (torch hub checkpoint names).
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision AlexNet, used by lpips(net="alex")
VGG16_FILE = "vgg16-397923af.pth"  # torchvision VGG16, used by DISTS_pytorch
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's InceptionV3


@dataclass
class BenchConfig:
    """What to run and where to write it."""

    images_dir: Path
    out: Path
    models: list[str]
    anchors: list[str]
    targets: list[float] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    bd_anchor: str | None = "heic"
    limit: int | None = None
    crops: list[str] = field(default_factory=lambda: list(DEFAULT_CROPS))
    patch: int = 64
    crop_size: int = 256
    resume: bool = False
    progress: bool = True
    command: str = ""


@dataclass
class Contender:
    """A codec taking part: a gic model or a classic anchor."""

    name: str
    kind: str  # "gic" or "anchor"
    ident: str  # weights sha256 (gic) or description + options (anchor); keys resumed rows
    ext: str


@dataclass
class BenchData:
    """Everything the report needs (JSON-able except ``crops``)."""

    config: dict[str, Any]
    environment: dict[str, Any]
    images: list[dict[str, Any]]
    codecs: list[dict[str, str]]
    skipped: dict[str, str]
    metrics: list[str]
    not_computed: dict[str, str]
    rows: list[dict[str, Any]]
    set_metrics: dict[tuple[str, float], dict[str, Any]]
    crops: dict[str, dict[str, Any]]
    notes: list[str]


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def discover_images(directory: Path, limit: int | None = None) -> list[Path]:
    """Image files directly inside ``directory`` (sorted by name, first ``limit``); raises on bad input."""
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{directory}: no images ({', '.join(IMAGE_SUFFIXES)})")
    stems = [p.stem for p in files]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise ValueError(f"{directory}: several images share the name {dupes[0]!r} (with different extensions)")
    if limit is not None:
        if limit < 1:
            raise ValueError("--limit must be at least 1")
        files = files[:limit]
    return files


def _check_names(cfg: BenchConfig) -> tuple[list[str], list[str]]:
    """Validate model/anchor/target names; the BD anchor is added to its list when missing."""
    from gencodec.bench.anchors import ANCHORS
    from gencodec.models.registry import CODECS

    models = list(dict.fromkeys(m.strip() for m in cfg.models if m.strip()))
    anchors = list(dict.fromkeys(a.strip().lower() for a in cfg.anchors if a.strip()))
    for m in models:
        if m not in CODECS:
            raise ValueError(f"unknown model {m!r} (known: {', '.join(CODECS)})")
    for a in anchors:
        if a not in ANCHORS:
            raise ValueError(f"unknown anchor {a!r} (known: {', '.join(ANCHORS)})")
    if not cfg.targets:
        raise ValueError("no target bpp given")
    for t in cfg.targets:
        if not (t > 0 and math.isfinite(t)):
            raise ValueError(f"target bpp must be positive, got {t}")
    bd = cfg.bd_anchor
    if bd:
        if bd in CODECS:
            models += [] if bd in models else [bd]
        elif bd.lower() in ANCHORS:
            anchors += [] if bd.lower() in anchors else [bd.lower()]
        else:
            raise ValueError(f"unknown --bd-anchor {bd!r} (a model or an anchor: {', '.join([*CODECS, *ANCHORS])})")
    if not models and not anchors:
        raise ValueError("nothing to benchmark: no models and no anchors")
    return models, anchors


def _contenders(models: list[str], anchors: list[str]) -> tuple[list[Contender], dict[str, str]]:
    """Codecs that can run, and the reason each other one is skipped."""
    from gencodec.bench.anchors import get_anchor
    from gencodec.models.registry import load_codec

    ok: list[Contender] = []
    skipped: dict[str, str] = {}
    for m in models:
        try:
            codec = load_codec(m)
            ok.append(Contender(m, "gic", codec.weights.sha256, "gic"))
        except Exception as exc:  # noqa: BLE001 - any load failure is a skip with its reason
            skipped[m] = f"{type(exc).__name__}: {exc}"
    for a in anchors:
        anchor = get_anchor(a)
        available, reason = anchor.available()
        if available:
            opts = json.dumps(dict(anchor.options), sort_keys=True, default=str)
            ok.append(Contender(a, "anchor", f"{anchor.description} {opts}", ANCHOR_EXT[a]))
        else:
            skipped[a] = reason
    return ok, skipped


# --------------------------------------------------------------------------------------------
# Optional standard metrics (never downloaded)
# --------------------------------------------------------------------------------------------


def _hub_checkpoint(filename: str) -> Path:
    """Where torch.hub caches a checkpoint (honours $TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _package_dir(name: str) -> Path | None:
    """Folder of an installed package without importing it, or None if not installed."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent if spec.origin else None


def _tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).unsqueeze(0).to(torch.float32) / 255.0


PairMetric = Callable[[np.ndarray, np.ndarray], float]
SetMetric = Callable[[np.ndarray, np.ndarray], dict[str, Any]]


def _detect_lpips() -> tuple[PairMetric | None, str]:
    pkg = _package_dir("lpips")
    if pkg is None:
        return None, "package 'lpips' is not installed"
    lin = pkg / "weights" / "v0.1" / "alex.pth"
    if not lin.is_file():
        return None, f"lpips linear-layer weights missing ({lin})"
    backbone = _hub_checkpoint(ALEXNET_FILE)
    if not backbone.is_file():
        return None, f"AlexNet weights not cached at {backbone} (gic bench never downloads)"
    try:
        net = importlib.import_module("lpips").LPIPS(net="alex", verbose=False).eval()
    except Exception as exc:  # noqa: BLE001
        return None, f"lpips failed to load: {type(exc).__name__}: {exc}"

    def lpips_alex(a: np.ndarray, b: np.ndarray) -> float:
        with torch.no_grad():
            return float(net(_tensor(a) * 2 - 1, _tensor(b) * 2 - 1).reshape(-1)[0])

    return lpips_alex, ""


def _detect_dists() -> tuple[PairMetric | None, str]:
    if _package_dir("DISTS_pytorch") is None:
        return None, "package 'DISTS_pytorch' is not installed"
    alpha_beta = Path(sys.prefix) / "weights.pt"  # where DISTS_pytorch installs and reads its alpha/beta
    if not alpha_beta.is_file():
        return None, f"DISTS alpha/beta weights missing ({alpha_beta})"
    backbone = _hub_checkpoint(VGG16_FILE)
    if not backbone.is_file():
        return None, f"VGG16 weights not cached at {backbone} (gic bench never downloads)"
    try:
        net = importlib.import_module("DISTS_pytorch").DISTS().eval()
    except Exception as exc:  # noqa: BLE001
        return None, f"DISTS failed to load: {type(exc).__name__}: {exc}"

    def dists(a: np.ndarray, b: np.ndarray) -> float:
        with torch.no_grad():
            return float(net(_tensor(a), _tensor(b)).reshape(-1)[0])

    return dists, ""


class _PatchDataset(torch.utils.data.Dataset):
    """uint8 (N, P, P, 3) patches as the uint8 (3, P, P) tensors torch-fidelity expects."""

    def __init__(self, patches: np.ndarray) -> None:
        self.patches = patches

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.patches[i].transpose(2, 0, 1)))


def _detect_fid_kid() -> tuple[SetMetric | None, str]:
    if _package_dir("torch_fidelity") is None:
        if _package_dir("cleanfid") is not None:
            return None, "cleanfid is installed but gic bench computes FID/KID only through torch_fidelity"
        return None, "neither 'torch_fidelity' nor 'cleanfid' is installed"
    weights = _hub_checkpoint(INCEPTION_FILE)
    if not weights.is_file():
        return None, f"InceptionV3 weights not cached at {weights} (gic bench never downloads)"

    def fid_kid(refs: np.ndarray, recons: np.ndarray) -> dict[str, Any]:
        tf = importlib.import_module("torch_fidelity")
        n = len(refs)
        if n < 2:
            raise ValueError(f"only {n} patch(es) of {FID_PATCH}x{FID_PATCH}")
        m = tf.calculate_metrics(
            input1=_PatchDataset(recons),
            input2=_PatchDataset(refs),
            cuda=False,
            fid=True,
            kid=True,
            kid_subset_size=min(1000, n),
            verbose=False,
            feature_extractor_weights_path=str(weights),
        )
        return {
            "fid": float(m["frechet_inception_distance"]),
            "kid": float(m["kernel_inception_distance_mean"]),
            "n_patches": n,
        }

    return fid_kid, ""


@dataclass
class OptionalMetrics:
    """Standard metrics that could be set up, and why the others were not."""

    pair: dict[str, PairMetric]
    fid_kid: SetMetric | None
    not_computed: dict[str, str]


def detect_optional_metrics() -> OptionalMetrics:
    """LPIPS, DISTS, FID/KID: set up only if importable with their weights already on disk."""
    pair: dict[str, PairMetric] = {}
    not_computed: dict[str, str] = {}
    for name, detect in (("lpips", _detect_lpips), ("dists", _detect_dists)):
        fn, reason = detect()
        if fn is None:
            not_computed[name.upper()] = reason
        else:
            pair[name] = fn
    fid_kid, reason = _detect_fid_kid()
    if fid_kid is None:
        not_computed["FID/KID"] = reason
    return OptionalMetrics(pair, fid_kid, not_computed)


# --------------------------------------------------------------------------------------------
# Per-image work
# --------------------------------------------------------------------------------------------


def _fmt_target(t: float) -> str:
    return f"{t:g}"


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def _patches(img: np.ndarray, patch: int) -> np.ndarray:
    ny, nx = img.shape[0] // patch, img.shape[1] // patch
    crops = img[: ny * patch, : nx * patch].reshape(ny, patch, nx, patch, 3).swapaxes(1, 2)
    return np.ascontiguousarray(crops.reshape(ny * nx, patch, patch, 3))


def _center_crop_box(h: int, w: int, size: int) -> tuple[int, int, int, int]:
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return top, left, ch, cw


class _Metrics:
    """Per-image metrics and patch features, with the backbone loaded once."""

    def __init__(self, optional: OptionalMetrics, patch: int) -> None:
        from gencodec.metrics import default_backbone

        self.optional = optional
        self.patch = patch
        self.backbone: Any = None
        self.backbone_reason = ""
        try:
            self.backbone = default_backbone()
        except Exception as exc:  # noqa: BLE001
            self.backbone_reason = f"{type(exc).__name__}: {exc}"

    @property
    def names(self) -> list[str]:
        return ["psnr", "ms_ssim", "deep_feature_distance", *self.optional.pair]

    def per_image(self, ref: np.ndarray, rec: np.ndarray) -> dict[str, float | None]:
        from gencodec.metrics import deep_feature_distance, ms_ssim, psnr

        out: dict[str, float | None] = {"psnr": _finite(psnr(ref, rec))}
        try:
            out["ms_ssim"] = ms_ssim(ref, rec)
        except ValueError:
            out["ms_ssim"] = None  # sides < 161 px
        out["deep_feature_distance"] = deep_feature_distance(ref, rec, self.backbone) if self.backbone else None
        for name, fn in self.optional.pair.items():
            out[name] = fn(ref, rec)
        return out

    def features(self, img: np.ndarray) -> np.ndarray | None:
        from gencodec.metrics import patch_features

        if self.backbone is None:
            return None
        return patch_features([img], self.patch, self.backbone)


def _run_gic(c: Contender, img: np.ndarray, target: float, path: Path) -> tuple[dict[str, Any], np.ndarray | None]:
    import gencodec
    from gencodec.rate_control import RateUnreachable

    t0 = time.perf_counter()
    try:
        res = gencodec.encode(img, model=c.name, bpp=target)
    except RateUnreachable as exc:
        return {"status": "unreachable", "reason": str(exc)}, None
    enc_s = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(res.data)
    data = path.read_bytes()  # decode what is on disk
    t0 = time.perf_counter()
    rec = gencodec.decode(data)
    dec_s = time.perf_counter() - t0
    row = {
        "status": "ok",
        "bytes": len(data),
        "setting": res.rate,
        "header_bytes": res.header_bytes,
        "section_bytes": res.section_bytes,
        "encode_seconds": enc_s,
        "decode_seconds": dec_s,
        "decoder_matches_encoder": bool(np.array_equal(rec, res.reconstruction)),
    }
    return row, rec


def _run_anchor(
    c: Contender, img: np.ndarray, target: float, path: Path, lowest: dict[str, float]
) -> tuple[dict[str, Any], np.ndarray | None]:
    from gencodec.bench.anchors import bpp_of, closest_below, get_anchor

    anchor = get_anchor(c.name)
    t0 = time.perf_counter()
    res = closest_below(anchor, img, target)
    search_s = time.perf_counter() - t0
    if res is None:
        if c.name not in lowest:
            lowest[c.name] = bpp_of(anchor.encode(img, anchor.settings[0]), *img.shape[:2])
        reason = (
            f"{c.name} cannot reach {target:g} bpp on this {img.shape[1]}x{img.shape[0]} image: its lowest setting "
            f"({anchor.setting_kind} {anchor.settings[0]:g}) gives {lowest[c.name]:.4f} bpp"
        )
        return {"status": "unreachable", "reason": reason, "search_seconds": search_s}, None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(res.data)
    row = {
        "status": "ok",
        "bytes": len(res.data),
        "setting": res.quality,
        "encode_seconds": res.encode_seconds,
        "decode_seconds": res.decode_seconds,
        "search_seconds": search_s,
        "search_encodes": res.num_encodes,
    }
    return row, res.decoded


def _redecode(c: Contender, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Decode a stream left on disk by an earlier run (for --resume)."""
    if c.kind == "gic":
        import gencodec

        rec = gencodec.decode(path.read_bytes())
    else:
        from gencodec.bench.anchors import get_anchor

        rec = get_anchor(c.name).decode(path.read_bytes())
    if rec.shape != shape:
        raise ValueError(f"{path}: decoded shape {rec.shape} != {shape}")
    return rec


# --------------------------------------------------------------------------------------------
# Environment, resume log, progress
# --------------------------------------------------------------------------------------------


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def environment(command: str = "") -> dict[str, Any]:
    """CPU, library versions, date and command line of this run."""
    import PIL

    from gencodec import __version__

    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "gencodec": __version__,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
    }


def _row_key(image_sha: str, c: Contender, target: float) -> str:
    return f"{image_sha}|{c.name}|{c.ident}|{target!r}"


def _load_log(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            entry = json.loads(line)
            done[entry["key"]] = entry["row"]
    return done


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    """Yield ``advance(description)``; a rich bar on stderr when enabled."""
    if not enabled:
        yield lambda _desc: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        task = bar.add_task("bench", total=total)

        def advance(desc: str) -> None:
            bar.update(task, advance=1, description=desc[:40])

        yield advance


# --------------------------------------------------------------------------------------------
# Main loop
# --------------------------------------------------------------------------------------------


_ENCODE_FIELDS = (
    "status",
    "reason",
    "bytes",
    "setting",
    "header_bytes",
    "section_bytes",
    "encode_seconds",
    "decode_seconds",
    "search_seconds",
    "search_encodes",
    "decoder_matches_encoder",
)


def run_bench(cfg: BenchConfig) -> BenchData:
    """Run every job and return the raw data; :func:`gencodec.bench.report.write_all` writes the outputs."""
    from gencodec.image_io import load_image
    from gencodec.metrics import frechet_distance

    files = discover_images(cfg.images_dir, cfg.limit)
    models, anchors = _check_names(cfg)
    targets = sorted(set(cfg.targets))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    contenders, skipped = _contenders(models, anchors)
    optional = detect_optional_metrics()
    metrics = _Metrics(optional, cfg.patch)
    not_computed = dict(optional.not_computed)
    if metrics.backbone is None:
        not_computed["deep_feature_distance and patch FD"] = metrics.backbone_reason
    notes: list[str] = []
    log_path = out / "rows.jsonl"
    done = _load_log(log_path) if cfg.resume else {}
    if not cfg.resume and log_path.exists():
        log_path.unlink()
    crop_names = set(cfg.crops)
    debug = bool(os.environ.get("GIC_DEBUG"))

    rows: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    ref_feats: list[np.ndarray | None] = []
    rec_feats: dict[tuple[str, float], list[tuple[int, np.ndarray]]] = {}
    ref_fid: list[np.ndarray] = []
    rec_fid: dict[tuple[str, float], list[tuple[int, np.ndarray]]] = {}
    crops: dict[str, dict[str, Any]] = {}
    small_ms_ssim: list[str] = []
    total = len(files) * len(contenders) * len(targets)

    with _progress(cfg.progress, total) as advance, open(log_path, "a") as log:
        for idx, path in enumerate(files):
            img, load_notes = load_image(path)
            notes += [f"{path.name}: {n}" for n in load_notes]
            h, w = img.shape[:2]
            sha = hashlib.sha256(img.tobytes() + f"{h}x{w}".encode()).hexdigest()
            name = path.stem
            images.append({"name": name, "file": path.name, "width": w, "height": h, "sha256": sha})
            if min(h, w) < 161:
                small_ms_ssim.append(name)
            ref_feats.append(metrics.features(img))
            if optional.fid_kid is not None:
                ref_fid.append(_patches(img, FID_PATCH))
            box = _center_crop_box(h, w, cfg.crop_size) if name in crop_names else None
            if box is not None:
                top, left, ch, cw = box
                crops[name] = {"box": [top, left, ch, cw], "original": img[top : top + ch, left : left + cw].copy()}
                crops[name]["tiles"] = {}
            lowest: dict[str, float] = {}
            for c in contenders:
                for target in targets:
                    advance(f"{name} {c.name} @{target:g}")
                    stream = out / "streams" / c.name / _fmt_target(target) / f"{name}.{c.ext}"
                    rel = stream.relative_to(out).as_posix()
                    key = _row_key(sha, c, target)
                    base: dict[str, Any] = {
                        "image": name,
                        "width": w,
                        "height": h,
                        "codec": c.name,
                        "kind": c.kind,
                        "target_bpp": target,
                    }
                    enc: dict[str, Any] | None = None
                    rec: np.ndarray | None = None
                    prev = done.get(key)
                    if prev is not None:
                        try:
                            if prev["status"] == "ok":
                                if not stream.is_file() or stream.stat().st_size != prev["bytes"]:
                                    raise ValueError("stream changed")
                                rec = _redecode(c, stream, img.shape)
                            enc = prev
                        except Exception:  # noqa: BLE001 - anything odd: run the job again
                            enc, rec = None, None
                    if enc is None:
                        try:
                            if c.kind == "gic":
                                enc, rec = _run_gic(c, img, target, stream)
                            else:
                                enc, rec = _run_anchor(c, img, target, stream, lowest)
                        except Exception as exc:  # noqa: BLE001 - one failing job must not end the bench
                            if debug:
                                raise
                            enc, rec = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}, None
                        if enc["status"] != "error":
                            log.write(json.dumps({"key": key, "row": enc}) + "\n")
                            log.flush()
                    if enc["status"] != "ok":
                        stream.unlink(missing_ok=True)  # no stale bits from an earlier run
                    row = {**base, **{k: enc.get(k) for k in _ENCODE_FIELDS}}
                    row["stream"] = rel if enc["status"] == "ok" else None
                    row["bpp"] = enc["bytes"] * 8 / (h * w) if enc["status"] == "ok" else None
                    for m in metrics.names:
                        row[m] = None
                    if rec is not None:
                        rec = rec if rec.flags.writeable else rec.copy()  # decoders may return read-only views
                        row.update(metrics.per_image(img, rec))
                        f = metrics.features(rec)
                        if f is not None:
                            rec_feats.setdefault((c.name, target), []).append((idx, f))
                        if optional.fid_kid is not None:
                            rec_fid.setdefault((c.name, target), []).append((idx, _patches(rec, FID_PATCH)))
                        if box is not None:
                            top, left, ch, cw = box
                            tile = rec[top : top + ch, left : left + cw].copy()
                            crops[name]["tiles"][(c.name, target)] = (tile, row["bpp"])
                        if row.get("decoder_matches_encoder") is False:
                            notes.append(f"{name} {c.name} @{target:g}: decoded image differs from the encoder's")
                    rows.append(row)

    set_metrics: dict[tuple[str, float], dict[str, Any]] = {}
    for c in contenders:
        for target in targets:
            entry: dict[str, Any] = {"patch_fd": None, "patch_fd_n_patches": 0, "patch_fd_warning": None}
            feats = rec_feats.get((c.name, target), [])
            if metrics.backbone is not None and feats:
                ref = np.concatenate([ref_feats[i] for i, _ in feats])
                rec_f = np.concatenate([f for _, f in feats])
                n = len(ref)
                entry["patch_fd_n_patches"] = n
                if n >= 2:
                    entry["patch_fd"] = frechet_distance(ref, rec_f)
                    if n < ref.shape[1]:
                        entry["patch_fd_warning"] = (
                            f"only {n} patches for {ref.shape[1]}-d features: covariance is rank-deficient"
                        )
                else:
                    entry["patch_fd_warning"] = f"only {n} patch(es) of {cfg.patch}x{cfg.patch}: not computed"
            if optional.fid_kid is not None:
                pairs = rec_fid.get((c.name, target), [])
                entry.update({"fid": None, "kid": None, "fid_n_patches": 0})
                if pairs:
                    refs = np.concatenate([ref_fid[i] for i, _ in pairs])
                    recs = np.concatenate([p for _, p in pairs])
                    try:
                        r = optional.fid_kid(refs, recs)
                        entry.update({"fid": r["fid"], "kid": r["kid"], "fid_n_patches": r["n_patches"]})
                    except Exception as exc:  # noqa: BLE001
                        entry["fid_error"] = f"{type(exc).__name__}: {exc}"
            set_metrics[(c.name, target)] = entry

    if small_ms_ssim:
        notes.append(f"MS-SSIM needs sides >= 161 px; not computed for: {', '.join(small_ms_ssim)}")
    config = {
        "images_dir": str(cfg.images_dir),
        "out": str(out),
        "models": models,
        "anchors": anchors,
        "targets": targets,
        "bd_anchor": cfg.bd_anchor,
        "limit": cfg.limit,
        "crops": [n for n in cfg.crops if n in crops],
        "patch": cfg.patch,
        "crop_size": cfg.crop_size,
        "resume": cfg.resume,
    }
    return BenchData(
        config=config,
        environment=environment(cfg.command),
        images=images,
        codecs=[{"name": c.name, "kind": c.kind, "id": c.ident} for c in contenders],
        skipped=skipped,
        metrics=metrics.names,
        not_computed=not_computed,
        rows=rows,
        set_metrics=set_metrics,
        crops=crops,
        notes=notes,
    )
