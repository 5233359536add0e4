"""Mixed precision on the CPU: bf16 autocast only where the CPU computes bf16 natively.

``torch.autocast("cpu", dtype=torch.bfloat16)`` is fast on CPUs with AVX-512 BF16 or AMX (measured
about 2.4x faster than fp32 on the Xeon of docs/training.md), but on a CPU without them (AVX2 only,
e.g. AMD EPYC Milan) PyTorch emulates bf16: there one forward + backward of the ``hific`` transforms
took 28x as long as in fp32 (docs/training.md). Training stages and SGA refinement therefore take
``bf16 = None`` ("auto") by default: bf16 where :func:`native_bf16` is true, fp32 elsewhere;
``True``/``False`` force it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (or of the given text); empty when unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def has_bf16(flags: set[str]) -> bool:
    """True when the CPU flags include bf16 arithmetic in hardware (AVX-512 BF16 or AMX)."""
    return any(f in flags for f in BF16_FLAGS)


@functools.cache
def native_bf16() -> bool:
    """:func:`has_bf16` for this machine's CPU (read once)."""
    return has_bf16(cpu_flags())


def use_bf16(setting: bool | None) -> bool:
    """Resolve a ``bf16`` setting: None means "auto" (:func:`native_bf16`)."""
    return native_bf16() if setting is None else bool(setting)


def cpu_autocast(setting: bool | None) -> torch.autocast:
    """``torch.autocast`` on the CPU in bf16 when :func:`use_bf16` says so, otherwise disabled (fp32)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(setting))
