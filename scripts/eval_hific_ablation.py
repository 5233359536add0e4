"""HiFiC loss ablations (seed 000, Table I) on real files: decoders fine-tuned with the full semantic
ensemble loss vs without the style term, the perceptual term or the adversarial term.

All variants share stage 1 (encoder, hyperprior, context model are frozen in ``hific-gan``), so every
variant writes the same stream at a given rate point: the script checks that on the first image, then
decodes one stream per image and rate with every variant's decoder. Each variant is NAME=DIR (a weights
folder with a ``hific`` entry) or NAME=DIR:MODEL
(another HiFiC-family id there, e.g. ``conha``), so ``conha`` and ``conha-fixed`` compare the same way.
Patch Frechet distance: 64-px patches, EfficientNet-Lite0 (``gencodec.metrics.frechet``).

Usage: python scripts/eval_hific_ablation.py full=DIR nostyle=DIR noper=DIR noadv=DIR conha=weights:conha \
       --images KODAK_DIR
       [--rates 60,130,200] [--limit N] [--out results.json] [--md table.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gencodec.container.format import Header, pack
from gencodec.container.registry import model_code
from gencodec.metrics.deep_features import deep_feature_distance
from gencodec.metrics.frechet import patch_frechet_distance
from gencodec.metrics.ms_ssim import ms_ssim
from gencodec.metrics.psnr import psnr
from gencodec.models.registry import load_codec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("variants", nargs="+", help="NAME=WEIGHTS_DIR[:MODEL]")
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--rates", default="60,130,200")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--md", type=Path, default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    variants = dict(v.split("=", 1) for v in a.variants)
    specs = {k: (d.split(":", 1) if ":" in d else (d, "hific")) for k, d in variants.items()}
    codecs = {k: load_codec(m, Path(d)) for k, (d, m) in specs.items()}
    rates = [int(r) for r in a.rates.split(",")]
    files = sorted(a.images.glob("*.png"))[: a.limit]
    rows: list[dict] = []
    recs: dict[tuple[str, int], list[np.ndarray]] = {}
    refs: list[np.ndarray] = []
    first = next(iter(codecs.values()))
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        refs.append(img)
        h, w = img.shape[:2]
        check = f == files[0]  # every variant analyzes and codes the first image; the rest reuse one stream
        an0 = first.analyze(img)
        an = {k: (c.analyze(img) if check else an0) for k, c in codecs.items()}
        for r in rates:
            enc0 = first.code(an0, r)
            encs = {k: (c.code(an[k], r) if check else enc0) for k, c in codecs.items()}
            if len({b"".join(e.sections) for e in encs.values()}) != 1:
                raise SystemExit(f"{f.stem}: the variants write different streams; they do not share stage 1")
            bpp = 8 * len(pack(Header(model_code(first.model_id), first.weights.tag, h, w, r),
                               encs[next(iter(encs))].sections)) / (h * w)
            for name, codec in codecs.items():
                rec = codec.reconstruct(an[name], encs[name])  # = gic decode of that stream (bit-exact, tested)
                recs.setdefault((name, r), []).append(rec)
                rows.append({"variant": name, "image": f.stem, "rate": r, "bpp": bpp, "psnr": psnr(img, rec),
                             "ms_ssim": ms_ssim(img, rec), "dfd": deep_feature_distance(img, rec)})
        print(f.stem, " ".join(f"{x['variant']}@{x['rate']} {x['dfd']:.3f}" for x in rows[-len(codecs) * len(rates):]),
              flush=True)
    table = []
    for name in codecs:
        for r in rates:
            sel = [x for x in rows if x["variant"] == name and x["rate"] == r]
            fd = patch_frechet_distance(refs, recs[(name, r)])
            table.append({"variant": name, "rate": r, **{k: float(np.mean([x[k] for x in sel]))
                                                          for k in ("bpp", "psnr", "ms_ssim", "dfd")},
                          "patch_fd": fd["value"], "n_patches": fd["n_patches"]})
    lines = ["| variant | rate | bpp | PSNR | MS-SSIM | DFD | patch FD |", "|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['variant']} | {t['rate']} | {t['bpp']:.4f} | {t['psnr']:.2f} | {t['ms_ssim']:.4f} | "
                     f"{t['dfd']:.4f} | {t['patch_fd']:.2f} |")
    print("\n".join(lines))
    if a.out:
        a.out.write_text(json.dumps({"variants": variants, "rates": rates, "images": len(files), "table": table,
                                     "rows": rows}, indent=1))
    if a.md:
        a.md.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
