"""Coding a scalar latent under a context-conditioned Gaussian prior (ELIC groups x checkerboard).

The latent y (1, M, h, w) is coded in ``2 * len(groups)`` passes: for each
channel group k, its anchors ((i + j) even), then its non-anchors. The prior
of a pass comes from ``prior(k, prev, anchors)`` (float64, parameter
island), a function of the values decoded so far, so encoder and decoder
walk the very same schedule (:func:`_walk`) and build every context from
the same dequantized y_hat. Per pass, as in ``gaussian_latent``:

    mean index = snap(mu * g),  scale index = snap(sigma * g)
    q = round(y * g - mean),    y_hat = (q + mean) / g

Payload: ``hash || range-coded passes``. The passes share one range coder
(``gaussian.encode_chunks``, each pass followed by its escapes) so the
section pays one termination; the 2-byte hash covers the indices of all
passes in order. The decoder can only know a later pass's indices after
decoding the earlier ones, so it checks the hash after the last pass and
raises ``ParameterMismatch`` then (a mismatching stream still never yields
an image).
"""

from __future__ import annotations

from collections.abc import Callable

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
from gencodec.nn.elic_context import checkerboard, group_bounds

# prior(k, prev, anchors) -> (mu, sigma) of group k, unscaled float64 (1, g_k, h, w)
PriorFn = Callable[[int, torch.Tensor | None, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor]]
# code_pass(first, end, mask, mean_idx, scale_idx) -> integer residuals q (g_k, n) of the pass
PassFn = Callable[[int, int, torch.Tensor, np.ndarray, np.ndarray], np.ndarray]


def _walk(
    shape: tuple[int, ...], groups: tuple[int, ...], gain: torch.Tensor, prior: PriorFn, code_pass: PassFn
) -> tuple[torch.Tensor, list[np.ndarray], list[np.ndarray]]:
    """Run the group/pass schedule; returns y_hat (float64) and the per-pass mean and scale indices."""
    _, _, h, w = shape
    anchor = checkerboard(h, w)
    y_hat = torch.zeros(shape, dtype=torch.float64)
    mean_idx: list[np.ndarray] = []
    scale_idx: list[np.ndarray] = []
    for k, (lo, hi) in enumerate(group_bounds(groups)):
        g = gain[0, lo:hi, :, 0]  # (g_k, 1)
        prev = y_hat[:, :lo] if k else None
        for first_pass in (True, False):
            mask = anchor if first_pass else ~anchor
            anchors = None if first_pass else y_hat[:, lo:hi].clone()  # zeros at the non-anchors
            mu, sigma = prior(k, prev, anchors)
            try:
                mu_i = mean_indices((mu[0][:, mask] * g).numpy())
                sc_i = scale_indices((sigma[0][:, mask] * g).numpy())
            except ValueError as exc:  # non-finite parameters from a corrupted context
                raise MalformedStream(f"invalid latent context ({exc})") from None
            q = code_pass(lo, hi, mask, mu_i, sc_i)
            y_hat[0, lo:hi][:, mask] = torch.from_numpy(q.astype(np.float64) + means_from_indices(mu_i)) / g
            mean_idx.append(mu_i)
            scale_idx.append(sc_i)
    return y_hat, mean_idx, scale_idx


def _in_order(mean_idx: list[np.ndarray], scale_idx: list[np.ndarray]) -> list[np.ndarray]:
    """The arrays the hash covers: mean and scale indices of pass 0, of pass 1, ..."""
    return [a for pair in zip(mean_idx, scale_idx) for a in pair]


def encode_context_latent(
    y: torch.Tensor, groups: tuple[int, ...], gain: torch.Tensor, prior: PriorFn, exact: bool = True
) -> tuple[bytes, torch.Tensor, float, list[np.ndarray]]:
    """Return (payload, y_hat float64, estimated bits, per-pass scale indices) for float64 CPU tensors."""
    y_scaled = y * gain
    qs: list[np.ndarray] = []

    def code_pass(lo: int, hi: int, mask: torch.Tensor, mu_i: np.ndarray, sc_i: np.ndarray) -> np.ndarray:
        q = np.rint(y_scaled[0, lo:hi][:, mask].numpy() - means_from_indices(mu_i)).astype(np.int64)
        qs.append(q)
        return q

    y_hat, mean_idx, scale_idx = _walk(tuple(y.shape), groups, gain, prior, code_pass)
    payload = params_hash(*_in_order(mean_idx, scale_idx)) + gaussian.encode_chunks(qs, scale_idx, exact)
    bits = sum(gaussian.estimate_bits(q, s) for q, s in zip(qs, scale_idx)) + 8 * HASH_BYTES
    return payload, y_hat, bits, scale_idx


def decode_context_latent(
    payload: bytes, shape: tuple[int, ...], groups: tuple[int, ...], gain: torch.Tensor, prior: PriorFn
) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Inverse of :func:`encode_context_latent`: (y_hat float64, per-pass scale indices)."""
    if len(payload) < HASH_BYTES:
        raise MalformedStream("latent section is too short")
    dec = gaussian.ChunkDecoder(payload[HASH_BYTES:])

    def code_pass(lo: int, hi: int, mask: torch.Tensor, mu_i: np.ndarray, sc_i: np.ndarray) -> np.ndarray:
        return dec.decode(sc_i).astype(np.int64).reshape(sc_i.shape)

    y_hat, mean_idx, scale_idx = _walk(shape, groups, gain, prior, code_pass)
    check_params_hash(payload[:HASH_BYTES], *_in_order(mean_idx, scale_idx))
    return y_hat, scale_idx
