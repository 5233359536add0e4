"""Coding a scalar latent under a Gaussian prior, shared by every codec with one.

Given float64 prior parameters (mu, sigma) in the unscaled domain and the
rate gain g (all computed on the parameter island), the coded quantities are

    mean index  = snap(mu * g),  scale index = snap(sigma * g)
    q           = round(y * g - mean)              (integer residuals)
    y_hat       = (q + mean) / g

and the payload is ``hash(indices) || range-coded q``.
"""

from __future__ import annotations

import numpy as np
import torch

from gencodec.container.errors import MalformedStream
from gencodec.entropy import gaussian
from gencodec.entropy.params import (
    HASH_BYTES,
    check_params_hash,
    mean_indices,
    means_from_indices,
    params_hash,
    scale_indices,
)


def _indices(mu: torch.Tensor, sigma: torch.Tensor, gain: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    return mean_indices((mu * gain).numpy()), scale_indices((sigma * gain).numpy())


def encode_latent(
    y: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, gain: torch.Tensor, exact: bool = True
) -> tuple[bytes, torch.Tensor, float]:
    """Return (payload, y_hat float64, estimated bits) for float64 tensors on the CPU."""
    mu_idx, sc_idx = _indices(mu, sigma, gain)
    mean = means_from_indices(mu_idx)
    q = np.rint((y * gain).numpy() - mean).astype(np.int64)
    payload = params_hash(mu_idx, sc_idx) + gaussian.encode(q, sc_idx, exact)
    y_hat = torch.from_numpy(q + mean) / gain
    return payload, y_hat, gaussian.estimate_bits(q, sc_idx) + 8 * HASH_BYTES


def decode_latent(payload: bytes, mu: torch.Tensor, sigma: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode_latent`; checks the parameter hash before decoding."""
    if len(payload) < HASH_BYTES:
        raise MalformedStream("latent section is too short")
    mu_idx, sc_idx = _indices(mu, sigma, gain)
    check_params_hash(payload[:HASH_BYTES], mu_idx, sc_idx)
    q = gaussian.decode(payload[HASH_BYTES:], sc_idx).reshape(mu_idx.shape)
    return torch.from_numpy(q.astype(np.float64) + means_from_indices(mu_idx)) / gain
