"""Image input policy and atomic output.

Input (PNG, JPEG, WebP, TIFF, BMP and anything else Pillow reads):
* EXIF orientation is applied, so the coded image is the one viewers show.
* Grayscale, palette and bilevel images are converted to RGB.
* Alpha is composited onto white (gic codes RGB only), with a warning.
* 16-bit and float images are reduced to 8 bits per channel, with a warning.
* Size is checked against ``max_pixels`` before the pixels are decoded
  (a decompression bomb is an error, not an out-of-memory kill).
* Images are never resized.

Output files are written to a temporary file in the destination folder and
renamed into place, so a crash or Ctrl-C never leaves a partial file.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 1 << 24


class ImageInputError(ValueError):
    """The input is missing, unreadable, not an image, or too large."""


def load_image(path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, list[str]]:
    """Read an image as uint8 HxWx3 RGB; returns (pixels, warnings)."""
    path = Path(path)
    if not path.exists():
        raise ImageInputError(f"{path}: no such file")
    if path.is_dir():
        raise ImageInputError(f"{path}: is a directory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageInputError(f"{path}: cannot read ({exc.strerror})") from None
    return decode_image_bytes(data, str(path), max_pixels)


def decode_image_bytes(
    data: bytes, name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > max_pixels:
                raise ImageInputError(f"{name}: {w}x{h} exceeds the limit of {max_pixels} pixels (see --max-pixels)")
            im.load()
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(f"{name}: image is too large (decompression bomb check)") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{name}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{name}: corrupt or truncated image ({exc})") from None
    try:
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, SyntaxError, TypeError):
        notes.append("EXIF orientation could not be read and was ignored")
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F") or im.mode.endswith(";16"):
        arr = np.asarray(im)
        if arr.dtype in (np.uint16, np.int32, np.uint32) or im.mode.startswith("I"):
            arr = np.clip(arr.astype(np.float64), 0, 65535) / 257.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
        notes.append("high-bit-depth image reduced to 8 bits per channel")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
        notes.append("alpha channel composited onto white (gic codes RGB only)")
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8).copy(), notes


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write_atomic(path: Path | str, data: bytes, *, force: bool = False, protect: tuple[Path, ...] = ()) -> None:
    """Write bytes to path via a temp file + rename; refuse to clobber unless force."""
    path = Path(path)
    for p in protect:
        if _same_file(path, Path(p)) or path.resolve() == Path(p).resolve():
            raise FileExistsError(f"{path}: refusing to overwrite the input file")
    if path.exists() and not force:
        raise FileExistsError(f"{path}: already exists (use --force to overwrite)")
    if path.is_dir():
        raise FileExistsError(f"{path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise FileNotFoundError(f"{parent}: output folder does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
