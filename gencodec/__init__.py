"""gencodec: a generative image codec for ultra-low bitrates (command ``gic``).

The public API is loaded lazily so that ``gencodec.container`` can be used
without importing torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["encode", "decode", "EncodeResult", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("encode", "decode", "EncodeResult"):
        from gencodec import api

        return getattr(api, name)
    raise AttributeError(f"module 'gencodec' has no attribute {name!r}")
