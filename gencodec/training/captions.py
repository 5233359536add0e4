"""Honest training captions from file names (no captioning model exists offline).

ImageNet-sample files are named ``<wnid>_<class>.JPEG`` and Sun-Hays files
``<scene>_sun_<id>.jpg``; both names state what the photo shows, so the
caption is "a photo of a <class>". Other files (BSDS500) get no caption and
train the learned null embedding, like PerCo's 10% text dropout.
"""

from __future__ import annotations

import re
from pathlib import Path

_IMAGENET = re.compile(r"^n\d{8}_(?P<name>.+)$")
_SUN = re.compile(r"^(?P<name>[a-z_]+?)_sun_[a-z]+$")


def article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def caption_for(path: Path) -> str | None:
    stem = Path(path).stem
    m = _IMAGENET.match(stem) or _SUN.match(stem)
    if not m:
        return None
    name = m.group("name").replace("_", " ").strip()
    return f"a photo of {article(name)} {name}" if name else None
