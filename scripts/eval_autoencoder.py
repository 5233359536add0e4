"""Reconstruction quality of a stage-I autoencoder on a folder of images (no codec, no rate).

Reports mean PSNR and EfficientNet-Lite0 deep-feature distance of D(E(x)) from the continuous
latent (what the latent codecs approach at high rate) and from its VQ codes.

Usage: python scripts/eval_autoencoder.py weights/autoencoder.safetensors|runs/NAME/checkpoint KODAK_DIR [--limit N]
       [--side-by-side OUT.png --crop-image kodim14]   (original | from the latent | from the codes, centre 256 px)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gencodec.metrics.deep_features import deep_feature_distance
from gencodec.metrics.psnr import psnr
from gencodec.models.base import pad_to_multiple, to_tensor, to_uint8
from gencodec.training.stages.glc_latent import load_autoencoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("autoencoder")
    ap.add_argument("images", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--side-by-side", type=Path, default=None, help="save a centre crop: original | continuous | codes")
    ap.add_argument("--crop-image", default="kodim14", help="image (file stem) for --side-by-side")
    args = ap.parse_args()
    ae = load_autoencoder(args.autoencoder)
    res: dict[str, list[tuple[float, float]]] = {"continuous": [], "codes": []}
    for f in sorted(args.images.glob("*.png"))[: args.limit]:
        img = np.asarray(Image.open(f).convert("RGB"))
        x = pad_to_multiple(to_tensor(img), ae.cfg.downsample)
        with torch.no_grad():
            latent = ae.encode(x)
            recs = [to_uint8(ae.decode(lat), *img.shape[:2]) for lat in (latent, ae.quantize(latent)[0])]
        for name, rec in zip(res, recs):
            res[name].append((psnr(img, rec), deep_feature_distance(img, rec)))
        if args.side_by_side is not None and f.stem == args.crop_image:
            top, left = max(0, (img.shape[0] - 256) // 2), max(0, (img.shape[1] - 256) // 2)
            tiles = [t[top : top + 256, left : left + 256] for t in (img, *recs)]
            Image.fromarray(np.concatenate(tiles, axis=1)).save(args.side_by_side)
    for name, rows in res.items():
        a = np.array(rows)
        print(f"{name}: {len(rows)} images, PSNR {a[:, 0].mean():.2f} dB, deep-feature distance {a[:, 1].mean():.4f}")


if __name__ == "__main__":
    main()
