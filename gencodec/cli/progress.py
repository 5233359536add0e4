"""Rich progress bars for long-running work (printed to stderr)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def refinement_progress() -> Iterator:
    """Yield a callback(step, total, row) that drives a bar showing step, rate and distortion."""
    with Progress(
        TextColumn("refining"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=Console(stderr=True), transient=True,
    ) as bar:
        task = bar.add_task("sga", total=None, info="")

        def callback(step: int, total: int, row: dict) -> None:
            info = f"bits {row['bits']:.0f}  D {row['distortion']:.3f}  tau {row['tau']:.2f}"
            bar.update(task, completed=step, total=total, info=info)

        yield callback


@contextmanager
def sampling_progress() -> Iterator:
    """Yield a callback(step, total) for diffusion decoding; the bar appears only once a sampler reports."""
    with Progress(
        TextColumn("denoising"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        tasks: list = []

        def callback(step: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task("sample", total=total))
            bar.update(tasks[0], completed=step, total=total)

        yield callback
