"""Build the held-out evaluation set: colour photos shipped inside the scikit-image wheel.

None of these images is in ../shared/data/train, so no gencodec model has seen them. The
wheel comes from PyPI (``pip download --no-deps scikit-image==0.26.0``); this script only
unpacks the chosen files and stores them as RGB PNGs. Sources and licences are listed in
docs/perco/heldout.md.

Usage:
    pip download --no-deps scikit-image==0.26.0 -d /tmp/skw
    python scripts/make_heldout.py /tmp/skw/scikit_image-0.26.0-*.whl /work/heldout
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

from PIL import Image

HELDOUT = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
           "hubble_deep_field.jpg")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.wheel) as z:
        for name in HELDOUT:
            img = Image.open(io.BytesIO(z.read(f"skimage/data/{name}"))).convert("RGB")
            dst = args.out / (Path(name).stem + ".png")
            img.save(dst)
            print(f"{dst}: {img.width}x{img.height}")


if __name__ == "__main__":
    main()
