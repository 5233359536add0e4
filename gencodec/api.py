"""Python API: ``encode`` an image to .gic bytes and ``decode`` them back.

>>> import gencodec
>>> result = gencodec.encode(img, bpp=0.05)        # img: uint8 HxWx3
>>> img_hat = gencodec.decode(result.data)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gencodec.container import Header, model_code, pack, unpack
from gencodec.container.errors import WeightsMismatch
from gencodec.container.format import DEFAULT_MAX_PIXELS, MAX_SIDE
from gencodec.models.devices import resolve_device
from gencodec.models.registry import default_model, load_codec
from gencodec.rate_control import RateUnreachable, search_rate


@dataclass
class EncodeResult:
    data: bytes
    model: str
    rate: int
    width: int
    height: int
    header_bytes: int
    section_bytes: dict[str, int]
    estimated_bits: dict[str, float]
    reconstruction: np.ndarray
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def bpp(self) -> float:
        return len(self.data) * 8 / (self.width * self.height)


def _check_image(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("image must be a uint8 array of shape (H, W, 3)")
    if not (1 <= img.shape[0] <= MAX_SIDE and 1 <= img.shape[1] <= MAX_SIDE):
        raise ValueError(f"image sides must be between 1 and {MAX_SIDE} pixels")
    return img


def encode(
    img: np.ndarray,
    *,
    model: str | None = None,
    bpp: float | None = None,
    size: int | None = None,
    rate: int | None = None,
    refine: str | None = None,
    refine_steps: int | None = None,
    time_limit: float | None = None,
    roi: np.ndarray | None = None,
    roi_weights: tuple[float, float] = (1.0, 0.2),
    seed: int = 0,
    caption: str | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
    device: str = "cpu",
    weights_dir: Path | None = None,
) -> EncodeResult:
    """Encode at a target bpp, a target size in bytes, or an explicit rate point (0..255).

    ``refine="sga"`` optimizes the latent for this image before coding (encoder
    only; the decoder is unchanged); ``roi`` (float (H, W) mask in [0, 1])
    weights distortion inside vs outside the region by ``roi_weights`` and
    implies refinement. ``seed`` makes refinement reproducible; for ``perco`` it is
    the decoder's sampling seed (0..63, stored in the stream), and ``caption`` is the
    text the decoder is conditioned on (coded losslessly in the stream).
    """
    t0 = time.perf_counter()
    model = model or default_model(weights_dir)
    if roi is not None and refine is None:
        refine = "sga"
    if refine not in (None, "sga"):
        raise ValueError(f"unknown refinement {refine!r} (available: sga)")
    img = _check_image(img)
    if sum(v is not None for v in (bpp, size, rate)) > 1:
        raise ValueError("give at most one of bpp, size and rate")
    h, w = img.shape[:2]
    if roi is not None and np.shape(roi) != (h, w):
        raise ValueError(f"ROI mask must have the image size {w}x{h}, got {np.shape(roi)[::-1]}")
    codec = load_codec(model, weights_dir)
    conditioned = getattr(codec, "accepts_caption", False)
    if caption is not None and not conditioned:
        raise ValueError(f"model {model!r} takes no caption (captions are for perco)")
    codec.set_device(resolve_device(device))
    header = Header(model_code=model_code(model), weights_tag=codec.weights.tag, height=h, width=w, rate=0)
    analysis = codec.analyze(img, caption=caption, seed=seed) if conditioned else codec.analyze(img)
    coded: dict[int, object] = {}

    def stream_at(r: int, exact: bool = True) -> bytes:
        enc = codec.code(analysis, r, exact)
        if exact:
            coded[r] = enc
        return pack(Header(header.model_code, header.weights_tag, h, w, r), enc.sections)

    def search(target: float) -> int:
        """Search on fast (untrimmed, slightly longer) sizes, then settle the last steps on exact sizes."""
        r = search_rate(lambda r: len(stream_at(r, exact=False)), target).rate
        while r < 255 and len(stream_at(r + 1)) <= target:
            r += 1
        return r

    if rate is None and bpp is None and size is None:
        rate = 128
    if rate is not None:
        if not 0 <= rate <= 255:
            raise ValueError("rate point must be in 0..255")
        chosen = rate
    else:
        target = size if size is not None else bpp * h * w / 8
        if target <= 0:
            raise ValueError("target size must be positive")
        try:
            chosen = search(target)
        except RateUnreachable:
            lo, hi = len(stream_at(0)), len(stream_at(255))
            raise RateUnreachable(
                f"model {model!r} cannot reach {target * 8 / (h * w):.4f} bpp ({int(target)} bytes) on this "
                f"{w}x{h} image: its range is {lo * 8 / (h * w):.4f}..{hi * 8 / (h * w):.4f} bpp ({lo}..{hi} bytes)"
            ) from None
    notes: list[str] = []
    if refine is not None:
        analysis, chosen, note = _refine(codec, analysis, img, chosen, len(stream_at(chosen)), coded[chosen],
                                         None if rate is not None else target, refine_steps, time_limit,
                                         roi, roi_weights, seed, progress)
        coded.clear()
        notes.append(note)
        if rate is None:
            chosen = search(target)
    data = stream_at(chosen)
    enc = coded[chosen]
    recon = codec.reconstruct(analysis, enc)
    payload = sum(len(s) for s in enc.sections)
    return EncodeResult(
        data=data,
        model=model,
        rate=chosen,
        width=w,
        height=h,
        header_bytes=len(data) - payload,
        section_bytes={n: len(s) for n, s in zip(codec.section_names, enc.sections)},
        estimated_bits=dict(enc.estimated_bits),
        reconstruction=recon,
        seconds=time.perf_counter() - t0, notes=notes,
    )


def _refine(codec, analysis, img, rate, stream_bytes, enc, target_bytes, steps, time_limit, roi, roi_weights,
            seed, progress):
    """Run SGA on the codec's scalar latent; returns (refined analysis, start rate, note)."""
    import torch

    from gencodec.models.base import to_tensor
    from gencodec.refine.sga import SGAConfig, refine

    if not hasattr(codec, "refine_problem"):
        raise ValueError(f"model {codec.model_id!r} has no scalar latent to refine")
    latent_bytes = len(enc.sections[-1])
    budget = stream_bytes if target_bytes is None else target_bytes
    target_bits = 8.0 * (budget - (stream_bytes - latent_bytes))
    cfg = SGAConfig(**{k: v for k, v in (("steps", steps), ("time_limit", time_limit)) if v is not None}, seed=seed)
    mask = None if roi is None else torch.from_numpy(np.asarray(roi, dtype=np.float32))[None, None]
    problem = codec.refine_problem(analysis, rate)
    res = refine(problem, to_tensor(img), target_bits, cfg, mask, roi_weights,
                 progress=(lambda i, row: progress(i, cfg.steps, row)) if progress else None)
    note = f"sga: {res.steps} steps in {res.seconds:.1f} s" + (" (time limit)" if res.steps < cfg.steps else "")
    return codec.with_latent(analysis, res.y), rate, note


def decode(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, device: str = "cpu", weights_dir: Path | None = None,
    steps: int | None = None, guidance: float | None = None, progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Decode .gic bytes to a uint8 HxWx3 image; raises BitstreamError subclasses on bad input.

    On the CPU the result is bit-identical to the encoder's reconstruction; on a GPU
    synthesis runs in float32 and may differ by a few levels. ``steps`` and
    ``guidance`` override a diffusion decoder's defaults (perco); the result then
    differs from the encoder's reconstruction, which used the defaults.
    """
    header, sections = unpack(data, max_pixels=max_pixels)
    target = resolve_device(device)
    codec = load_codec(header.model, weights_dir)
    codec.set_device(target)
    if header.weights_tag != codec.weights.tag:
        raise WeightsMismatch(
            f"stream was made with other {header.model!r} weights (tag {header.weights_tag:02x}); "
            f"this gic has {codec.weights.id} (sha256 {codec.weights.sha256[:12]}..., tag {codec.weights.tag:02x})"
        )
    if getattr(codec, "accepts_caption", False):  # a sampling decoder (perco)
        return codec.decode(header.height, header.width, header.rate, sections, steps=steps, guidance=guidance,
                            progress=progress)
    if steps is not None or guidance is not None:
        raise ValueError(f"model {header.model!r} has no sampler: steps and guidance are for perco")
    return codec.decode(header.height, header.width, header.rate, sections)
