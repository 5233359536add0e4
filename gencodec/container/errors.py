"""Typed errors for untrusted streams; every parse failure is a BitstreamError."""

from __future__ import annotations


class BitstreamError(ValueError):
    """Base class: the bytes are not a stream this decoder can read."""


class BadMagic(BitstreamError):
    pass


class UnsupportedVersion(BitstreamError):
    def __init__(self, version: int, supported: int) -> None:
        super().__init__(
            f"unsupported format version {version} (this gic reads version {supported}; "
            f"version {version} needs a gic that reads format version {version})"
        )
        self.version = version


class TruncatedStream(BitstreamError):
    pass


class MalformedStream(BitstreamError):
    pass


class ChecksumMismatch(BitstreamError):
    pass


class ParameterMismatch(BitstreamError):
    """The decoder's entropy parameters differ from the encoder's (hash mismatch)."""


class WeightsMismatch(BitstreamError):
    pass


class UnknownModel(BitstreamError):
    pass


class LimitExceeded(BitstreamError):
    """A declared size exceeds the configured limits (checked before allocating)."""
