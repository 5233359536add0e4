"""Lower (or raise) one rate point of a training checkpoint by shifting its rate-variable log-gains.

A rate point's log-gains (``gencodec.nn.rate_gain``: quantization step 1 / g) move only a little
per fine-tuning step, so extending a model's range downward by lowering its lowest lambda alone
takes thousands of steps. This shifts every channel's log-gain of one rate index by DELTA in the
checkpoint (model weights only; the optimizer state is kept) so the resumed run starts near the new
operating point and training refines it. A step of -0.3 at rate index 0 of ``glc`` roughly halves
that point's latent rate (about 2.3x rate per unit of log-gain between its first two points).

Usage:
    python scripts/shift_rate_gain.py runs/gj6b --index 0 --delta -0.25
"""

from __future__ import annotations

import argparse
from pathlib import Path

from safetensors.torch import load_file, save_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run directory whose checkpoint/ is edited in place")
    ap.add_argument("--index", type=int, required=True, help="rate index to shift")
    ap.add_argument("--delta", type=float, required=True, help="added to every channel's log-gain")
    ap.add_argument("--key", default="model.y_gain.log_gain", help="checkpoint tensor of the log-gains")
    args = ap.parse_args()
    path = args.run / "checkpoint" / "model.safetensors"
    if not path.exists():
        raise SystemExit(f"error: no checkpoint at {path}")
    weights = load_file(str(path))
    if args.key not in weights:
        raise SystemExit(f"error: {path} has no tensor {args.key!r}")
    gains = weights[args.key].clone()
    if not 0 <= args.index < gains.shape[0]:
        raise SystemExit(f"error: rate index {args.index} outside 0..{gains.shape[0] - 1}")
    before = float(gains[args.index].mean())
    gains[args.index] += args.delta
    weights[args.key] = gains
    tmp = path.with_suffix(".tmp")
    save_file(weights, str(tmp))
    tmp.replace(path)
    print(f"{args.key}[{args.index}]: mean log-gain {before:.4f} -> {float(gains[args.index].mean()):.4f}")


if __name__ == "__main__":
    main()
