"""Codec ids -> builders and their default shipped weights.

Stream codes live in ``gencodec.container.registry`` (append-only); this
module only knows how to build a codec object for an id.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from gencodec.container.registry import MODEL_CODES
from gencodec.models.base import Codec
from gencodec.models.weights import (
    WeightsError,
    default_weights_dir,
    load_weights,
    manifest_default,
    read_manifest,
)

# codec id -> (module implementing it, weights id in the manifest)
CODECS: dict[str, tuple[str, str]] = {
    "hyperprior": ("gencodec.models.hyperprior", "hyperprior"),
    "glc": ("gencodec.models.glc", "glc"),
    "dlf": ("gencodec.models.dlf", "dlf"),
    "perco": ("gencodec.models.perco", "perco"),
    "hific": ("gencodec.models.hific", "hific"),
    "conha": ("gencodec.models.hific", "conha"),
    "conha-fixed": ("gencodec.models.hific", "conha-fixed"),
}
DEFAULT_MODEL = "hyperprior"  # when the weights manifest names no default


def default_model(weights_dir: Path | None = None) -> str:
    """The manifest's ``"default"`` model when it is a known codec with weights there, else ``hyperprior``."""
    named = manifest_default(weights_dir)
    if named in CODECS:
        try:
            if CODECS[named][1] in read_manifest(weights_dir):
                return named
        except WeightsError:
            pass
    return DEFAULT_MODEL


def available_models() -> list[str]:
    return [m for m in MODEL_CODES.values() if m in CODECS]


def load_codec(model: str, weights_dir: Path | None = None) -> Codec:
    """Build the codec for ``model`` from its verified shipped weights (cached per folder)."""
    return _load_codec(model, Path(weights_dir or default_weights_dir()).resolve())


@lru_cache(maxsize=8)
def _load_codec(model: str, weights_dir: Path) -> Codec:
    if model not in CODECS:
        known = ", ".join(available_models())
        raise WeightsError(f"model {model!r} is not available (available: {known})")
    module, weights_id = CODECS[model]
    manifest = read_manifest(weights_dir)
    if weights_id not in manifest:
        raise WeightsError(f"no weights for {model!r} in {weights_dir}/manifest.json")
    def dependency(dep_id: str):
        if dep_id not in manifest:
            raise WeightsError(f"{model!r} needs weights {dep_id!r}, which are not in {weights_dir}/manifest.json")
        return manifest[dep_id], load_weights(manifest[dep_id], weights_dir)

    entry = manifest[weights_id]
    tensors = load_weights(entry, weights_dir)
    return importlib.import_module(module).build(entry, tensors, dependency)
