"""The ``.gic`` container: bytes only, no torch.

See docs/bitstream.md for the normative layout.
"""

from gencodec.container.errors import (
    BadMagic,
    BitstreamError,
    ChecksumMismatch,
    LimitExceeded,
    MalformedStream,
    ParameterMismatch,
    TruncatedStream,
    UnknownModel,
    UnsupportedVersion,
    WeightsMismatch,
)
from gencodec.container.format import FORMAT_VERSION, Header, pack, peek_header, unpack
from gencodec.container.registry import MODEL_CODES, model_code, model_id

__all__ = [
    "FORMAT_VERSION",
    "Header",
    "pack",
    "unpack",
    "peek_header",
    "MODEL_CODES",
    "model_code",
    "model_id",
    "BitstreamError",
    "BadMagic",
    "UnsupportedVersion",
    "TruncatedStream",
    "ChecksumMismatch",
    "ParameterMismatch",
    "WeightsMismatch",
    "UnknownModel",
    "LimitExceeded",
    "MalformedStream",
]
