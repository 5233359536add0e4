"""The device rule: whatever device or precision the transforms use, the parameter island is
CPU float64 and streams decode; the CPU plays both roles here (no GPU on CI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gencodec
from gencodec.models.devices import resolve_device
from gencodec.models.registry import load_codec


def test_island_is_cpu_float64(tiny_weights) -> None:
    codec = load_codec("hyperprior", tiny_weights)
    codec.set_device(torch.device("cpu"))
    for m in (codec.h_s64, codec.y_gain64, codec.z_gain64, codec.g_s64):
        assert all(p.device.type == "cpu" and p.dtype == torch.float64 for p in m.parameters())


def test_encoder_side_arithmetic_does_not_matter(tiny_weights, crop_image) -> None:
    """An 'other device' encoder (analysis in bfloat16) writes a stream the CPU decoder reads exactly."""
    codec = load_codec("hyperprior", tiny_weights)
    plain = gencodec.encode(crop_image, rate=120, weights_dir=tiny_weights)

    class LowPrecision(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x.bfloat16().float()).bfloat16().float()

    g_a, h_a = codec.net.g_a, codec.net.h_a
    try:
        codec.net.g_a, codec.net.h_a = LowPrecision(g_a), LowPrecision(h_a)
        other = gencodec.encode(crop_image, rate=120, weights_dir=tiny_weights)
    finally:
        codec.net.g_a, codec.net.h_a = g_a, h_a
    assert other.data != plain.data  # the encoder really computed something different
    out = gencodec.decode(other.data, weights_dir=tiny_weights)
    assert np.array_equal(out, other.reconstruction)


def test_resolve_device() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError):
        resolve_device("tpu")
