"""``gic``: encode, decode, inspect and list models.

Errors on bad input are one line on stderr (``error: ...``) with a non-zero
exit status; set GIC_DEBUG=1 to see a traceback for unexpected failures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from gencodec import __version__
from gencodec.cli.errors import guarded

EXIT_USAGE = 2


def _emit(obj: dict, as_json: bool, line: str, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps(obj))
    elif not quiet:
        click.echo(line)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gic")
def cli() -> None:
    """gic: generative image codec for ultra-low bitrates (0.003-0.2 bpp)."""


@cli.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output .gic (default: INPUT with .gic suffix).")
@click.option("--bpp", type=float, help="Target bits per pixel of the real file (header included).")
@click.option("--size", "size_bytes", type=int, help="Target file size in bytes.")
@click.option("--rate", type=click.IntRange(0, 255), help="Explicit rate point 0..255 (no search).")
@click.option("--model", default=None, help="Codec id (see 'gic models').")
@click.option("--refine", type=click.Choice(["sga"]), default=None, help="Encoder-side latent refinement.")
@click.option("--steps", type=click.IntRange(1, 10000), default=None, help="Refinement steps (default 40).")
@click.option(
    "--time-limit", type=click.FloatRange(min=0.1), default=None, help="Cap refinement at S seconds (default 55)."
)
@click.option(
    "--roi", type=click.Path(path_type=Path), default=None,
    help="Grayscale mask (white = region of interest); implies --refine sga.",
)
@click.option("--roi-weights", default="1,0.2", show_default=True, help="Distortion weights FG,BG for --roi.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for refinement; for perco the decoder's sampling seed (0..63, stored in the stream).")
@click.option("--caption", default=None, help="perco: text describing the image, coded losslessly in the stream.")
@click.option("--caption-file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="perco: read the caption from a UTF-8 text file.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
              help="Where the transforms run (entropy parameters always on the CPU).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Parallel worker processes when INPUT is a folder or glob.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--max-pixels", type=int, default=1 << 24, show_default=True, help="Refuse larger inputs.")
@click.option("--quiet", "-q", is_flag=True, help="No summary line or progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@guarded
def encode(
    input: Path,
    output: Path | None,
    bpp: float | None,
    size_bytes: int | None,
    rate: int | None,
    model: str | None,
    refine: str | None,
    steps: int | None,
    time_limit: float | None,
    roi: Path | None,
    roi_weights: str,
    seed: int,
    caption: str | None,
    caption_file: Path | None,
    device: str,
    jobs: int,
    force: bool,
    max_pixels: int,
    quiet: bool,
    as_json: bool,
) -> None:
    """Compress an image (or a folder / glob of images, with -o OUTDIR) to .gic files."""
    from gencodec.api import encode as api_encode
    from gencodec.batch import is_batch_input
    from gencodec.image_io import load_image, write_atomic
    from gencodec.models.registry import default_model

    if sum(v is not None for v in (bpp, size_bytes, rate)) > 1:
        raise click.UsageError("give at most one of --bpp, --size and --rate")
    if bpp is not None and not bpp > 0:
        raise click.BadParameter("must be positive", param_hint="--bpp")
    if size_bytes is not None and size_bytes <= 0:
        raise click.BadParameter("must be positive", param_hint="--size")
    if caption is not None and caption_file is not None:
        raise click.UsageError("give --caption or --caption-file, not both")
    if caption_file is not None:
        try:
            caption = caption_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise click.BadParameter("not UTF-8 text", param_hint="--caption-file") from None
    if is_batch_input(str(input)):
        if roi is not None:
            raise click.UsageError("--roi needs a single input image")
        if caption is not None:
            raise click.UsageError("--caption needs a single input image")
        options = dict(model=model or default_model(), bpp=bpp, size=size_bytes, rate=rate, refine=refine,
                       refine_steps=steps, time_limit=time_limit, seed=seed, max_pixels=max_pixels, device=device)
        _run_batch("encode", input, output, options, jobs, force, quiet, as_json)
        return
    output = output or input.with_suffix(".gic")
    if output.exists() and not force:
        raise FileExistsError(f"{output}: already exists (use --force to overwrite)")
    img, notes = load_image(input, max_pixels)
    for note in notes:
        click.echo(f"warning: {input}: {note}", err=True)
    mask, weights = None, (1.0, 0.2)
    if roi is not None:
        from gencodec.refine.roi import load_mask, parse_weights

        weights = parse_weights(roi_weights)
        mask, mask_notes = load_mask(roi, img.shape[0], img.shape[1])
        for note in mask_notes:
            click.echo(f"warning: {roi}: {note}", err=True)
    kwargs = dict(model=model or default_model(), bpp=bpp, size=size_bytes, rate=rate, refine=refine,
                  refine_steps=steps, time_limit=time_limit, roi=mask, roi_weights=weights, seed=seed,
                  device=device, **({"caption": caption} if caption is not None else {}))
    if (refine or roi is not None) and not (quiet or as_json):
        from gencodec.cli.progress import refinement_progress

        with refinement_progress() as callback:
            res = api_encode(img, progress=callback, **kwargs)
    else:
        res = api_encode(img, **kwargs)
    write_atomic(output, res.data, force=force, protect=(input,))
    summary = {
        "input": str(input),
        "output": str(output),
        "model": res.model,
        "width": res.width,
        "height": res.height,
        "bytes": len(res.data),
        "bpp": round(res.bpp, 6),
        "rate": res.rate,
        "header_bytes": res.header_bytes,
        "sections": res.section_bytes,
        "estimated_bits": {k: round(v, 1) for k, v in res.estimated_bits.items()},
        "seconds": round(res.seconds, 3), "notes": res.notes,
    }
    _emit(
        summary,
        as_json,
        f"{output}: {len(res.data)} bytes, {res.bpp:.4f} bpp ({res.model}, rate {res.rate}), {res.seconds:.2f} s",
        quiet,
    )


@cli.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output PNG (default: INPUT with .png suffix).")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True,
              help="Where the transforms run (entropy parameters always on the CPU).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Parallel worker processes when INPUT is a folder or glob.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option(
    "--max-pixels", type=int, default=1 << 24, show_default=True, help="Refuse streams declaring more pixels."
)
@click.option("--steps", type=click.IntRange(1, 1000), default=None,
              help="perco: denoising steps (default 2; other values differ from the encoder's preview).")
@click.option("--guidance", type=click.FloatRange(0, 30), default=None,
              help="perco: classifier-free guidance scale on the caption (default 3).")
@click.option("--quiet", "-q", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@guarded
def decode(
    input: Path, output: Path | None, device: str, jobs: int, force: bool, max_pixels: int,
    steps: int | None, guidance: float | None, quiet: bool, as_json: bool,
) -> None:
    """Decompress a .gic file (or a folder / glob of them, with -o OUTDIR) to PNG."""
    from gencodec.api import decode as api_decode
    from gencodec.batch import is_batch_input
    from gencodec.image_io import png_bytes, write_atomic

    if is_batch_input(str(input)):
        _run_batch("decode", input, output,
                   {"max_pixels": max_pixels, "device": device, "steps": steps, "guidance": guidance}, jobs, force,
                   quiet, as_json)
        return
    t0 = time.perf_counter()
    output = output or input.with_suffix(".png")
    if output.exists() and not force:
        raise FileExistsError(f"{output}: already exists (use --force to overwrite)")
    data = _read(input)
    if quiet or as_json:
        img = api_decode(data, max_pixels=max_pixels, device=device, steps=steps, guidance=guidance)
    else:
        from gencodec.cli.progress import sampling_progress

        with sampling_progress() as callback:
            img = api_decode(data, max_pixels=max_pixels, device=device, steps=steps, guidance=guidance,
                             progress=callback)
    write_atomic(output, png_bytes(img), force=force, protect=(input,))
    dt = time.perf_counter() - t0
    h, w = img.shape[:2]
    _emit(
        {"input": str(input), "output": str(output), "width": w, "height": h, "seconds": round(dt, 3)},
        as_json,
        f"{output}: {w}x{h}, {dt:.2f} s",
        quiet,
    )


@cli.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@guarded
def info(input: Path, as_json: bool) -> None:
    """Show a .gic file's header, sections and bit breakdown."""
    from gencodec.container import unpack
    from gencodec.container.registry import section_names

    data = _read(input)
    header, sections = unpack(data, max_pixels=1 << 32)
    payload = sum(len(s) for s in sections)
    npx = header.width * header.height
    names = section_names(header.model, len(sections))
    obj = {
        "model": header.model,
        "format_version": header.version,
        "width": header.width,
        "height": header.height,
        "bytes": len(data),
        "bpp": round(len(data) * 8 / npx, 6),
        "rate": header.rate,
        "weights_tag": f"{header.weights_tag:02x}",
        "header_bytes": len(data) - payload,
        "sections": {n: len(s) for n, s in zip(names, sections)},
    }
    if as_json:
        click.echo(json.dumps(obj))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{input}", show_header=True)
    t.add_column("field")
    t.add_column("value", justify="right")
    for k in ("model", "format_version", "width", "height", "rate", "weights_tag"):
        t.add_row(k, str(obj[k]))
    t.add_row("header", f"{obj['header_bytes']} B ({obj['header_bytes'] * 8 / npx:.5f} bpp)")
    for n, b in obj["sections"].items():
        t.add_row(f"section {n}", f"{b} B ({b * 8 / npx:.5f} bpp)")
    t.add_row("total", f"{len(data)} B ({obj['bpp']:.5f} bpp)")
    Console().print(t)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@guarded
def models(as_json: bool) -> None:
    """List shipped models, their weights and hashes."""
    from gencodec.container.registry import model_code
    from gencodec.models.registry import CODECS, default_model
    from gencodec.models.weights import read_manifest

    manifest = read_manifest()
    default = default_model()
    rows = []
    for model, (_, wid) in CODECS.items():
        e = manifest.get(wid)
        rows.append(
            {
                "model": model,
                "code": model_code(model),
                "default": model == default,
                "weights": e.file if e else None,
                "sha256": e.sha256 if e else None,
                "licence": e.licence if e else None,
                "description": e.description if e else None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(show_header=True)
    for c in ("model", "code", "weights", "sha256", "description"):
        t.add_column(c)
    for r in rows:
        name = r["model"] + (" (default)" if r["default"] else "")
        t.add_row(name, str(r["code"]), r["weights"] or "missing", (r["sha256"] or "")[:16], r["description"] or "")
    Console().print(t)


def _run_batch(kind: str, input: Path, output: Path | None, options: dict, jobs: int, force: bool, quiet: bool,
               as_json: bool) -> None:
    """Code every file of a folder or glob; one progress bar; summary; exit 1 if any file failed."""
    from gencodec.batch import IMAGE_SUFFIXES, collect, plan, run

    if output is None:
        raise click.UsageError("a folder or glob input needs -o OUTDIR")
    if output.exists() and not output.is_dir():
        raise click.UsageError(f"{output} is not a folder")
    suffixes = IMAGE_SUFFIXES if kind == "encode" else {".gic"}
    root, files = collect(str(input), suffixes)
    if not files:
        raise FileNotFoundError(f"{input}: no {'images' if kind == 'encode' else '.gic files'} found")
    job_list = plan(root, files, output, ".gic" if kind == "encode" else ".png")
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    failures: list[dict] = []
    t0 = time.perf_counter()
    show_bar = not (quiet or as_json)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(kind), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), disable=not show_bar, transient=True) as bar:
        task = bar.add_task(kind, total=len(job_list))
        for row in run(kind, job_list, options, jobs, force):
            counts[row["status"]] += 1
            if row["status"] == "failed":
                failures.append(row)
            if as_json:
                click.echo(json.dumps(row))
            bar.advance(task)
    dt = time.perf_counter() - t0
    if not as_json and not quiet:
        click.echo(f"{kind}: {counts['ok']} ok, {counts['skipped']} skipped (exist; --force to redo), "
                   f"{counts['failed']} failed in {dt:.1f} s ({len(job_list) / dt * 60:.1f} files/min)")
    for row in failures:
        msg = row["error"] if row["error"].startswith(row["input"]) else f"{row['input']}: {row['error']}"
        click.echo(f"error: {msg}", err=True)
    if failures:
        raise SystemExit(1)


def _read(path: Path) -> bytes:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory")
    return path.read_bytes()


def _register_train() -> None:
    from gencodec.cli.bench import bench_cmd
    from gencodec.cli.train import export_cmd, train_cmd

    cli.add_command(train_cmd)
    cli.add_command(export_cmd)
    cli.add_command(bench_cmd)


_register_train()


def main() -> None:
    cli()
