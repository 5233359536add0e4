"""Unsigned LEB128 varints, canonical form only (no redundant trailing 0x80/0x00 groups)."""

from __future__ import annotations

from gencodec.container.errors import MalformedStream, TruncatedStream

MAX_VARINT_BYTES = 4  # values < 2**28


def encode_varint(value: int) -> bytes:
    if value < 0 or value >= 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Return (value, new position); raise typed errors on truncation or bad form."""
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise TruncatedStream("stream ends inside a varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise MalformedStream("non-canonical varint")
            return value, pos + i + 1
    raise MalformedStream("varint longer than 4 bytes")
