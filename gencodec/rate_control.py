"""Pick the rate point whose real file size meets a byte budget.

The file size (header included) is measured by actually coding and packing
the stream; it is monotone in the rate point up to coding noise, so a
binary search over 0..255 finds the largest rate point that fits, and the
neighbours are checked so noise cannot hide a closer fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class RateUnreachable(ValueError):
    """The target is outside what the model can produce for this image."""


@dataclass
class RateChoice:
    rate: int
    size: int


def search_rate(size_at: Callable[[int], int], target_bytes: float, tolerance: float = 0.05) -> RateChoice:
    """Largest rate point with size <= target; accept up to +tolerance if nothing fits below.

    Raises RateUnreachable when even the lowest rate point is more than
    tolerance above the target.
    """
    cache: dict[int, int] = {}

    def size(r: int) -> int:
        if r not in cache:
            cache[r] = size_at(r)
        return cache[r]

    if size(0) > target_bytes:
        if size(0) <= target_bytes * (1 + tolerance):
            return RateChoice(0, size(0))
        raise RateUnreachable(f"lowest rate point gives {size(0)} bytes")
    if size(255) <= target_bytes:
        return RateChoice(255, size(255))
    lo, hi = 0, 255  # size(lo) <= target < size(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if size(mid) <= target_bytes:
            lo = mid
        else:
            hi = mid
    # coding noise can make size non-monotone by a byte or two: look a little higher
    best = lo
    for r in range(hi + 1, min(255, hi + 4) + 1):
        if size(r) <= target_bytes:
            best = r
    return RateChoice(best, size(best))
