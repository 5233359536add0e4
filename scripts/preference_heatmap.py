"""Heat maps of ConHa's preference weight w (seed 004, sec. 3.1 and eq. 4) over whole images.

M_P is fully convolutional up to its pooling, so w varies across an image: one value per 64x64 window
every 32 pixels (``PreferenceModel.weight_map``). Low w (blue) = keep fidelity, do not hallucinate (text,
lines, faces); high w (red) = texture, where a plausible sample beats blur. Each output PNG shows the
image and the map blended over it, with the mean, min and max w in the title.

Usage: python scripts/preference_heatmap.py IMAGE [IMAGE ...] --out DIR [--weights-dir weights]
       [--temperature T]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gencodec.models.preference import load_preference


def heat(model, img: np.ndarray, temperature: float | None) -> np.ndarray:
    x = torch.from_numpy(img.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255
    with torch.no_grad():
        return model.weight_map(x, crop=64, stride=32, temperature=temperature)[0].numpy()


def save_figure(img: np.ndarray, w: np.ndarray, title: str, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, wd = img.shape[:2]
    ny, nx = w.shape
    extent = (16, 32 * nx + 16, 32 * ny + 16, 16)  # cell (i, j) centred on its window's centre (32 + 32 j)
    fig = Figure(figsize=(10, 10 * h / wd / 2 + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2)
    a.imshow(img)
    b.imshow(img)
    im = b.imshow(w, cmap="coolwarm", vmin=0, vmax=1, alpha=0.6, extent=extent, interpolation="bilinear")
    for ax in (a, b):
        ax.set_xlim(0, wd)
        ax.set_ylim(h, 0)
        ax.axis("off")
    fig.colorbar(im, ax=b, fraction=0.03, pad=0.01, label="w")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights-dir", type=Path, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_preference(args.weights_dir)
    for f in args.images:
        img = np.asarray(Image.open(f).convert("RGB"))
        w = heat(model, img, args.temperature)
        title = f"{f.name}: M_P weight w per 64 px window, mean {w.mean():.2f}, min {w.min():.2f}, max {w.max():.2f}"
        save_figure(img, w, title, args.out / f"heatmap_{f.stem}.png")
        ny, nx = w.shape
        print(f"{f.name}: mean w {w.mean():.3f} (min {w.min():.3f}, max {w.max():.3f}), {nx}x{ny} windows")


if __name__ == "__main__":
    main()
