"""Decoding gives identical pixels with 1 and 2 torch threads and across process restarts,
for every shipped model; encoding twice gives identical bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gencodec
from gencodec.models.registry import CODECS
from gencodec.models.weights import read_manifest

IMAGE = Path(__file__).resolve().parents[1] / "data" / "kodim23_crop.png"
SCRIPT = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[2]))
import gencodec
data = open(sys.argv[1], 'rb').read()
print(hashlib.sha256(gencodec.decode(data).tobytes()).hexdigest())
"""


def _shipped() -> list[str]:
    manifest = read_manifest()
    return [m for m, (_, wid) in CODECS.items() if wid in manifest]


@pytest.mark.parametrize("model", _shipped())
def test_threads_and_restarts(model: str, tmp_path) -> None:
    import hashlib

    img = np.asarray(Image.open(IMAGE).convert("RGB"))
    a = gencodec.encode(img, model=model, rate=150)
    b = gencodec.encode(img, model=model, rate=150)
    assert a.data == b.data
    path = tmp_path / "s.gic"
    path.write_bytes(a.data)
    here = hashlib.sha256(a.reconstruction.tobytes()).hexdigest()
    for threads in (1, 2):
        out = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(threads)], capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == here, f"{model}: decode with {threads} thread(s) differs"
