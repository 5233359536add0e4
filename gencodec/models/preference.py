"""The shipped ConHa preference model M_P (manifest id ``preference``; seed 004, sec. 3.1): loading only.
The network is :class:`gencodec.nn.preference.PreferenceModel`; it is trained by the ``preference`` stage."""

from __future__ import annotations

from pathlib import Path

from gencodec.metrics.backbone import EfficientNetLite0Features
from gencodec.models.weights import WeightsError, load_state, load_weights, read_manifest
from gencodec.nn.preference import WEIGHTS_ID, PreferenceConfig, PreferenceModel


def load_preference(
    weights_dir: str | Path | None = None, backbone: EfficientNetLite0Features | None = None
) -> PreferenceModel:
    """The exported M_P (manifest id ``preference``), sha256-verified, in eval mode."""
    wdir = Path(weights_dir) if weights_dir is not None else None
    manifest = read_manifest(wdir)
    if WEIGHTS_ID not in manifest:
        raise WeightsError(f"no {WEIGHTS_ID!r} weights in the manifest (export them with `gic export preference`)")
    entry = manifest[WEIGHTS_ID]
    model = PreferenceModel(PreferenceConfig.from_dict(entry.config["model"]), backbone=backbone)
    load_state(model, {k: v.float() for k, v in load_weights(entry, wdir).items()})
    return model.eval()
