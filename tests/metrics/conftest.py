"""Shared fixtures for the metric tests: one torch thread, one backbone."""

from __future__ import annotations

import os

# Single-threaded BLAS: only effective if numpy/scipy are not imported yet, but on this busy 2-core machine
# multi-threaded OpenBLAS makes a 320x320 sqrtm take seconds instead of milliseconds.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from gencodec.metrics.backbone import EfficientNetLite0Features  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def backbone() -> EfficientNetLite0Features:
    """One backbone for the whole test session (loads the committed safetensors weights)."""
    return EfficientNetLite0Features()
