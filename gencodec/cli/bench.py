"""``gic bench DIR``: rate-distortion benchmark of gic models against classic anchors."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from gencodec.cli.errors import guarded


def _names(value: str) -> list[str]:
    if value.strip().lower() in ("", "none"):
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _floats(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        out = [float(v) for v in _names(value)]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from None
    if not out or any(not v > 0 for v in out):
        raise click.BadParameter("give one or more positive bpp values")
    return out


def _command_line(directory: Path, models: str, targets: list[float], anchors: str, bd_anchor: str, out: Path,
                  limit: int | None, crops: str, resume: bool, threads: int | None) -> str:
    """The full `gic bench` command that reproduces this run (recorded in results.json and the report)."""
    args = ["gic", "bench", str(directory), "--models", models, "--bpp", ",".join(f"{t:g}" for t in targets),
            "--anchors", anchors, "--bd-anchor", bd_anchor, "--out", str(out), "--crops", crops]
    args += ["--limit", str(limit)] if limit else []
    args += ["--threads", str(threads)] if threads else []
    args += ["--resume"] if resume else []
    return shlex.join(args)


@click.command("bench")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--models", default="all", show_default=True, help="Comma-separated gic models, 'all' or 'none'.")
@click.option(
    "--bpp",
    "targets",
    default="0.005,0.01,0.02,0.04,0.08",
    show_default=True,
    callback=_floats,
    help="Comma-separated target bpp values.",
)
@click.option(
    "--anchors", default="jpeg,webp,avif,heic,jxl", show_default=True, help="Comma-separated anchors or 'none'."
)
@click.option(
    "--bd-anchor",
    default="heic",
    show_default=True,
    help="Reference codec of the BD-rates (added to the run if missing; 'none' for no BD-rates).",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-out"), show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N images (sorted by name).")
@click.option(
    "--crops",
    default="kodim04,kodim14,kodim23",
    show_default=True,
    help="Image names (without extension) to draw crop grids for; 'none' for no grids.",
)
@click.option("--resume", is_flag=True, help="Reuse the jobs logged in OUT/rows.jsonl whose streams are on disk.")
@click.option("--threads", type=click.IntRange(min=1), help="torch threads (default: torch's choice).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no progress bar).")
@guarded
def bench_cmd(
    directory: Path,
    models: str,
    targets: list[float],
    anchors: str,
    bd_anchor: str,
    out: Path,
    limit: int | None,
    crops: str,
    resume: bool,
    threads: int | None,
    as_json: bool,
) -> None:
    """Benchmark gic models and anchors on the images in DIRECTORY (real files, real decodes).

    Writes OUT/results.json, OUT/report.md, OUT/rd_<metric>.png, OUT/crops_<image>_<bpp>.png and the
    coded files under OUT/streams/.
    """
    import torch

    from gencodec.bench.out_lock import locked_out_dir
    from gencodec.bench.report import json_summary, write_all
    from gencodec.bench.runner import BenchConfig, run_bench
    from gencodec.models.registry import available_models

    if threads:
        torch.set_num_threads(threads)
    model_list = available_models() if models.strip().lower() == "all" else _names(models)
    cfg = BenchConfig(
        images_dir=directory,
        out=out,
        models=model_list,
        anchors=[a.lower() for a in _names(anchors)],
        targets=targets,
        bd_anchor=None if bd_anchor.strip().lower() in ("", "none") else bd_anchor.strip(),
        limit=limit,
        crops=_names(crops),
        resume=resume,
        progress=not as_json,
        command=_command_line(directory, models, targets, anchors, bd_anchor, out, limit, crops, resume, threads),
    )
    with locked_out_dir(out):
        results = write_all(run_bench(cfg))
    if as_json:
        click.echo(json.dumps(json_summary(results)))
        return
    for name, reason in results["skipped"].items():
        click.echo(f"skipped {name}: {reason}", err=True)
    from rich.console import Console
    from rich.table import Table

    t = Table(title="gic bench (means over the images reached)")
    for col in ("codec", "target", "reached", "bpp", "PSNR", "MS-SSIM", "DFD", "patch FD"):
        t.add_column(col, justify="right" if col != "codec" else "left")

    def f(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    for e in results["summary"]:
        t.add_row(
            e["codec"],
            f"{e['target_bpp']:g}",
            f"{e['n_reached']}/{e['n_images']}",
            f(e["bpp"], ".4f"),
            f(e.get("psnr"), ".2f"),
            f(e.get("ms_ssim"), ".4f"),
            f(e.get("deep_feature_distance"), ".4f"),
            f(e.get("patch_fd"), ".3f"),
        )
    Console().print(t)
    click.echo(f"report: {Path(results['config']['out']) / 'report.md'}")
