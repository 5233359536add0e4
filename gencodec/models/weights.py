"""Shipped weights: a JSON manifest, sha256 verification, safetensors only.

``weights/manifest.json`` maps a weights id to its file, sha256, config and
licence. A file is hashed and compared with the manifest before it is
opened; tensors are read with safetensors (never pickle).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"


def default_weights_dir() -> Path:
    """The shipped weights folder, or $GIC_WEIGHTS_DIR when set."""
    env = os.environ.get("GIC_WEIGHTS_DIR")
    return Path(env) if env else WEIGHTS_DIR


class WeightsError(RuntimeError):
    """Weights missing, unreadable or not matching the manifest."""


@dataclass(frozen=True)
class WeightsEntry:
    id: str
    file: str
    sha256: str
    config: dict[str, Any]
    licence: str
    description: str = ""

    @property
    def tag(self) -> int:
        """The one-byte weights tag written into streams."""
        return int(self.sha256[:2], 16)


TRAINING_ONLY = ("usage", "ema_count", "ema_sum")  # statistics that only training updates


def load_state(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Strict load that tolerates only missing training statistics (codebook usage counters)."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith(TRAINING_ONLY)]
    if missing or unexpected:
        raise WeightsError(f"weights do not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(weights_dir: Path | None = None) -> dict[str, WeightsEntry]:
    path = Path(weights_dir or default_weights_dir()) / "manifest.json"
    if not path.exists():
        raise WeightsError(f"no weights manifest at {path}")
    try:
        raw = json.loads(path.read_text())
        return {e["id"]: WeightsEntry(**e) for e in raw["weights"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"weights manifest {path} is malformed: {exc}") from None


def manifest_default(weights_dir: Path | None = None) -> str | None:
    """The model the weights folder names as its default (``"default"`` in the manifest), if any."""
    path = Path(weights_dir or default_weights_dir()) / "manifest.json"
    try:
        value = json.loads(path.read_text()).get("default")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def load_weights(entry: WeightsEntry, weights_dir: Path | None = None) -> dict[str, torch.Tensor]:
    path = Path(weights_dir or default_weights_dir()) / entry.file
    if not path.exists():
        raise WeightsError(f"weights file {path} for {entry.id!r} is missing")
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise WeightsError(
            f"weights file {path} does not match the manifest "
            f"(sha256 {digest[:12]}..., expected {entry.sha256[:12]}...)"
        )
    return load_file(str(path))
