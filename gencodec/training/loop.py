"""The time-boxed, resumable training loop shared by every stage.

A stage object provides ``modules``, ``optimizers``, ``sampler`` and
``train_step(step)``; the loop owns time budgets, CSV logging, periodic
checkpoints and exact resume. Schedules depend on the step counter only, so
a run split over several sessions follows the same curve as one long run.
"""

from __future__ import annotations

import csv
import math
import signal
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from gencodec.training import distributed
from gencodec.training.checkpoint import load_checkpoint, save_checkpoint


class Stage(Protocol):
    name: str
    total_steps: int

    def modules(self) -> dict[str, torch.nn.Module]: ...
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def sampler_state(self) -> dict: ...
    def set_sampler_state(self, state: dict) -> None: ...
    def train_step(self, step: int) -> dict[str, float]: ...
    def config(self) -> dict[str, Any]: ...


def lr_at(
    step: int, total: int, peak: float, warmup: int = 500, final_frac: float = 0.1, decay_from: float = 0.75
) -> float:
    """Linear warm-up, constant, then cosine decay to final_frac*peak over the last quarter."""
    if step < warmup:
        return peak * (step + 1) / warmup
    start = int(total * decay_from)
    if step < start:
        return peak
    p = min(1.0, (step - start) / max(1, total - start))
    return peak * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def log_linear_at(t: torch.Tensor, log_values: torch.Tensor) -> torch.Tensor:
    """Per-rate-point values (given as logs) interpolated log-linearly at continuous rate indices t."""
    lo = t.floor().clamp(max=len(log_values) - 2).long()
    a = t - lo
    return (log_values[lo] * (1 - a) + log_values[lo + 1] * a).exp()


def warm_factor_at(step: int, total: int, factor: float, until: float, end: float) -> float:
    """Rate-weight warm-up: ``factor`` until ``until`` of the run, then log-linearly down to 1 at ``end``."""
    p = step / total
    if p < until:
        return factor
    if p < end:
        return math.exp(math.log(factor) * (1 - (p - until) / (end - until)))
    return 1.0


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def run(stage: Stage, run_dir: Path, minutes: float, ckpt_minutes: float = 5.0, log_every: int = 50,
        stop_at: int | None = None) -> int:
    """Train until the time budget, ``stop_at`` or the stage's total steps; return the final step."""
    info = distributed.setup()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "checkpoint"
    step = 0
    if (ckpt / "state.json").exists():
        state = load_checkpoint(ckpt, stage.modules(), stage.optimizers())
        stage.set_sampler_state(state["sampler"])
        step = int(state["step"])
        if info.is_main:
            print(f"resumed {stage.name} at step {step}", flush=True)
    if info.enabled:
        distributed.broadcast_parameters(stage.modules())
        for opt in stage.optimizers().values():
            distributed.average_gradients_on_step(opt, info)
        for attr in ("sampler", "cache"):
            if hasattr(getattr(stage, attr, None), "set_dist"):
                getattr(stage, attr).set_dist(info.rank, info.world)
    log_path = run_dir / "log.csv"
    t0 = time.monotonic()
    last_ckpt = t0
    acc: dict[str, float] = {}
    counts: dict[str, int] = {}
    n_acc = 0
    stop = {"requested": False}

    def _request_stop(signum: int, frame: object) -> None:  # checkpoint and leave at the next step
        stop["requested"] = True

    previous = signal.signal(signal.SIGTERM, _request_stop)
    try:
        last = min(stage.total_steps, stop_at or stage.total_steps)
        while step < last and not _should_stop(info, (time.monotonic() - t0) >= minutes * 60 or stop["requested"]):
            metrics = stage.train_step(step)
            step += 1
            for k, v in metrics.items():
                if not math.isnan(float(v)):  # a metric may be undefined for a step (e.g. no sample in a range)
                    acc[k] = acc.get(k, 0.0) + float(v)
                    counts[k] = counts.get(k, 0) + 1
            n_acc += 1
            if step % log_every == 0 and info.is_main:
                row = {"step": step, "elapsed_s": round(time.monotonic() - t0, 1)}
                row.update({k: round(v / counts[k], 6) for k, v in acc.items()})
                append_row(log_path, row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                acc, counts, n_acc = {}, {}, 0
            if _should_stop(info, time.monotonic() - last_ckpt > ckpt_minutes * 60):
                _save(stage, ckpt, step, info)
                last_ckpt = time.monotonic()
    finally:
        signal.signal(signal.SIGTERM, previous)
        _save(stage, ckpt, step, info)
    return step


def _should_stop(info: distributed.DistInfo, local: bool) -> bool:
    """A decision every rank takes together (any rank's True wins), so no rank waits alone."""
    if not info.enabled:
        return local
    flag = torch.tensor([1.0 if local else 0.0])
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append a row to a CSV log; if the row brings new columns, rewrite the file with the wider header."""
    header: list[str] = []
    if path.exists() and path.stat().st_size:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
    new = [k for k in row if k not in header]
    if new:
        rows = list(csv.DictReader(path.open(newline=""))) if header else []
        header = header + new
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            w.writerows(rows)
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=header).writerow(row)


def _save(stage: Stage, ckpt: Path, step: int, info: distributed.DistInfo | None = None) -> None:
    if info is not None and info.enabled:
        torch.distributed.barrier()
        if not info.is_main:
            return
    save_checkpoint(
        ckpt,
        stage.modules(),
        stage.optimizers(),
        {"step": step, "stage": stage.name, "sampler": stage.sampler_state(), "config": stage.config()},
    )
