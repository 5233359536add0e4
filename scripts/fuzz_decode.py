"""Long fuzz run over the container and the full decode path of the shipped models.

    python scripts/fuzz_decode.py --inputs 100000 [--max-pixels 262144] [--seed 0]

Seeds are real streams of tests/data images at several rate points; mutants
(bit flips, truncations, extensions, random bytes, absurd headers; half with
a recomputed checksum) are decoded in-process. Reports counts by outcome, the
slowest input and peak memory (ru_maxrss). Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gencodec  # noqa: E402
from gencodec.container import BitstreamError  # noqa: E402
from gencodec.models.registry import CODECS  # noqa: E402
from gencodec.models.weights import WeightsError, read_manifest  # noqa: E402
from tests.fuzz.harness import run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--max-pixels", type=int, default=1 << 18)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    manifest = read_manifest()
    models = [m for m, (_, wid) in CODECS.items() if wid in manifest]
    seeds = []
    for name in ("kodim23_crop.png", "kodim04_odd.png"):
        img = np.asarray(Image.open(ROOT / "tests" / "data" / name).convert("RGB"))
        seeds += [gencodec.encode(img, model=m, rate=r).data for m in models for r in (0, 128, 255)]
    decode = functools.partial(gencodec.decode, max_pixels=args.max_pixels)
    t0 = time.perf_counter()
    rep = run(decode, seeds, args.inputs, args.seed, allowed=(BitstreamError, WeightsError))
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"models: {', '.join(models)}; seeds: {len(seeds)}; max pixels: {args.max_pixels}")
    print(f"inputs: {rep.inputs} in {dt:.0f} s; decoded: {rep.decoded}; rejected: {rep.rejected}")
    print(f"slowest input: {rep.max_seconds:.2f} s; peak RSS: {peak:.0f} MB; failures: {len(rep.failures)}")
    for f in rep.failures[:20]:
        print("  FAIL", f)
    return 1 if rep.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
