"""Preference labels for ConHa's M_P (seed 004, sec. 3.1, appendix A.1 and C): the pairs file, and a
synthetic stand-in for the human labels.

Pairs file (the paper's 2AFC data, one comparison per row): a CSV with the columns

    image    path of the original image crop, relative to the CSV's folder or absolute
    model_a  name of the first compressed version's model (e.g. ``hyperprior``)
    model_b  name of the second one's (e.g. ``hific``)
    choice   the preferred one: a model name equal to model_a or model_b, or ``a``/``b``, ``model_a``/``model_b``,
             ``1``/``2`` (the study's keys)

Extra columns are ignored. Each row becomes the binary label of M_P: 1 = the generative (hallucinating,
GAN-trained) model was preferred, 0 = the fidelity (MSE-trained) model was preferred. A model name counts as
generative when it, or one of its parts split at non-alphanumerics (``hific-low`` -> ``hific``, ``low``), is
in the ``generative`` set (default ``hific``, ``gan``, ``conha``; anything else, e.g. ``hyperprior``, ``mse``,
``bpg``, is a fidelity model). Each row must compare one generative model with one fidelity model.

Synthetic labels (an honest proxy, *not* human preferences): crops of the training photos
(``../shared/data/train``, never Kodak); label 0 ("avoid hallucination") crops get rendered structure pasted
on - text of random words in random sizes and colours, line art (straight lines, grids, rectangles), small
drawn faces (ellipse, eyes, mouth) - the content the paper finds hallucinations hurt (sec. 1, Fig. 2); label 1
("hallucinate") crops are left as natural texture. By default both classes are drawn from crops above a
gradient-energy threshold, so the pasted structure is the only systematic difference between the classes.
An M_P trained on these learns to spot rendered structure; the photos themselves may contain real text or
faces (label noise). The set is written in the pairs format above (model_a ``hyperprior``, model_b ``hific``,
choice = the preferred one), so it trains through the same path as real labels:

    python -m gencodec.training.preference_pairs --out DIR --n 2000 --seed 0
    python -m gencodec.training.preference_pairs --check DIR/pairs.csv --generative hific,conha
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gencodec.training.data import assert_not_kodak, list_images

REQUIRED_COLUMNS = ("image", "model_a", "model_b", "choice")
DEFAULT_GENERATIVE: frozenset[str] = frozenset({"hific", "gan", "conha"})
HALLUCINATE, FIDELITY = 1, 0
FIDELITY_MODEL, GENERATIVE_MODEL = "hyperprior", "hific"  # the two models of appendix A.1
STRUCTURE_KINDS = ("text", "lines", "faces")
DEFAULT_TEXTURE_THRESHOLD = 0.07  # mean |gradient| of a [0, 1] grey crop; about the median on ../shared/data/train
_A, _B = ("a", "model_a", "1"), ("b", "model_b", "2")


@dataclass(frozen=True)
class PreferencePair:
    """One comparison: the original crop, the two models, the preferred model's name and the M_P label."""

    image: Path
    model_a: str
    model_b: str
    choice: str
    label: int


def parse_generative(text: str | Iterable[str]) -> frozenset[str]:
    """``"hific,conha"`` (or an iterable of names) -> a lower-case name set; empty names are dropped."""
    items = text.split(",") if isinstance(text, str) else text
    names = frozenset(s.strip().lower() for s in items if s.strip())
    if not names:
        raise ValueError("the set of generative model names is empty")
    return names


def is_generative(name: str, generative: Iterable[str] = DEFAULT_GENERATIVE) -> bool:
    """True if ``name`` or one of its alphanumeric parts is a generative model name."""
    gen = parse_generative(generative)
    low = name.strip().lower()
    return low in gen or any(part in gen for part in re.split(r"[^0-9a-z]+", low) if part)


def _preferred(choice: str, model_a: str, model_b: str) -> str | None:
    c = choice.strip().lower()
    if c in (model_a.lower(), *_A):
        return model_a
    if c in (model_b.lower(), *_B):
        return model_b
    return None


def read_pairs(
    path: str | Path, generative: Iterable[str] = DEFAULT_GENERATIVE, check_files: bool = True
) -> list[PreferencePair]:
    """Parse a pairs CSV; any problem is a one-line :class:`ValueError` naming the file and line."""
    path = Path(path)
    gen = parse_generative(generative)
    if not path.is_file():
        raise ValueError(f"{path}: pairs file not found")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        for col in REQUIRED_COLUMNS:
            if col not in header:
                raise ValueError(f"{path}: missing column {col!r} (need {', '.join(REQUIRED_COLUMNS)})")
        reader.fieldnames = header
        pairs = [_pair(path, reader.line_num, row, gen, check_files) for row in reader]
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    return pairs


def _pair(path: Path, line: int, row: dict[str, str | None], gen: frozenset[str], check: bool) -> PreferencePair:
    where = f"{path}: line {line}"
    image, a, b, choice = ((row.get(c) or "").strip() for c in REQUIRED_COLUMNS)
    if not image or not a or not b:
        raise ValueError(f"{where}: empty image, model_a or model_b")
    if a.lower() == b.lower():
        raise ValueError(f"{where}: model_a and model_b are both {a!r}")
    preferred = _preferred(choice, a, b)
    if preferred is None:
        raise ValueError(f"{where}: unknown choice {choice!r} (expected {a!r}, {b!r}, a or b)")
    ga, gb = is_generative(a, gen), is_generative(b, gen)
    if ga == gb:
        kind = "generative" if ga else "fidelity"
        raise ValueError(f"{where}: {a!r} and {b!r} are both {kind} models (generative: {','.join(sorted(gen))})")
    img = Path(image) if Path(image).is_absolute() else path.parent / image
    if check and not img.is_file():
        raise ValueError(f"{where}: image file not found: {img}")
    return PreferencePair(img, a, b, preferred, HALLUCINATE if is_generative(preferred, gen) else FIDELITY)


# ---------------------------------------------------------------------------------------------- synthetic labels

WORDS = (
    "STOP", "EXIT", "OPEN", "CAFE", "HOTEL", "BANK", "TAXI", "POLICE", "SALE", "PARKING", "MENU", "BUS", "POST",
    "street", "station", "museum", "price", "today", "north", "river", "garden", "market", "school", "office",
    "2024", "17:45", "No. 9", "$4.99", "A-12", "km 37", "www", "info@", "Tel.", "ZURICH", "Main St", "Platform 3",
)
SKIN = ((241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172), (92, 58, 35))


@dataclass
class SyntheticSample:
    """A labelled crop (``image``), the natural crop it was made from (``source``) and how it was made."""

    image: np.ndarray  # uint8 (crop, crop, 3)
    source: np.ndarray
    label: int
    kind: str  # "texture", or the structure kinds drawn, joined with "+"
    source_name: str


def gradient_energy(crop: np.ndarray) -> float:
    """Mean absolute horizontal + vertical difference of the grey image in [0, 1]."""
    g = crop.astype(np.float32).mean(axis=2) / 255.0
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _contrast_colour(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A random colour whose luma differs from the mean of ``background`` by at least 0.35."""
    mean = float(background.reshape(-1, 3).mean(axis=0) @ np.array([0.299, 0.587, 0.114])) / 255.0
    c = rng.integers(0, 256, 3)
    luma = float(c @ np.array([0.299, 0.587, 0.114])) / 255.0
    if abs(luma - mean) < 0.35:
        c = rng.integers(0, 60, 3) if mean > 0.5 else rng.integers(200, 256, 3)
    return int(c[0]), int(c[1]), int(c[2])


def _draw_text(d: ImageDraw.ImageDraw, rng: np.random.Generator, base: np.ndarray) -> None:
    s = base.shape[0]
    for _ in range(int(rng.integers(1, 5))):
        size = int(rng.integers(max(6, s // 16), max(8, s // 4) + 1))
        words = " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), int(rng.integers(1, 4))))
        x, y = int(rng.integers(-s // 8, s * 3 // 4)), int(rng.integers(0, max(1, s - size)))
        if rng.random() < 0.3:  # a sign: text on a plate
            plate = _contrast_colour(rng, base)
            d.rectangle((x - 3, y - 2, x + len(words) * size * 0.6 + 3, y + size + 3), fill=plate)
            d.text((x, y), words, fill=_contrast_colour(rng, np.array(plate, np.uint8)[None]), font=_font(size))
        else:
            d.text((x, y), words, fill=_contrast_colour(rng, base), font=_font(size))


def _draw_lines(d: ImageDraw.ImageDraw, rng: np.random.Generator, base: np.ndarray) -> None:
    s = base.shape[0]
    colour, width = _contrast_colour(rng, base), int(rng.integers(1, 4))
    style = int(rng.integers(0, 3))
    if style == 0:  # straight lines at random angles
        for _ in range(int(rng.integers(2, 7))):
            p = rng.integers(0, s, 4)
            d.line((int(p[0]), int(p[1]), int(p[2]), int(p[3])), fill=colour, width=width)
    elif style == 1:  # a grid (windows, tiles, fences)
        step = int(rng.integers(max(4, s // 16), max(6, s // 4) + 1))
        off = int(rng.integers(0, step))
        for v in range(off, s, step):
            d.line((v, 0, v, s), fill=colour, width=width)
            d.line((0, v, s, v), fill=colour, width=width)
    else:  # rectangles (frames, facades)
        for _ in range(int(rng.integers(2, 6))):
            x0, y0 = (int(v) for v in rng.integers(0, s * 3 // 4, 2))
            w, h = (int(v) for v in rng.integers(s // 10, s // 2, 2))
            d.rectangle((x0, y0, x0 + w, y0 + h), outline=colour, width=width)


def _draw_faces(d: ImageDraw.ImageDraw, rng: np.random.Generator, base: np.ndarray) -> None:
    s = base.shape[0]
    for _ in range(int(rng.integers(1, 5))):
        w = int(rng.integers(max(8, s // 10), max(10, s // 3) + 1))
        h = int(w * rng.uniform(1.15, 1.4))
        x0, y0 = int(rng.integers(0, max(1, s - w))), int(rng.integers(0, max(1, s - h)))
        skin = SKIN[int(rng.integers(0, len(SKIN)))]
        dark = (int(rng.integers(0, 60)),) * 3
        d.ellipse((x0, y0, x0 + w, y0 + h), fill=skin, outline=dark)
        if rng.random() < 0.6:  # hair
            hair = tuple(int(v) for v in rng.integers(0, 120, 3))
            d.chord((x0, y0 - h // 10, x0 + w, y0 + h // 2), 180, 360, fill=hair)
        r = max(1, w // 10)
        for ex in (x0 + w * 0.32, x0 + w * 0.68):
            ey = y0 + h * 0.45
            d.ellipse((ex - r, ey - r, ex + r, ey + r), fill=dark)
        mx0, mx1, my = x0 + w * 0.3, x0 + w * 0.7, y0 + h * 0.72
        if rng.random() < 0.5:
            d.arc((mx0, my - h * 0.08, mx1, my + h * 0.08), 0, 180, fill=dark, width=max(1, w // 16))
        else:
            d.line((mx0, my, mx1, my), fill=dark, width=max(1, w // 16))


_DRAW = {"text": _draw_text, "lines": _draw_lines, "faces": _draw_faces}


def draw_structure(base: np.ndarray, rng: np.random.Generator, kinds: tuple[str, ...] | None = None) -> np.ndarray:
    """``base`` (uint8 HxWx3) with the given structure kinds (default: 1 random kind, sometimes 2) drawn on."""
    kinds = _structure_kinds(rng) if kinds is None else kinds
    im = Image.fromarray(base.copy())
    d = ImageDraw.Draw(im)
    for k in kinds:
        _DRAW[k](d, rng, base)
    return np.asarray(im, dtype=np.uint8)


def _structure_kinds(rng: np.random.Generator) -> tuple[str, ...]:
    order = rng.permutation(len(STRUCTURE_KINDS))
    return tuple(STRUCTURE_KINDS[int(i)] for i in order[: 1 + int(rng.random() < 0.3)])


def _load(path: Path, need: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if min(im.size) < need:  # like CropSampler: scale small images up to the crop
            s = need / min(im.size)
            im = im.resize((max(need, round(im.width * s)), max(need, round(im.height * s))), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8)


def _random_crop(rng: np.random.Generator, img: np.ndarray, crop: int) -> np.ndarray:
    h, w = img.shape[:2]
    y0, x0 = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
    return img[y0 : y0 + crop, x0 : x0 + crop].copy()


def synthetic_samples(
    files: list[Path],
    n: int,
    seed: int,
    crop: int = 128,
    texture_threshold: float = DEFAULT_TEXTURE_THRESHOLD,
    texture_tries: int = 8,
    texture_both: bool = True,
) -> Iterator[SyntheticSample]:
    """``n`` labelled crops, exactly ``n // 2`` of label 0, in a seeded random order; deterministic given
    (files, n, seed, settings). Each crop is the first of up to ``texture_tries`` random crops (each from a random
    image) whose :func:`gradient_energy` reaches ``texture_threshold``, else the most textured one; this applies to
    label-1 crops, and to label-0 bases too when ``texture_both``."""
    files = [Path(f) for f in files]
    assert_not_kodak(files)
    if not files:
        raise ValueError("no training images for synthetic preference labels")
    if n < 1 or crop < 16:
        raise ValueError(f"need n >= 1 and crop >= 16, got n={n}, crop={crop}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.array([FIDELITY] * (n // 2) + [HALLUCINATE] * (n - n // 2)))
    for label in labels:
        select = label == HALLUCINATE or texture_both
        best: tuple[float, np.ndarray, str] | None = None
        for _ in range(max(1, texture_tries) if select and texture_threshold > 0 else 1):
            f = files[int(rng.integers(0, len(files)))]
            c = _random_crop(rng, _load(f, crop), crop)
            e = gradient_energy(c)
            if best is None or e > best[0]:
                best = (e, c, f.name)
            if e >= texture_threshold:
                break
        assert best is not None
        _, source, name = best
        if label == HALLUCINATE:
            yield SyntheticSample(source, source, HALLUCINATE, "texture", name)
        else:
            kinds = _structure_kinds(rng)
            yield SyntheticSample(draw_structure(source, rng, kinds), source, FIDELITY, "+".join(kinds), name)


def write_synthetic_pairs(
    out: str | Path,
    data: Iterable[str | Path] = ("../shared/data/train",),
    n: int = 2000,
    seed: int = 0,
    crop: int = 128,
    texture_threshold: float = DEFAULT_TEXTURE_THRESHOLD,
    texture_both: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write ``out/crops/NNNNNN.png`` and ``out/pairs.csv`` (pairs format + label, kind, source); return the CSV."""
    out = Path(out)
    csv_path = out / "pairs.csv"
    if csv_path.exists() and not overwrite:
        raise FileExistsError(f"{csv_path} exists (use --force to overwrite)")
    files = list_images([Path(p) for p in data])
    (out / "crops").mkdir(parents=True, exist_ok=True)
    rows = []
    samples = synthetic_samples(files, n, seed, crop, texture_threshold, texture_both=texture_both)
    for i, s in enumerate(samples):
        rel = f"crops/{i:06d}.png"
        Image.fromarray(s.image).save(out / rel)
        choice = GENERATIVE_MODEL if s.label == HALLUCINATE else FIDELITY_MODEL
        rows.append({"image": rel, "model_a": FIDELITY_MODEL, "model_b": GENERATIVE_MODEL, "choice": choice,
                     "label": s.label, "kind": s.kind, "source": s.source_name})
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, csv_path)
    return csv_path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gencodec.training.preference_pairs", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, help="folder for pairs.csv and crops/ (synthetic labels)")
    p.add_argument("--n", type=int, default=2000, help="number of crops (half of them label 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", action="append", help="training image folder (repeatable; default ../shared/data/train)")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--texture-threshold", type=float, default=DEFAULT_TEXTURE_THRESHOLD, help="0 = any crop")
    p.add_argument("--force", action="store_true", help="overwrite an existing pairs.csv")
    p.add_argument("--check", type=Path, help="validate a pairs CSV and print its label counts instead")
    p.add_argument("--generative", default=",".join(sorted(DEFAULT_GENERATIVE)),
                   help="comma-separated generative model names (for --check)")
    a = p.parse_args(argv)
    try:
        if a.check is not None:
            pairs = read_pairs(a.check, parse_generative(a.generative))
            ones = sum(q.label for q in pairs)
            print(f"{a.check}: {len(pairs)} pairs, {ones} prefer the generative model, {len(pairs) - ones} the other")
            return 0
        if a.out is None:
            p.error("give --out DIR (write synthetic labels) or --check CSV")
        path = write_synthetic_pairs(a.out, a.data or ["../shared/data/train"], a.n, a.seed, a.crop,
                                     a.texture_threshold, overwrite=a.force)
        print(f"wrote {a.n} synthetic pairs to {path}")
        return 0
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
