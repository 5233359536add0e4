"""Byte-exact termination for range-coded payloads.

constriction emits 32-bit words and its final flush is generous. The decoder
pads a payload to whole words with ``FILL``; the encoder drops trailing bytes
as long as decoding the shortened payload (with that same padding) still
returns exactly the encoded symbols. The check is the decoder itself, so a
trimmed payload is correct by construction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FILL = 0xFF


def bytes_to_words(payload: bytes, extra_words: int = 2) -> np.ndarray:
    """Pad to whole big-endian uint32 words (plus a tail of fill words)."""
    pad = (-len(payload)) % 4 + 4 * extra_words
    return np.frombuffer(payload + bytes([FILL]) * pad, dtype=">u4").astype(np.uint32)


def words_to_bytes(words: np.ndarray) -> bytes:
    return np.asarray(words, dtype=np.uint32).astype(">u4").tobytes()


def trim(payload: bytes, decodes_ok: Callable[[bytes], bool], max_drop: int = 16) -> bytes:
    """Shortest prefix of payload (dropping at most max_drop bytes) that still decodes."""
    best = payload
    for n in range(1, min(max_drop, len(payload)) + 1):
        candidate = payload[:-n]
        try:
            ok = decodes_ok(candidate)
        except Exception:  # noqa: BLE001 - any decoder failure means "too short"
            ok = False
        if not ok:
            break
        best = candidate
    return best
