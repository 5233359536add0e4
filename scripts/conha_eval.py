"""ConHa test set and region evaluation (issue 5; seed 004 sec. 4).

    python scripts/conha_eval.py build --out runs/conha_test
    python scripts/conha_eval.py eval --set runs/conha_test --models hyperprior,hific,conha,conha-fixed \
        --bpp 0.07 --out docs/conha

``build``: 24 images of 512x384 with known structure regions, none of them ever trained on:
the 16 held-out Sun-Hays photos (``gencodec.training.data.list_images(..., heldout=True)``, downscaled
to 512 px wide, centre-cropped to 384 rows) and 8 Kodak centre crops (Kodak is evaluation-only). Each
gets one text block (2-3 lines of words, sometimes on a plate) and one 128x128 line drawing (grid,
frames or straight lines) at random non-overlapping places; ``regions.json`` records both boxes and the
texture tiles: the 64x64 grid tiles that keep 16 px away from both boxes and whose gradient energy on the
image is at least 0.07 (the texture threshold of the synthetic M_P labels).

``eval``: every image through every model at the target bpp (real files, real decodes), then per image
PSNR and edge error (mean |Sobel magnitude difference| of the grey image, x255) inside the text and the
line boxes, deep-feature distance (``gencodec.metrics.deep_features``) over the texture tiles and over the
whole image. Writes ``conha_eval.json``, ``conha_eval.md`` and side-by-side crops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gencodec.api import decode, encode
from gencodec.metrics.backbone import default_backbone
from gencodec.metrics.deep_features import deep_feature_distance, tap_distance
from gencodec.metrics.psnr import psnr
from gencodec.training.data import list_images
from gencodec.training.preference_pairs import (
    DEFAULT_TEXTURE_THRESHOLD,
    WORDS,
    _contrast_colour,
    _font,
    gradient_energy,
)

W, H, TILE, MARGIN, LINES_BOX = 512, 384, 64, 16, 128
KODAK = ("kodim01", "kodim03", "kodim05", "kodim08", "kodim13", "kodim14", "kodim21", "kodim23")


def _fit(img: Image.Image) -> np.ndarray:
    s = W / img.width
    img = img.convert("RGB").resize((W, max(H, round(img.height * s))), Image.LANCZOS)
    top = (img.height - H) // 2
    return np.asarray(img.crop((0, top, W, top + H)), dtype=np.uint8)


def _text(d: ImageDraw.ImageDraw, rng: np.random.Generator, base: np.ndarray, x: int, y: int) -> list[int]:
    """2-3 lines of words at (x, y); returns the bounding box of everything drawn."""
    size = int(rng.integers(14, 23))
    font = _font(size)
    lines = [" ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), 2)) for _ in range(int(rng.integers(2, 4)))]
    boxes = [d.textbbox((x, y + k * (size + 4)), t, font=font) for k, t in enumerate(lines)]
    box = [min(b[0] for b in boxes) - 3, min(b[1] for b in boxes) - 3, max(b[2] for b in boxes) + 3,
           max(b[3] for b in boxes) + 3]
    patch = base[max(0, box[1]):box[3], max(0, box[0]):box[2]]
    fill = _contrast_colour(rng, patch)
    if rng.random() < 0.4:
        plate = _contrast_colour(rng, patch)
        d.rectangle(box, fill=plate)
        fill = _contrast_colour(rng, np.array(plate, np.uint8)[None])
    for k, t in enumerate(lines):
        d.text((x, y + k * (size + 4)), t, fill=fill, font=font)
    return box


def _line_drawing(d: ImageDraw.ImageDraw, rng: np.random.Generator, base: np.ndarray, x: int, y: int) -> list[int]:
    s = LINES_BOX
    colour, width = _contrast_colour(rng, base[y:y + s, x:x + s]), int(rng.integers(1, 4))
    style = int(rng.integers(0, 3))
    if style == 0:
        for _ in range(int(rng.integers(3, 7))):
            p = rng.integers(0, s, 4)
            d.line((x + int(p[0]), y + int(p[1]), x + int(p[2]), y + int(p[3])), fill=colour, width=width)
    elif style == 1:
        step = int(rng.integers(12, 33))
        for v in range(0, s + 1, step):
            d.line((x + v, y, x + v, y + s), fill=colour, width=width)
            d.line((x, y + v, x + s, y + v), fill=colour, width=width)
    else:
        for _ in range(int(rng.integers(3, 6))):
            x0, y0 = (int(v) for v in rng.integers(0, s * 2 // 3, 2))
            w, h = (int(v) for v in rng.integers(s // 6, s // 3 + 1, 2))
            d.rectangle((x + x0, y + y0, x + x0 + w, y + y0 + h), outline=colour, width=width)
    return [x, y, x + s, y + s]


def _overlaps(a: list[int], b: list[int], margin: int = 0) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def _texture_tiles(img: np.ndarray, boxes: list[list[int]]) -> list[list[int]]:
    tiles = []
    for y in range(0, H - TILE + 1, TILE):
        for x in range(0, W - TILE + 1, TILE):
            t = [x, y, x + TILE, y + TILE]
            if any(_overlaps(t, b, MARGIN) for b in boxes):
                continue
            if gradient_energy(img[y:y + TILE, x:x + TILE]) >= DEFAULT_TEXTURE_THRESHOLD:
                tiles.append(t)
    return tiles


def build(out: Path, train: Path, kodak: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    bases = [(p.stem, p) for p in list_images([train], heldout=True)]
    bases += [(k, kodak / f"{k}.png") for k in KODAK]
    (out / "images").mkdir(parents=True, exist_ok=True)
    regions = {}
    for name, path in bases:
        with Image.open(path) as im:
            base = _fit(im)
        img = Image.fromarray(base.copy())
        d = ImageDraw.Draw(img)
        text = _text(d, rng, base, int(rng.integers(8, W - 260)), int(rng.integers(8, H - 90)))
        for _ in range(100):
            x, y = int(rng.integers(0, W - LINES_BOX)), int(rng.integers(0, H - LINES_BOX))
            if not _overlaps([x, y, x + LINES_BOX, y + LINES_BOX], text, MARGIN):
                break
        lines = _line_drawing(d, rng, base, x, y)
        arr = np.asarray(img, dtype=np.uint8)
        clip = [[max(0, b[0]), max(0, b[1]), min(W, b[2]), min(H, b[3])] for b in (text, lines)]
        regions[name] = {"text": clip[0], "lines": clip[1], "texture": _texture_tiles(arr, clip),
                         "source": str(path)}
        img.save(out / "images" / f"{name}.png")
    (out / "regions.json").write_text(json.dumps(regions, indent=1))
    print(f"{len(regions)} images, {sum(len(r['texture']) for r in regions.values())} texture tiles -> {out}")


def _sobel(img: np.ndarray) -> np.ndarray:
    g = torch.from_numpy(img.astype(np.float32).mean(axis=2) / 255.0)[None, None]
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None, None]
    gx = torch.nn.functional.conv2d(g, kx, padding=1)
    gy = torch.nn.functional.conv2d(g, kx.transpose(2, 3), padding=1)
    return (gx.square() + gy.square()).sqrt()[0, 0].numpy()


def _region(a: np.ndarray, b: np.ndarray, box: list[int]) -> dict[str, float]:
    x0, y0, x1, y1 = box
    ea, eb = _sobel(a)[y0:y1, x0:x1], _sobel(b)[y0:y1, x0:x1]
    return {"psnr": psnr(a[y0:y1, x0:x1], b[y0:y1, x0:x1]), "edge_error": float(np.abs(ea - eb).mean() * 255)}


def _tiles_dfd(a: np.ndarray, b: np.ndarray, tiles: list[list[int]], backbone) -> float | None:
    if not tiles:
        return None

    def stack(img: np.ndarray) -> torch.Tensor:
        return torch.stack([torch.from_numpy(img[y0:y1, x0:x1].astype(np.float32) / 255).permute(2, 0, 1)
                            for x0, y0, x1, y1 in tiles])

    with torch.no_grad():
        return float(tap_distance(backbone(stack(a)), backbone(stack(b))).mean())


def _crop_grid(images: list[np.ndarray], box: list[int], scale: int = 2) -> Image.Image:
    x0, y0, x1, y1 = box
    tiles = [Image.fromarray(im[y0:y1, x0:x1]).resize(((x1 - x0) * scale, (y1 - y0) * scale), Image.NEAREST)
             for im in images]
    grid = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), tiles[0].height), "white")
    x = 0
    for t in tiles:
        grid.paste(t, (x, 0))
        x += t.width + 4
    return grid


def _mean(rows: list[dict], model: str, key: str) -> float:
    vals = [r[model][key] for r in rows if r[model][key] is not None]
    return float(np.mean(vals))


def evaluate(test_set: Path, models: list[str], bpp: float, out: Path, crops: list[str], weights_dir: Path | None,
             limit: int | None) -> None:
    regions = json.loads((test_set / "regions.json").read_text())
    names = sorted(regions)[:limit] if limit else sorted(regions)
    backbone = default_backbone()
    rows, decoded = [], {}
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        r = regions[name]
        with Image.open(test_set / "images" / f"{name}.png") as im:
            img = np.asarray(im.convert("RGB"), dtype=np.uint8)
        row: dict = {"image": name}
        for m in models:
            t0 = time.perf_counter()
            res = encode(img, model=m, bpp=bpp, weights_dir=weights_dir)
            rec = decode(res.data, weights_dir=weights_dir)
            if not np.array_equal(rec, res.reconstruction):
                raise RuntimeError(f"{m} decode of {name} differs from the encoder's reconstruction")
            row[m] = {"bpp": res.bpp, "seconds": time.perf_counter() - t0, "psnr": psnr(img, rec),
                      "dfd": deep_feature_distance(img, rec, backbone),
                      "texture_dfd": _tiles_dfd(img, rec, r["texture"], backbone),
                      **{f"text_{k}": v for k, v in _region(img, rec, r["text"]).items()},
                      **{f"lines_{k}": v for k, v in _region(img, rec, r["lines"]).items()}}
            if name in crops:
                decoded[(name, m)] = rec
        if name in crops:
            decoded[(name, "original")] = img
        rows.append(row)
        print(f"[{i + 1}/{len(names)}] {name}: " + ", ".join(
            f"{m} {row[m]['bpp']:.4f} bpp text {row[m]['text_psnr']:.2f} dB" for m in models), flush=True)
    keys = ["bpp", "psnr", "dfd", "text_psnr", "text_edge_error", "lines_psnr", "lines_edge_error", "texture_dfd",
            "seconds"]
    summary = {m: {k: _mean(rows, m, k) for k in keys} for m in models}
    (out / "conha_eval.json").write_text(json.dumps({"bpp_target": bpp, "models": models, "summary": summary,
                                                     "rows": rows}, indent=1))
    lines = [f"Target {bpp} bpp, {len(rows)} images of `{test_set}` (means; PSNR in dB; edge error = mean "
             "|Sobel magnitude difference| x255; DFD = deep-feature distance).", "",
             "| model | bpp | PSNR | DFD | text PSNR | text edge err | lines PSNR | lines edge err | texture DFD "
             "| s/img |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        s = summary[m]
        lines.append(f"| {m} | {s['bpp']:.4f} | {s['psnr']:.2f} | {s['dfd']:.4f} | {s['text_psnr']:.2f} | "
                     f"{s['text_edge_error']:.2f} | {s['lines_psnr']:.2f} | {s['lines_edge_error']:.2f} | "
                     f"{s['texture_dfd']:.4f} | {s['seconds']:.1f} |")
    if "hific" in models:
        for m in models:
            if m == "hific":
                continue
            better = sum(r[m]["text_psnr"] > r["hific"]["text_psnr"] for r in rows)
            tex = [r for r in rows if r[m]["texture_dfd"] is not None]
            tex_ok = sum(r[m]["texture_dfd"] <= r["hific"]["texture_dfd"] for r in tex)
            lines.append(f"\n{m} vs hific: text PSNR higher on {better}/{len(rows)} images, "
                         f"texture DFD no worse on {tex_ok}/{len(tex)}.")
    (out / "conha_eval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    for name in crops:
        if (name, "original") not in decoded:
            continue
        ims = [decoded[(name, "original")]] + [decoded[(name, m)] for m in models]
        r = regions[name]
        tx = r["text"]
        pad = [max(0, tx[0] - 8), max(0, tx[1] - 8), min(W, tx[2] + 8), min(H, tx[3] + 8)]
        _crop_grid(ims, pad).save(out / f"side_{name}_text.png")
        if r["texture"]:
            _crop_grid(ims, r["texture"][len(r["texture"]) // 2], scale=3).save(out / f"side_{name}_texture.png")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--train", type=Path, default=Path("../shared/data/train"))
    b.add_argument("--kodak", type=Path, default=Path("../shared/data/kodak"))
    b.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    e.add_argument("--set", dest="test_set", type=Path, required=True)
    e.add_argument("--models", default="hyperprior,hific,conha,conha-fixed")
    e.add_argument("--bpp", type=float, default=0.07)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--crops", default="kodim08,kodim21,abbey_sun_asztnlqhlrvirneh")
    e.add_argument("--weights-dir", type=Path, default=None)
    e.add_argument("--limit", type=int, default=None)
    e.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(getattr(a, "threads", 1))
    if a.cmd == "build":
        build(a.out, a.train, a.kodak, a.seed)
    else:
        evaluate(a.test_set, a.models.split(","), a.bpp, a.out, a.crops.split(","), a.weights_dir, a.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
