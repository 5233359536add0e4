"""Input policy (orientation, modes, alpha, bit depth, bombs) and atomic writes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gencodec.image_io import ImageInputError, decode_image_bytes, load_image, write_atomic


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_applied() -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 10, 20))  # blue strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    arr, _ = decode_image_bytes(_encode(im, "JPEG", exif=exif, quality=95))
    assert arr.shape == (40, 20, 3)
    assert arr[2, 10, 2] > 200 and arr[-3, 10, 0] > 200  # blue on top after rotation, red below


@pytest.mark.parametrize("mode", ["L", "P", "1", "CMYK"])
def test_modes_become_rgb(mode: str) -> None:
    im = Image.new("RGB", (17, 9), (10, 200, 30)).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    arr, _ = decode_image_bytes(_encode(im, fmt))
    assert arr.shape == (9, 17, 3) and arr.dtype == np.uint8


def test_alpha_composited_on_white_with_warning() -> None:
    im = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0, 255))
    arr, notes = decode_image_bytes(_encode(im, "PNG"))
    assert tuple(arr[0, 0]) == (255, 0, 0) and tuple(arr[5, 5]) == (255, 255, 255)
    assert any("alpha" in n for n in notes)


def test_16_bit_reduced_with_warning() -> None:
    a = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    arr, notes = decode_image_bytes(_encode(Image.fromarray(a), "PNG"))
    assert arr.shape == (8, 8, 3)
    assert arr[7, 7, 0] == round(63000 / 257)
    assert any("8 bits" in n for n in notes)


def test_bomb_and_garbage_rejected(tmp_path) -> None:
    big = _encode(Image.new("L", (5000, 5000)), "PNG")
    with pytest.raises(ImageInputError, match="exceeds the limit"):
        decode_image_bytes(big, "big.png", max_pixels=1_000_000)
    with pytest.raises(ImageInputError, match="not an image"):
        decode_image_bytes(b"definitely not an image")
    good = _encode(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG")
    with pytest.raises(ImageInputError):
        decode_image_bytes(good[: len(good) // 2])
    with pytest.raises(ImageInputError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="directory"):
        load_image(tmp_path)


def test_write_atomic(tmp_path) -> None:
    p = tmp_path / "out.bin"
    write_atomic(p, b"one")
    with pytest.raises(FileExistsError):
        write_atomic(p, b"two")
    assert p.read_bytes() == b"one"
    write_atomic(p, b"two", force=True)
    assert p.read_bytes() == b"two"
    with pytest.raises(FileExistsError, match="input"):
        write_atomic(p, b"three", force=True, protect=(p,))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.bin"]  # no temp files left


def test_write_atomic_leaves_nothing_on_failure(tmp_path, monkeypatch) -> None:
    import os

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "x.gic", b"data")
    assert list(tmp_path.iterdir()) == []
