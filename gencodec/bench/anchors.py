"""Classic-codec anchors (JPEG, WebP, AVIF, HEIC, JPEG XL) for ``gic bench``.

Every anchor is tuned for the lowest reachable bitrates: JPEG 4:2:0 with optimized Huffman tables,
WebP method 6, AVIF (libaom) 4:2:0 at speed 4, HEIC (x265) 4:2:0 with the ``slower`` preset and
JPEG XL at effort 7 with distances up to libjxl's maximum of 25.

Each anchor exposes ``settings``: the values accepted by :meth:`Anchor.encode`, ordered from the
lowest to the highest expected bitrate (so index order is rate order). For ``jxl`` a setting is a
butteraugli distance (decreasing along the list); for all others it is a 0-100 quality.

Optional back ends (Pillow plugins, ``pillow_heif``, ``imagecodecs``) are imported lazily, so
:meth:`Anchor.available` never raises; it reports why a codec cannot be used instead.
"""

from __future__ import annotations

import importlib
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any

import numpy as np

__all__ = [
    "ANCHORS",
    "Anchor",
    "AnchorResult",
    "AnchorUnavailableError",
    "available_anchors",
    "bpp_of",
    "closest_below",
    "get_anchor",
]

Options = Mapping[str, Any]


class AnchorUnavailableError(RuntimeError):
    """Raised when encoding/decoding with an anchor whose back end is missing."""


def _import(name: str) -> ModuleType:
    """Import an optional module (indirection keeps the import lazy and patchable)."""
    return importlib.import_module(name)


def _check_image(img: np.ndarray) -> np.ndarray:
    arr = np.asarray(img)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected a uint8 HxWx3 image, got dtype={arr.dtype} shape={arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"empty image: shape={arr.shape}")
    return np.ascontiguousarray(arr)


def _to_rgb_array(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.dtype != np.uint8:
        raise ValueError(f"decoder returned dtype {arr.dtype}, expected uint8")
    return np.ascontiguousarray(arr[:, :, :3])


# --------------------------------------------------------------------------------------------
# Pillow-based codecs (JPEG, WebP, AVIF)
# --------------------------------------------------------------------------------------------


def _pil_available(feature: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        try:
            features = _import("PIL.features")
            if not features.check(feature):
                return False, f"Pillow was built without {feature} support"
        except Exception as exc:  # noqa: BLE001 - availability probes must never raise
            return False, f"Pillow {feature} support unavailable: {type(exc).__name__}: {exc}"
        return True, ""

    return probe


def _pil_encode(fmt: str) -> Callable[[np.ndarray, float, Options], bytes]:
    def encode(img: np.ndarray, setting: float, options: Options) -> bytes:
        image_mod = _import("PIL.Image")
        buf = io.BytesIO()
        image_mod.fromarray(img, mode=None).save(buf, format=fmt, quality=int(setting), **dict(options))
        return buf.getvalue()

    return encode


def _pil_decode(data: bytes, options: Options) -> np.ndarray:
    image_mod = _import("PIL.Image")
    with image_mod.open(io.BytesIO(data)) as im:
        return _to_rgb_array(np.asarray(im.convert("RGB")))


# --------------------------------------------------------------------------------------------
# HEIC through pillow-heif (x265 encoder, libde265 decoder)
# --------------------------------------------------------------------------------------------


def _heic_available() -> tuple[bool, str]:
    try:
        heif = _import("pillow_heif")
    except Exception as exc:  # noqa: BLE001
        return False, f"pillow_heif not importable: {type(exc).__name__}: {exc}"
    try:
        info = heif.libheif_info()
        encoders = info.get("encoders") or {}
        decoders = info.get("decoders") or {}
        has_enc = any(k != "mask" for k in encoders) or bool(info.get("HEIF"))
        if not has_enc:
            return False, "pillow_heif has no HEVC encoder compiled in"
        if not decoders:
            return False, "pillow_heif has no HEVC decoder compiled in"
    except Exception as exc:  # noqa: BLE001
        return False, f"pillow_heif HEVC support unavailable: {type(exc).__name__}: {exc}"
    return True, ""


def _heic_encode(img: np.ndarray, setting: float, options: Options) -> bytes:
    heif = _import("pillow_heif")
    h, w = img.shape[:2]
    buf = io.BytesIO()
    hf = heif.from_bytes(mode="RGB", size=(w, h), data=img.tobytes())
    hf.save(buf, format="HEIF", quality=int(setting), **dict(options))
    return buf.getvalue()


def _heic_decode(data: bytes, options: Options) -> np.ndarray:
    heif = _import("pillow_heif")
    hf = heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    return _to_rgb_array(np.asarray(hf))


# --------------------------------------------------------------------------------------------
# JPEG XL through imagecodecs (libjxl)
# --------------------------------------------------------------------------------------------

JXL_MAX_DISTANCE = 25.0
"""libjxl clamps larger distances to 25 (checked: distance 30 gives identical bytes)."""


def _jxl_available() -> tuple[bool, str]:
    try:
        ic = _import("imagecodecs")
    except Exception as exc:  # noqa: BLE001
        return False, f"imagecodecs not importable: {type(exc).__name__}: {exc}"
    try:
        if not (ic.JPEGXL.available and hasattr(ic, "jpegxl_encode") and hasattr(ic, "jpegxl_decode")):
            return False, "imagecodecs was built without JPEG XL (libjxl) support"
    except Exception as exc:  # noqa: BLE001
        return False, f"imagecodecs JPEG XL support unavailable: {type(exc).__name__}: {exc}"
    return True, ""


def _jxl_encode(img: np.ndarray, setting: float, options: Options) -> bytes:
    ic = _import("imagecodecs")
    return bytes(ic.jpegxl_encode(img, distance=float(setting), **dict(options)))


def _jxl_decode(data: bytes, options: Options) -> np.ndarray:
    ic = _import("imagecodecs")
    return _to_rgb_array(ic.jpegxl_decode(data, numthreads=options.get("numthreads")))


def _jxl_distances() -> tuple[float, ...]:
    """Distances 25 -> 0.5, geometric (about 8% apart), ordered from lowest to highest rate."""
    n = 50
    ds = np.geomspace(JXL_MAX_DISTANCE, 0.5, n)
    return tuple(float(round(d, 3)) for d in ds)


# --------------------------------------------------------------------------------------------
# Anchor type and registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A classic codec with an ordered list of rate settings."""

    name: str
    settings: tuple[float, ...]
    setting_kind: str  # "quality" (higher = more bits) or "distance" (lower = more bits)
    description: str
    _probe: Callable[[], tuple[bool, str]] = field(repr=False)
    _encode: Callable[[np.ndarray, float, Options], bytes] = field(repr=False)
    _decode: Callable[[bytes, Options], np.ndarray] = field(repr=False)
    options: Options = field(default_factory=dict)

    @property
    def qualities(self) -> tuple[float, ...]:
        """Alias of ``settings`` (lowest-rate setting first)."""
        return self.settings

    def available(self) -> tuple[bool, str]:
        """Return ``(True, "")`` if usable, else ``(False, reason)``; never raises."""
        try:
            return self._probe()
        except Exception as exc:  # noqa: BLE001
            return False, f"{self.name}: availability check failed: {type(exc).__name__}: {exc}"

    def _require(self) -> None:
        ok, reason = self.available()
        if not ok:
            raise AnchorUnavailableError(f"anchor {self.name!r} unavailable: {reason}")

    def encode(self, img: np.ndarray, quality: float) -> bytes:
        """Encode a uint8 HxWx3 image at one of the anchor's settings."""
        arr = _check_image(img)
        self._require()
        return self._encode(arr, quality, self.options)

    def decode(self, data: bytes) -> np.ndarray:
        """Decode a bitstream produced by :meth:`encode` to a uint8 HxWx3 array."""
        self._require()
        return self._decode(bytes(data), self.options)

    def with_options(self, **options: Any) -> Anchor:
        """Return a copy with encoder options overridden (e.g. ``speed=2`` for AVIF)."""
        merged = {**self.options, **options}
        return Anchor(
            self.name,
            self.settings,
            self.setting_kind,
            self.description,
            self._probe,
            self._encode,
            self._decode,
            MappingProxyType(merged),
        )


_Q0_100 = tuple(float(q) for q in range(101))
_Q1_100 = tuple(float(q) for q in range(1, 101))

ANCHORS: dict[str, Anchor] = {
    "jpeg": Anchor(
        "jpeg",
        _Q1_100,
        "quality",
        "Pillow/libjpeg, 4:2:0, optimize=True, quality 1-100",
        _pil_available("jpg"),
        _pil_encode("JPEG"),
        _pil_decode,
        MappingProxyType({"subsampling": 2, "optimize": True}),
    ),
    "webp": Anchor(
        "webp",
        _Q0_100,
        "quality",
        "Pillow/libwebp lossy, method=6, quality 0-100",
        _pil_available("webp"),
        _pil_encode("WEBP"),
        _pil_decode,
        MappingProxyType({"method": 6, "lossless": False}),
    ),
    "avif": Anchor(
        "avif",
        _Q0_100,
        "quality",
        "Pillow/libavif (aom), 4:2:0, speed=4, 1 thread, quality 0-100",
        _pil_available("avif"),
        _pil_encode("AVIF"),
        _pil_decode,
        MappingProxyType({"speed": 4, "subsampling": "4:2:0", "max_threads": 1}),
    ),
    "heic": Anchor(
        "heic",
        _Q0_100,
        "quality",
        "pillow-heif/libheif (x265), 4:2:0, preset=slower, quality 0-100",
        _heic_available,
        _heic_encode,
        _heic_decode,
        MappingProxyType({"chroma": 420, "enc_params": {"preset": "slower"}}),
    ),
    "jxl": Anchor(
        "jxl",
        _jxl_distances(),
        "distance",
        "imagecodecs/libjxl, effort=7, 1 thread, distance 25 -> 0.5",
        _jxl_available,
        _jxl_encode,
        _jxl_decode,
        MappingProxyType({"effort": 7, "numthreads": 1}),
    ),
}


def get_anchor(name: str) -> Anchor:
    """Look up an anchor by name (``jpeg``, ``webp``, ``avif``, ``heic``, ``jxl``)."""
    try:
        return ANCHORS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown anchor {name!r}; known: {', '.join(ANCHORS)}") from None


def available_anchors() -> dict[str, tuple[bool, str]]:
    """Availability ``(ok, reason)`` of every registered anchor."""
    return {name: anchor.available() for name, anchor in ANCHORS.items()}


# --------------------------------------------------------------------------------------------
# Closest-below-target search
# --------------------------------------------------------------------------------------------


@dataclass
class AnchorResult:
    """Outcome of :func:`closest_below` for one image."""

    anchor: str
    quality: float  # the chosen setting (a distance for jxl)
    data: bytes
    bpp: float
    decoded: np.ndarray
    encode_seconds: float  # time of the chosen setting's encode
    decode_seconds: float
    num_encodes: int  # encodes spent by the search


def bpp_of(data: bytes, height: int, width: int) -> float:
    """Bits per pixel of a bitstream for an image of ``height`` x ``width``."""
    return len(data) * 8.0 / (height * width)


def closest_below(anchor: Anchor | str, img: np.ndarray, target_bpp: float) -> AnchorResult | None:
    """Find the setting whose real bpp is the largest one ``<= target_bpp`` (binary search).

    Assumes bpp is non-decreasing along ``anchor.settings``; needs about ``1 + log2(len(settings))``
    encodes. Returns None when even the lowest-rate setting exceeds the target, i.e. the codec
    cannot reach that bitrate on this image. Raises :class:`AnchorUnavailableError` if the codec
    is missing.
    """
    if isinstance(anchor, str):
        anchor = get_anchor(anchor)
    arr = _check_image(img)
    if not target_bpp > 0:
        raise ValueError(f"target_bpp must be > 0, got {target_bpp}")
    h, w = arr.shape[:2]
    settings = anchor.settings
    cache: dict[int, tuple[bytes, float]] = {}

    def run(i: int) -> float:
        if i not in cache:
            t0 = time.perf_counter()
            data = anchor.encode(arr, settings[i])
            cache[i] = (data, time.perf_counter() - t0)
        return bpp_of(cache[i][0], h, w)

    if run(0) > target_bpp:
        return None
    lo, hi = 0, len(settings)  # invariant: bpp(lo) <= target; every index >= hi exceeds it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(mid) <= target_bpp:
            lo = mid
        else:
            hi = mid
    data, enc_s = cache[lo]
    t0 = time.perf_counter()
    decoded = anchor.decode(data)
    dec_s = time.perf_counter() - t0
    if decoded.shape != arr.shape:
        raise RuntimeError(f"{anchor.name}: decoded shape {decoded.shape} != input shape {arr.shape}")
    return AnchorResult(anchor.name, settings[lo], data, bpp_of(data, h, w), decoded, enc_s, dec_s, len(cache))
