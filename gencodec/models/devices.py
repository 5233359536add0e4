"""Device placement: heavy transforms may run anywhere; the parameter island never moves.

The rule that makes streams portable between devices: everything that decides
a probability model (prior parameters, rate gains, hyper codebooks) is a
float64 copy on the CPU (``determinism.island_copy``), whatever device the
transforms use. On the CPU, synthesis is float64 too, so encoder and decoder
pixels are identical; on a GPU, synthesis runs in float32 and pixels may
differ from a CPU decode by a few levels (the stream still decodes).
"""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device | None) -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when available)."""
    if name is None:
        return torch.device("cpu")
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r} (use cpu, cuda or auto)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but is not available on this machine (use --device cpu or auto)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r} (use cpu, cuda or auto)")
    return device
