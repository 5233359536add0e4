"""The entropy-parameter island: CPU, float64, no autocast, no autograd.

Every tensor that decides a probability model (prior parameters of y, the
rate gains) is computed here on both encoder and decoder, and so is the
synthesis of the output image (fp32 CPU kernels were measured to give
different pixels with 1 and 2 threads; float64 gives identical ones). float64 makes a
thread-count or kernel difference in the last bits far too small to move a
value across a grid edge of ``gencodec.entropy.params``, and the parameter
hash in the stream catches the vanishing remainder.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def island_copy(module: nn.Module) -> nn.Module:
    """A float64 CPU copy of module in eval mode, for parameter computations."""
    return copy.deepcopy(module).to(device="cpu", dtype=torch.float64).eval().requires_grad_(False)


@contextmanager
def parameter_island() -> Iterator[None]:
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        yield


def to_island(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(device="cpu", dtype=torch.float64)
