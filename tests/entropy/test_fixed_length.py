from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gencodec.container.errors import BitstreamError
from gencodec.entropy import fixed_length


@given(st.integers(2, 1 << 16), st.integers(0, 200), st.integers(0, 2**31))
def test_round_trip(k: int, n: int, seed: int) -> None:
    idx = np.random.default_rng(seed).integers(0, k, n)
    data = fixed_length.pack(idx, k)
    assert len(data) == (n * fixed_length.bits_per_index(k) + 7) // 8
    assert np.array_equal(fixed_length.unpack(data, n, k), idx)


def test_bits_per_index() -> None:
    assert [fixed_length.bits_per_index(k) for k in (2, 3, 4, 5, 1024, 1025)] == [1, 2, 2, 3, 10, 11]


def test_wrong_sizes_and_values_are_typed() -> None:
    data = fixed_length.pack(np.array([1, 2, 3]), 5)
    with pytest.raises(BitstreamError):
        fixed_length.unpack(data[:-1], 3, 5)
    with pytest.raises(BitstreamError):
        fixed_length.unpack(data + b"\x00", 3, 5)
    with pytest.raises(BitstreamError):
        fixed_length.unpack(b"\xff\xff", 3, 5)  # 7 is not a valid index for K=5
