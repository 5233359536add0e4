"""Container format v1: a compact header followed by the model's sections.

Layout (all multi-byte integers are unsigned LEB128 varints unless noted):

    0x67 ('g')                              magic
    u8   version << 4 | (n_sections - 1)    format version 1..15; 1..16 sections
    var  model code                         append-only registry (registry.py)
    u8   weights tag                        first byte of the weights file's sha256
    var  height - 1, var width - 1          image size in pixels
    u8   rate point                         model-specific rate index 0..255
    var  length of sections 0 .. n-2        the last section runs to the end
    u16  check (little-endian)              low 16 bits of zlib.crc32 over every
                                            header byte before it and the payload
    ...  section payloads, concatenated

A Kodak image (768x512) coded with two sections costs 12 header bytes when
the first section is shorter than 128 bytes. See docs/bitstream.md.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from gencodec.container.errors import (
    BadMagic,
    ChecksumMismatch,
    LimitExceeded,
    MalformedStream,
    TruncatedStream,
    UnsupportedVersion,
)
from gencodec.container.registry import model_id
from gencodec.container.varint import decode_varint, encode_varint

MAGIC = 0x67
FORMAT_VERSION = 1
MAX_SECTIONS = 16
MAX_SIDE = 1 << 16
DEFAULT_MAX_PIXELS = 1 << 24  # 16.7 megapixels; configurable per call


@dataclass(frozen=True)
class Header:
    model_code: int
    weights_tag: int
    height: int
    width: int
    rate: int
    version: int = FORMAT_VERSION

    @property
    def model(self) -> str:
        return model_id(self.model_code)


def _check16(data: bytes) -> bytes:
    return (zlib.crc32(data) & 0xFFFF).to_bytes(2, "little")


def pack(header: Header, sections: list[bytes]) -> bytes:
    """Serialize a header and its sections into one stream."""
    if not 1 <= len(sections) <= MAX_SECTIONS:
        raise ValueError(f"need 1..{MAX_SECTIONS} sections, got {len(sections)}")
    if not (0 <= header.weights_tag < 256 and 0 <= header.rate < 256):
        raise ValueError("weights tag and rate must fit in one byte")
    if not (1 <= header.height <= MAX_SIDE and 1 <= header.width <= MAX_SIDE):
        raise ValueError(f"image sides must be 1..{MAX_SIDE}")
    if header.version != FORMAT_VERSION:
        raise ValueError("can only write the current format version")
    out = bytearray([MAGIC, (header.version << 4) | (len(sections) - 1)])
    out += encode_varint(header.model_code)
    out.append(header.weights_tag)
    out += encode_varint(header.height - 1) + encode_varint(header.width - 1)
    out.append(header.rate)
    for s in sections[:-1]:
        out += encode_varint(len(s))
    payload = b"".join(sections)
    out += _check16(bytes(out) + payload)
    return bytes(out) + payload


def _parse(data: bytes, max_pixels: int) -> tuple[Header, list[int], int]:
    """Parse the header; return (header, section lengths, payload offset)."""
    if len(data) < 2:
        raise TruncatedStream("stream is shorter than the 2-byte signature")
    if data[0] != MAGIC:
        raise BadMagic("not a .gic stream (bad magic byte)")
    version, n_sections = data[1] >> 4, (data[1] & 0x0F) + 1
    if version != FORMAT_VERSION:
        raise UnsupportedVersion(version, FORMAT_VERSION)
    code, pos = decode_varint(data, 2)
    model_id(code)  # raises UnknownModel
    if pos >= len(data):
        raise TruncatedStream("stream ends inside the header")
    weights_tag = data[pos]
    h, pos = decode_varint(data, pos + 1)
    w, pos = decode_varint(data, pos)
    h, w = h + 1, w + 1
    if h > MAX_SIDE or w > MAX_SIDE:
        raise LimitExceeded(f"declared image size {w}x{h} exceeds the format limit of {MAX_SIDE} per side")
    if h * w > max_pixels:
        raise LimitExceeded(f"declared image size {w}x{h} exceeds the limit of {max_pixels} pixels (see --max-pixels)")
    if pos >= len(data):
        raise TruncatedStream("stream ends inside the header")
    rate = data[pos]
    pos += 1
    lengths = []
    for _ in range(n_sections - 1):
        n, pos = decode_varint(data, pos)
        lengths.append(n)
    if pos + 2 > len(data):
        raise TruncatedStream("stream ends inside the header")
    payload_start = pos + 2
    rest = len(data) - payload_start
    if sum(lengths) > rest:
        raise TruncatedStream(f"sections declare {sum(lengths)} bytes but only {rest} follow the header")
    lengths.append(rest - sum(lengths))
    header = Header(model_code=code, weights_tag=weights_tag, height=h, width=w, rate=rate, version=version)
    return header, lengths, payload_start


def peek_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Header, int]:
    """Parse the header without checking the checksum; return (header, header bytes)."""
    header, _, start = _parse(data, max_pixels)
    return header, start


def unpack(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Header, list[bytes]]:
    """Parse and verify a stream; return the header and the section payloads."""
    data = bytes(data)
    header, lengths, start = _parse(data, max_pixels)
    if data[start - 2 : start] != _check16(data[: start - 2] + data[start:]):
        raise ChecksumMismatch("checksum mismatch: the file is corrupt or truncated")
    sections, pos = [], start
    for n in lengths:
        sections.append(data[pos : pos + n])
        pos += n
    if pos != len(data):
        raise MalformedStream("trailing bytes after the last section")
    return header, sections
