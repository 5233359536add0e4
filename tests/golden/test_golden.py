"""Golden streams: for every shipped model, committed .gic bytes and the decoded image's sha256.

A change to either fails here. To change the bitstream on purpose, run
``GIC_REGENERATE_GOLDEN=1 python -m pytest tests/golden`` and add a CHANGELOG
entry tagged [bitstream] (and bump the format version if old files no longer
decode).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gencodec
from gencodec.models.registry import CODECS
from gencodec.models.weights import read_manifest

HERE = Path(__file__).parent
IMAGE = HERE.parent / "data" / "kodim04_odd.png"
EXPECTED = HERE / "expected.json"
REGENERATE = os.environ.get("GIC_REGENERATE_GOLDEN") == "1"
RATE = 100


def _shipped_models() -> list[str]:
    manifest = read_manifest()
    return [m for m, (_, wid) in CODECS.items() if wid in manifest]


def _sha(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


@pytest.mark.parametrize("model", _shipped_models())
def test_golden_stream(model: str) -> None:
    img = np.asarray(Image.open(IMAGE).convert("RGB"))
    res = gencodec.encode(img, model=model, rate=RATE)
    stream = HERE / f"{model}.gic"
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    if REGENERATE:
        stream.write_bytes(res.data)
        expected[model] = {"rate": RATE, "bytes": len(res.data), "decoded_sha256": _sha(res.reconstruction)}
        EXPECTED.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
        return
    assert stream.exists(), f"no golden stream for {model}: regenerate with GIC_REGENERATE_GOLDEN=1"
    assert res.data == stream.read_bytes(), f"{model}: encoder output changed"
    decoded = gencodec.decode(stream.read_bytes())
    assert _sha(decoded) == expected[model]["decoded_sha256"], f"{model}: decoded image changed"
    assert np.array_equal(decoded, res.reconstruction)


def test_every_shipped_model_has_a_golden_stream() -> None:
    expected = json.loads(EXPECTED.read_text())
    assert set(_shipped_models()) <= set(expected)
