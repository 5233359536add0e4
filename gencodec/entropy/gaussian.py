"""Gaussian-conditional scalar latents, range coded with constriction.

Each symbol q (an integer residual around the snapped mean) is coded with a
QuantizedGaussian(0, SCALE_TABLE[k]) restricted to [-SUPPORT, SUPPORT].
Values at or beyond the edge are escaped: the edge value (with its sign) is
coded in place and the excess |q| - SUPPORT follows after all symbols as an
Elias-gamma-like pair (bit length under Uniform(25), then the low bits
under a Uniform model). Every integer with |q| < SUPPORT + 2**24 round trips
exactly. ``encode_chunks`` / ``ChunkDecoder`` put several such arrays (each
with its own escapes) into one payload, for context models whose later
scales depend on earlier decoded values.
"""

from __future__ import annotations

import math

import constriction
import numpy as np
from scipy.special import ndtr

from gencodec.container.errors import MalformedStream
from gencodec.entropy.params import SCALE_TABLE
from gencodec.entropy.trim import bytes_to_words, trim, words_to_bytes

SUPPORT = 255
MAX_ESCAPE_BITS = 24
_MODEL = constriction.stream.model.QuantizedGaussian(-SUPPORT, SUPPORT)


def _escape_values(q: np.ndarray) -> np.ndarray:
    return np.abs(q[np.abs(q) >= SUPPORT]).astype(np.int64) - SUPPORT


def _encode_chunk(enc: constriction.stream.queue.RangeEncoder, q: np.ndarray, scale_idx: np.ndarray) -> None:
    """Append one chunk: all its symbols, then the escapes of its out-of-support values."""
    if q.size:
        stds = SCALE_TABLE[scale_idx.astype(np.int64)]
        clipped = np.clip(q, -SUPPORT, SUPPORT).astype(np.int32)
        enc.encode(clipped, _MODEL, np.zeros(q.size), stds)
        for e in _escape_values(q):
            nbits = int(e).bit_length()
            if nbits > MAX_ESCAPE_BITS:
                raise ValueError(f"latent value too large to code: {int(e) + SUPPORT}")
            enc.encode(np.array([nbits], dtype=np.int32), constriction.stream.model.Uniform(MAX_ESCAPE_BITS + 1))
            if nbits > 1:
                low = int(e) - (1 << (nbits - 1))
                enc.encode(np.array([low], dtype=np.int32), constriction.stream.model.Uniform(1 << (nbits - 1)))


def _encode_words(q: np.ndarray, scale_idx: np.ndarray) -> np.ndarray:
    enc = constriction.stream.queue.RangeEncoder()
    _encode_chunk(enc, q, scale_idx)
    return enc.get_compressed()


def _decode_chunk(dec: constriction.stream.queue.RangeDecoder, scale_idx: np.ndarray) -> np.ndarray:
    n = scale_idx.size
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    stds = SCALE_TABLE[scale_idx.astype(np.int64)]
    q = np.asarray(dec.decode(_MODEL, np.zeros(n), stds), dtype=np.int64)
    for i in np.flatnonzero(np.abs(q) >= SUPPORT):
        nbits = int(dec.decode(constriction.stream.model.Uniform(MAX_ESCAPE_BITS + 1)))
        e = nbits
        if nbits > 1:
            e = (1 << (nbits - 1)) + int(dec.decode(constriction.stream.model.Uniform(1 << (nbits - 1))))
        q[i] = np.sign(q[i]) * (SUPPORT + e)
    return q.astype(np.int32)


def _decode(payload: bytes, scale_idx: np.ndarray) -> np.ndarray:
    return _decode_chunk(constriction.stream.queue.RangeDecoder(bytes_to_words(payload)), scale_idx)


def encode(q: np.ndarray, scale_idx: np.ndarray, exact: bool = True) -> bytes:
    """Code integer residuals q with per-symbol scale indices; returns trimmed bytes.

    exact=False skips the trimming (a few bytes longer, much faster): for rate search.
    """
    q = np.asarray(q).ravel()
    scale_idx = np.asarray(scale_idx).ravel()
    if q.shape != scale_idx.shape:
        raise ValueError("symbols and scale indices must have the same size")
    full = words_to_bytes(_encode_words(q, scale_idx))
    if not exact:
        return full
    return trim(full, lambda b: bool(np.array_equal(_decode(b, scale_idx), q)))


def decode(payload: bytes, scale_idx: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode`; raises MalformedStream if the payload is invalid."""
    scale_idx = np.asarray(scale_idx).ravel()
    try:
        return _decode(bytes(payload), scale_idx)
    except (AssertionError, ValueError, RuntimeError, OverflowError) as exc:
        raise MalformedStream(f"invalid range-coded latent payload ({exc.__class__.__name__})") from None


def estimate_bits(q: np.ndarray, scale_idx: np.ndarray) -> float:
    """Ideal code length in bits under the (unquantized-CDF) model, escapes included."""
    q = np.asarray(q, dtype=np.float64).ravel()
    s = SCALE_TABLE[np.asarray(scale_idx, dtype=np.int64).ravel()]
    c = np.clip(np.abs(q), 0, SUPPORT)
    # lower-tail form for accuracy: P = Phi((0.5-c)/s) - Phi((-0.5-c)/s)
    p = ndtr((0.5 - c) / s) - ndtr((-0.5 - c) / s)
    p = p / (1.0 - 2.0 * ndtr(-(SUPPORT + 0.5) / s))  # the coder renormalizes over its support
    bits = float(-np.log2(np.maximum(p, 2.0**-24)).sum())
    for e in _escape_values(np.asarray(q, dtype=np.int64)):
        nbits = int(e).bit_length()
        bits += math.log2(MAX_ESCAPE_BITS + 1) + max(0, nbits - 1)
    return bits


# -- chunked streams: one range-coded payload whose later chunks' scales depend on earlier chunks --


def encode_chunks(qs: list[np.ndarray], scale_idxs: list[np.ndarray], exact: bool = True) -> bytes:
    """Code several chunks into one payload, in order, each as :func:`encode` codes one array.

    A single chunk gives exactly the bytes of :func:`encode`. The decoder reads the chunks back one
    at a time with :class:`ChunkDecoder`, so it may compute a chunk's scales from earlier chunks.
    """
    if len(qs) != len(scale_idxs):
        raise ValueError("need one scale-index array per chunk")
    flat = [(np.asarray(q).ravel(), np.asarray(s).ravel()) for q, s in zip(qs, scale_idxs)]
    if any(q.shape != s.shape for q, s in flat):
        raise ValueError("symbols and scale indices must have the same size")
    enc = constriction.stream.queue.RangeEncoder()
    for q, s in flat:
        _encode_chunk(enc, q, s)
    full = words_to_bytes(enc.get_compressed())
    if not exact:
        return full

    def decodes_ok(b: bytes) -> bool:
        dec = ChunkDecoder(b)
        return all(np.array_equal(dec.decode(s), q) for q, s in flat)

    return trim(full, decodes_ok)


class ChunkDecoder:
    """Reads the chunks of an :func:`encode_chunks` payload one after the other."""

    def __init__(self, payload: bytes) -> None:
        self._dec = constriction.stream.queue.RangeDecoder(bytes_to_words(bytes(payload)))

    def decode(self, scale_idx: np.ndarray) -> np.ndarray:
        """The next chunk (int32, flat); raises MalformedStream if the payload is invalid."""
        try:
            return _decode_chunk(self._dec, np.asarray(scale_idx).ravel())
        except (AssertionError, ValueError, RuntimeError, OverflowError) as exc:
            raise MalformedStream(f"invalid range-coded latent payload ({exc.__class__.__name__})") from None
