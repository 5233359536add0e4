"""PerCo's global code: a caption coded losslessly, plus the decoder's sampling seed.

PerCo (seed 003, sec. 3.2) compresses the caption with Lempel-Ziv (zlib).
For the short captions used here the container choice matters more than
the coder, so the smallest of three forms is written, with the choice in
the stream:

    section = b""                                   no caption, seed 0
    section = [flags] [payload]
    flags   = method | seed << 2                    method: 0 none, 1 UTF-8, 2 raw deflate, 3 zlib
                                                    seed: 0..63 (the decoder's noise seed)
"""

from __future__ import annotations

import zlib

from gencodec.container.errors import MalformedStream

MAX_CAPTION_BYTES = 1024  # UTF-8 bytes of the caption text
MAX_SEED = 63
NONE, UTF8, DEFLATE, ZLIB = range(4)
METHOD_NAMES = {NONE: "none", UTF8: "utf-8", DEFLATE: "raw deflate", ZLIB: "zlib"}


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def normalize_caption(caption: str) -> str:
    """The caption as stored: surrounding whitespace removed (ValueError if empty or too long)."""
    return check_caption(caption).decode("utf-8")


def check_caption(caption: str) -> bytes:
    """The stripped caption's UTF-8 bytes; ValueError if it is empty after stripping or too long."""
    text = caption.strip()
    if not text:
        raise ValueError("the caption is empty")
    data = text.encode("utf-8")
    if len(data) > MAX_CAPTION_BYTES:
        raise ValueError(f"the caption has {len(data)} UTF-8 bytes; at most {MAX_CAPTION_BYTES} are allowed")
    return data


def encode_global(caption: str | None, seed: int = 0) -> bytes:
    """Caption + seed -> the smallest section (empty for no caption and seed 0)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    if caption is None:
        return b"" if seed == 0 else bytes([NONE | seed << 2])
    data = check_caption(caption)
    forms = {UTF8: data, DEFLATE: _deflate_raw(data), ZLIB: zlib.compress(data, 9)}
    method = min(forms, key=lambda m: (len(forms[m]), m))
    return bytes([method | seed << 2]) + forms[method]


def decode_global(section: bytes) -> tuple[str | None, int]:
    """Section -> (caption or None, seed). Raises MalformedStream on anything but a valid payload."""
    if not section:
        return None, 0
    method, seed, payload = section[0] & 3, section[0] >> 2, section[1:]
    if method == NONE:
        if payload:
            raise MalformedStream("global section: bytes after a caption-less header")
        return None, seed
    try:
        if method == UTF8:
            data = payload
        elif method == DEFLATE:
            d = zlib.decompressobj(-15)
            data = d.decompress(payload, MAX_CAPTION_BYTES + 1)
            if not d.eof or d.unused_data:
                raise MalformedStream("global section: caption is not one complete deflate stream")
        else:
            d = zlib.decompressobj()
            data = d.decompress(payload, MAX_CAPTION_BYTES + 1)
            if not d.eof or d.unused_data:
                raise MalformedStream("global section: caption is not one complete zlib stream")
        if len(data) > MAX_CAPTION_BYTES or not data:
            raise MalformedStream("global section: caption is empty or too long")
        text = data.decode("utf-8")
        if text != text.strip():
            raise MalformedStream("global section: caption has surrounding whitespace (not written by an encoder)")
        return text, seed
    except (zlib.error, UnicodeDecodeError) as exc:
        raise MalformedStream(f"global section: bad caption payload ({exc})") from None
