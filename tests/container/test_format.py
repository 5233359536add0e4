"""Container v1: round trips, golden bytes, and typed errors on every corruption."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gencodec.container import (
    BadMagic,
    BitstreamError,
    ChecksumMismatch,
    Header,
    LimitExceeded,
    TruncatedStream,
    UnknownModel,
    UnsupportedVersion,
    pack,
    peek_header,
    unpack,
)
from gencodec.container.varint import decode_varint, encode_varint

headers = st.builds(
    Header,
    model_code=st.sampled_from([1, 2, 3, 4, 5, 6, 7]),
    weights_tag=st.integers(0, 255),
    height=st.integers(1, 4096),
    width=st.integers(1, 4096),
    rate=st.integers(0, 255),
)
sections = st.lists(st.binary(max_size=300), min_size=1, max_size=16)


@given(headers, sections)
@settings(max_examples=300, deadline=None)
def test_round_trip(h: Header, secs: list[bytes]) -> None:
    data = pack(h, secs)
    h2, secs2 = unpack(data)
    assert h2 == h
    assert secs2 == secs


def test_golden_header_bytes() -> None:
    """The documented example in docs/bitstream.md, byte for byte."""
    import zlib

    data = pack(Header(model_code=1, weights_tag=0xAB, height=512, width=768, rate=100), [b"\x01\x02", b"\x03"])
    head = bytes.fromhex("67 11 01 ab ff03 ff05 64 02")
    check = (zlib.crc32(head + b"\x01\x02\x03") & 0xFFFF).to_bytes(2, "little")
    assert data == head + check + b"\x01\x02\x03"
    assert len(head + check) == 12  # a Kodak-sized image with a short first section: 12 header bytes


def test_kodak_header_is_12_bytes() -> None:
    data = pack(Header(1, 0, 512, 768, 0), [b"x" * 100, b"y" * 300])
    assert len(data) - 400 == 12


def test_typed_errors() -> None:
    good = pack(Header(1, 7, 20, 30, 5), [b"abc", b"defg"])
    with pytest.raises(BadMagic):
        unpack(b"x" + good[1:])
    with pytest.raises(UnsupportedVersion, match="unsupported format version 2"):
        unpack(good[:1] + bytes([0x21]) + good[2:])
    with pytest.raises(TruncatedStream):
        unpack(good[:1])
    with pytest.raises(UnknownModel):
        unpack(good[:2] + bytes([99]) + good[3:])
    with pytest.raises(ChecksumMismatch):
        unpack(good[:-1] + bytes([good[-1] ^ 1]))


def test_size_limit_checked_before_allocation() -> None:
    data = pack(Header(1, 0, 60000, 60000, 0), [b""])
    with pytest.raises(LimitExceeded, match="exceeds the limit"):
        unpack(data)
    assert unpack(data, max_pixels=60000 * 60000)[0].height == 60000
    with pytest.raises(LimitExceeded):
        peek_header(data, max_pixels=100)


def test_every_truncation_and_flip_is_typed_or_clean() -> None:
    """Every prefix and every single-bit flip raises a BitstreamError or parses consistently."""
    good = pack(Header(1, 0x5C, 512, 768, 77), [bytes(range(40)), bytes(range(90))])
    for n in range(len(good)):
        with pytest.raises(BitstreamError):
            unpack(good[:n])
    for i in range(len(good)):
        for bit in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            try:
                h, secs = unpack(bytes(bad))
            except BitstreamError:
                continue
            # the 16-bit check missed it: the result must still be self-consistent
            assert sum(map(len, secs)) <= len(bad)
            assert isinstance(h, Header)


@given(st.binary(max_size=64))
@settings(max_examples=2000, deadline=None)
def test_random_bytes_never_crash(blob: bytes) -> None:
    try:
        unpack(blob)
    except BitstreamError:
        pass


@given(st.integers(0, (1 << 28) - 1))
def test_varint_round_trip(v: int) -> None:
    enc = encode_varint(v)
    assert decode_varint(enc, 0) == (v, len(enc))


def test_varint_rejects_non_canonical() -> None:
    with pytest.raises(BitstreamError):
        decode_varint(b"\x80\x00", 0)
    with pytest.raises(BitstreamError):
        decode_varint(b"\xff\xff\xff\xff\x01", 0)


def test_container_does_not_import_torch() -> None:
    import subprocess

    code = "import gencodec.container, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
