"""Where a fine-tuning stage starts: a run directory of the stage before it, or the shipped weights.

A latent codec's joint stage (GLC stage III, DLF stage 2) starts from either
* a run directory (``runs/NAME/checkpoint``): its ``state.json`` holds the model and train configs, and
  the module ``model`` its weights; or
* a shipped ``weights/<id>.safetensors`` listed in ``weights/manifest.json``: the configs come from the
  manifest, the codec from the ``codec.`` tensors, and a fine-tuned generator (``decoder.`` tensors,
  when present) replaces the decoder's weights,
so training can continue on a machine that only has the repository.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file

from gencodec.models.glc import prefixed
from gencodec.models.weights import load_state, read_manifest
from gencodec.training.checkpoint import load_module_weights


def load_stage_start(path: str | Path, build: Callable[[dict], torch.nn.Module],
                     decoder: torch.nn.Module | None) -> tuple[torch.nn.Module, dict]:
    """(model built by ``build(model_config)`` with the start's weights, the start's train config).

    ``decoder`` None: a shipped file's fine-tuned decoder is not used (stage II trains the codec alone)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        entries = [e for e in read_manifest(path.parent).values() if e.file == path.name]
        if not entries:
            raise ValueError(f"{path} is not listed in {path.parent / 'manifest.json'}")
        tensors = load_file(str(path))
        model = build(entries[0].config["model"])
        load_state(model, prefixed(tensors, "codec."))
        dec = prefixed(tensors, "decoder.")
        if dec and decoder is not None:
            load_state(decoder, dec)
        return model, entries[0].config["train"]
    state = json.loads((path / "state.json").read_text())
    model = build(state["config"]["model"])
    load_module_weights(path, {"model": model})
    return model, state["config"]["train"]
