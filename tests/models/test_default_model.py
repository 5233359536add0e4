"""The default model is named by the weights manifest and must have weights there; else hyperprior."""

from __future__ import annotations

import json
import shutil

import gencodec
from gencodec.models.registry import default_model


def test_manifest_names_the_default(tmp_path, tiny_weights, crop_image) -> None:
    wdir = tmp_path / "w"
    shutil.copytree(tiny_weights, wdir)
    manifest = json.loads((wdir / "manifest.json").read_text())
    assert "default" not in manifest and default_model(wdir) == "hyperprior"
    for named in ("glc", "no-such-model", 7):  # glc has no weights here; the others are not codecs
        (wdir / "manifest.json").write_text(json.dumps({**manifest, "default": named}))
        assert default_model(wdir) == "hyperprior"
    (wdir / "manifest.json").write_text(json.dumps({**manifest, "default": "hyperprior"}))
    assert default_model(wdir) == "hyperprior"
    assert gencodec.encode(crop_image, rate=50, weights_dir=wdir).model == "hyperprior"


def test_shipped_manifest_default_has_weights() -> None:
    from gencodec.models.registry import CODECS
    from gencodec.models.weights import read_manifest

    assert CODECS[default_model()][1] in read_manifest()


def test_container_knows_every_codecs_section_names() -> None:
    """``gic info`` names sections from the container registry (no weights loaded): keep it in step."""
    import importlib

    from gencodec.container.registry import MODEL_SECTIONS
    from gencodec.models.registry import CODECS

    for model, (module, _) in CODECS.items():
        classes = [c for c in vars(importlib.import_module(module)).values()
                   if isinstance(c, type) and model in getattr(c, "model_ids", (getattr(c, "model_id", None),))]
        assert classes and MODEL_SECTIONS[model] == classes[0].section_names, model
