from __future__ import annotations

import numpy as np

from gencodec.entropy import categorical


def _setup(seed: int = 0, c: int = 8, s: int = 31, n: int = 96):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(s) * 0.3, size=c)
    table = categorical.table_from_logits(np.log(probs))
    sym = np.stack([rng.choice(s, size=n, p=probs[i]) for i in range(c)])
    return table, sym


def test_table_from_logits() -> None:
    table, _ = _setup()
    assert table.dtype == np.int32 and table.min() >= 1
    assert np.all(np.abs(table.sum(axis=1) - 2**16) < table.shape[1])


def test_round_trip_and_size() -> None:
    for seed in range(4):
        table, sym = _setup(seed)
        payload = categorical.encode(sym, table)
        assert np.array_equal(categorical.decode(payload, table, sym.shape[1]), sym)
        est = categorical.estimate_bits(sym, table) / 8
        assert est - 1 <= len(payload) <= est * 1.01 + 4


def test_rare_symbols_round_trip() -> None:
    table, sym = _setup(5)
    sym[:, :3] = np.argmin(table, axis=1)[:, None]
    payload = categorical.encode(sym, table)
    assert np.array_equal(categorical.decode(payload, table, sym.shape[1]), sym)
