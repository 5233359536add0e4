"""Fixed-length VQ indices: ceil(log2 K) bits each, MSB first, zero-padded to a byte.

Needs no probability model to decode, so it is immune to float drift.
"""

from __future__ import annotations

import numpy as np

from gencodec.container.errors import MalformedStream, TruncatedStream


def bits_per_index(k: int) -> int:
    if k < 2:
        raise ValueError("codebook needs at least 2 entries")
    return int(k - 1).bit_length()


def packed_size(n: int, k: int) -> int:
    return (n * bits_per_index(k) + 7) // 8


def pack(indices: np.ndarray, k: int) -> bytes:
    idx = np.asarray(indices, dtype=np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= k):
        raise ValueError("index outside the codebook")
    b = bits_per_index(k)
    bits = ((idx[:, None] >> np.arange(b - 1, -1, -1)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes()


def unpack(data: bytes, n: int, k: int) -> np.ndarray:
    """Read n indices; raises if the payload has the wrong size or an index >= k."""
    b = bits_per_index(k)
    need = packed_size(n, k)
    if len(data) < need:
        raise TruncatedStream(f"index payload has {len(data)} bytes, needs {need}")
    if len(data) > need:
        raise MalformedStream(f"index payload has {len(data)} bytes, expected {need}")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: n * b].reshape(n, b).astype(np.int64)
    idx = (bits << np.arange(b - 1, -1, -1)).sum(axis=1)
    if idx.size and idx.max() >= k:
        raise MalformedStream("index outside the codebook")
    return idx
