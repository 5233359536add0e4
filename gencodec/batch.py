"""Batch coding of folders and globs with a process pool (standard library only).

Outputs keep the inputs' paths relative to the batch root; existing outputs
are skipped unless ``force``; a failing file is recorded and the batch goes
on. Each worker process loads the codec once and uses
``max(1, cpu_count // jobs)`` torch threads.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}

GLOB_CHARS = set("*?[")


def is_batch_input(text: str) -> bool:
    return Path(text).is_dir() or any(c in text for c in GLOB_CHARS)


def collect(text: str, suffixes: set[str]) -> tuple[Path, list[Path]]:
    """(root, files) for a folder (recursive) or a glob pattern; root is the part before any wildcard."""
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        return p, files
    parts = Path(text).parts
    fixed = [q for q in parts[: next(i for i, q in enumerate(parts) if set(q) & GLOB_CHARS)]]
    root = Path(*fixed) if fixed else Path(".")
    files = sorted(Path(f) for f in glob.glob(text, recursive=True)
                   if Path(f).is_file() and Path(f).suffix.lower() in suffixes)
    return root, files


@dataclass
class Job:
    src: Path
    dst: Path


def plan(root: Path, files: list[Path], outdir: Path, suffix: str) -> list[Job]:
    return [Job(f, outdir / f.relative_to(root).with_suffix(suffix)) for f in files]


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _encode_one(src: str, dst: str, options: dict[str, Any], force: bool) -> dict[str, Any]:
    from gencodec.api import encode
    from gencodec.image_io import load_image, write_atomic

    t0 = time.perf_counter()
    img, notes = load_image(src, options.pop("max_pixels", 1 << 24))
    res = encode(img, **options)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, res.data, force=force, protect=(Path(src),))
    return {"bytes": len(res.data), "bpp": round(res.bpp, 6), "rate": res.rate, "notes": notes + res.notes,
            "seconds": round(time.perf_counter() - t0, 3)}


def _decode_one(src: str, dst: str, options: dict[str, Any], force: bool) -> dict[str, Any]:
    from gencodec.api import decode
    from gencodec.image_io import png_bytes, write_atomic

    t0 = time.perf_counter()
    img = decode(Path(src).read_bytes(), **options)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, png_bytes(img), force=force, protect=(Path(src),))
    return {"width": img.shape[1], "height": img.shape[0], "seconds": round(time.perf_counter() - t0, 3)}


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {"encode": _encode_one, "decode": _decode_one}


def run(kind: str, jobs: list[Job], options: dict[str, Any], n_jobs: int, force: bool) -> Iterator[dict[str, Any]]:
    """Yield one result dict per job (status ok / skipped / failed), in completion order."""
    todo = []
    for job in jobs:
        if job.dst.exists() and not force:
            yield {"input": str(job.src), "output": str(job.dst), "status": "skipped", "reason": "output exists"}
        else:
            todo.append(job)
    if not todo:
        return
    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    worker = WORKERS[kind]
    if n_jobs == 1:
        _init_worker(threads)
        for job in todo:
            yield _wrap(job, lambda j=job: worker(str(j.src), str(j.dst), dict(options), force))
        return
    with ProcessPoolExecutor(max_workers=n_jobs, initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(worker, str(j.src), str(j.dst), dict(options), force): j for j in todo}
        for fut in as_completed(futures):
            yield _wrap(futures[fut], fut.result)


def _wrap(job: Job, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    base = {"input": str(job.src), "output": str(job.dst)}
    try:
        return {**base, "status": "ok", **call()}
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad file must not stop the batch
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {**base, "status": "failed", "error": msg}
