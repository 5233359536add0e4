"""Categorical hyper-latents coded with integer tables shipped in the weights.

A table is an int array of shape (C, S): the frequency of each of S symbols
for each of C channels, built once at export from the trained prior
(``table_from_logits``) and stored in the weights file. The coder turns the
integers into float64 probabilities by exact division on both sides, so the
decoder never recomputes a distribution from a network.
"""

from __future__ import annotations

import constriction
import numpy as np

from gencodec.container.errors import MalformedStream
from gencodec.entropy.trim import bytes_to_words, trim, words_to_bytes

TABLE_PRECISION = 16  # frequencies sum to about 2**16 per channel


def table_from_logits(log_probs: np.ndarray) -> np.ndarray:
    """Integer frequency table (C, S) from log-probabilities; every entry >= 1."""
    p = np.exp(np.asarray(log_probs, dtype=np.float64))
    p = p / p.sum(axis=1, keepdims=True)
    return np.maximum(1, np.rint(p * (1 << TABLE_PRECISION))).astype(np.int32)


def _probs(table: np.ndarray, channels: np.ndarray) -> np.ndarray:
    t = np.asarray(table, dtype=np.float64)
    return t[channels]


def encode(symbols: np.ndarray, table: np.ndarray, exact: bool = True) -> bytes:
    """Code symbols of shape (C, ...) with values in [0, S); channel c uses table[c]."""
    symbols = np.asarray(symbols)
    c = symbols.shape[0]
    if c != table.shape[0]:
        raise ValueError("symbols and table disagree on the number of channels")
    flat = symbols.reshape(c, -1)
    if flat.size and (flat.min() < 0 or flat.max() >= table.shape[1]):
        raise ValueError("symbol outside the table's alphabet")
    channels = np.repeat(np.arange(c), flat.shape[1])
    sym = flat.reshape(-1).astype(np.int32)

    def _decodes(b: bytes) -> bool:
        return bool(np.array_equal(_decode(b, table, flat.shape[1]).reshape(-1), sym))

    enc = constriction.stream.queue.RangeEncoder()
    if sym.size:
        enc.encode(sym, constriction.stream.model.Categorical(perfect=False), _probs(table, channels))
    full = words_to_bytes(enc.get_compressed())
    return trim(full, _decodes) if exact else full


def _decode(payload: bytes, table: np.ndarray, per_channel: int) -> np.ndarray:
    c = table.shape[0]
    if c * per_channel == 0:
        return np.zeros((c, per_channel), dtype=np.int32)
    channels = np.repeat(np.arange(c), per_channel)
    dec = constriction.stream.queue.RangeDecoder(bytes_to_words(payload))
    out = dec.decode(constriction.stream.model.Categorical(perfect=False), _probs(table, channels))
    return np.asarray(out, dtype=np.int32).reshape(c, per_channel)


def decode(payload: bytes, table: np.ndarray, per_channel: int) -> np.ndarray:
    """Inverse of :func:`encode`; returns (C, per_channel) int32 symbols."""
    try:
        return _decode(bytes(payload), table, per_channel)
    except (AssertionError, ValueError, RuntimeError, OverflowError) as exc:
        raise MalformedStream(f"invalid range-coded hyper-latent payload ({exc.__class__.__name__})") from None


def estimate_bits(symbols: np.ndarray, table: np.ndarray) -> float:
    symbols = np.asarray(symbols)
    c = symbols.shape[0]
    flat = symbols.reshape(c, -1)
    p = np.asarray(table, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.log2(np.take_along_axis(p, flat.astype(np.int64), axis=1)).sum())
