"""The determinism boundary: float entropy parameters -> integers.

constriction rebuilds its quantized CDFs from float parameters on every
call, and a one-ulp difference between encoder and decoder breaks a stream.
So the models compute (mu, sigma) on the CPU in float64 from the same
weights on both sides (``gencodec.models.determinism``), and this module turns
them into integers:

* sigma -> index into ``SCALE_TABLE`` (64 log-spaced literals, 0.11..256;
  bin edges are geometric midpoints, computed with correctly rounded IEEE
  operations so every machine gets the same edges);
* mu -> nearest multiple of 1/MEAN_STEPS (an integer index).

The coder only ever sees table values and grid multiples. The encoder writes
a 16-bit hash of all indices; the decoder recomputes it before range decoding
and raises ``ParameterMismatch`` on a difference instead of producing garbage.
"""

from __future__ import annotations

import hashlib

import numpy as np

from gencodec.container.errors import ParameterMismatch

SCALE_TABLE = np.array(
    (
        0.11,
        0.124404,
        0.140694,
        0.159118,
        0.179954,
        0.203518,
        0.230168,
        0.260308,
        0.294394,
        0.332944,
        0.376542,
        0.425848,
        0.481612,
        0.544677,
        0.616,
        0.696663,
        0.787889,
        0.89106,
        1.00774,
        1.1397,
        1.28894,
        1.45772,
        1.64861,
        1.86449,
        2.10863,
        2.38475,
        2.69703,
        3.05019,
        3.4496,
        3.90132,
        4.41218,
        4.98994,
        5.64335,
        6.38233,
        7.21807,
        8.16326,
        9.2322,
        10.4411,
        11.8084,
        13.3546,
        15.1034,
        17.0811,
        19.3178,
        21.8474,
        24.7082,
        27.9437,
        31.6028,
        35.7411,
        40.4212,
        45.7143,
        51.7004,
        58.4704,
        66.1268,
        74.7859,
        84.5789,
        95.6541,
        108.18,
        122.345,
        138.366,
        156.485,
        176.976,
        200.15,
        226.359,
        256.0,
    ),
    dtype=np.float64,
)
SCALE_EDGES = np.sqrt(SCALE_TABLE[:-1] * SCALE_TABLE[1:])
MEAN_STEPS = 16  # means snap to multiples of 1/16
HASH_BYTES = 2


def scale_indices(sigma: np.ndarray) -> np.ndarray:
    """Index of the table entry nearest (geometrically) to each sigma; int16."""
    sigma = np.asarray(sigma, dtype=np.float64)
    if not np.all(np.isfinite(sigma)):
        raise ValueError("non-finite scale parameter")
    return np.searchsorted(SCALE_EDGES, sigma, side="right").astype(np.int16)


def mean_indices(mu: np.ndarray) -> np.ndarray:
    """Nearest grid index of each mean (mu * MEAN_STEPS rounded half to even); int32."""
    mu = np.asarray(mu, dtype=np.float64)
    if not np.all(np.isfinite(mu)):
        raise ValueError("non-finite mean parameter")
    return np.rint(np.clip(mu, -(2**20), 2**20) * MEAN_STEPS).astype(np.int32)


def scales_from_indices(idx: np.ndarray) -> np.ndarray:
    return SCALE_TABLE[np.asarray(idx, dtype=np.int64)]


def means_from_indices(idx: np.ndarray) -> np.ndarray:
    return np.asarray(idx, dtype=np.float64) / MEAN_STEPS


def params_hash(*arrays: np.ndarray) -> bytes:
    """16-bit digest of integer parameter arrays (shape and little-endian values)."""
    h = hashlib.blake2b(digest_size=HASH_BYTES)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(np.asarray(a.shape, dtype="<i8").tobytes())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.digest()


def check_params_hash(expected: bytes, *arrays: np.ndarray) -> None:
    if params_hash(*arrays) != expected:
        raise ParameterMismatch(
            "entropy parameters differ from the encoder's (parameter hash mismatch): "
            "the stream was made with other weights or a non-deterministic parameter path"
        )
