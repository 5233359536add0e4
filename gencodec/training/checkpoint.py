"""Exact-resume checkpoints without pickle.

A checkpoint is a directory with ``model.safetensors`` (all modules being
trained, prefixed by name), ``optim.safetensors`` (optimizer tensors) and
``state.json`` (step, optimizer scalars, RNG states, config). It is written
to a temporary directory and renamed into place, so a kill never leaves a
half-written checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def _optim_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        scalars["state"][str(pid)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().contiguous().clone()
            else:
                scalars["state"][str(pid)][k] = v
    return tensors, scalars


def _optim_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for pid, st in scalars["state"].items():
        state[int(pid)] = dict(st)
    for key, v in tensors.items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})


def save_checkpoint(
    path: Path,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict[str, Any],
) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    weights = {
        f"{name}.{k}": v.detach().contiguous().clone() for name, m in modules.items() for k, v in m.state_dict().items()
    }
    save_file(weights, str(tmp / "model.safetensors"))
    opt_scalars = {}
    for name, opt in optimizers.items():
        tensors, scalars = _optim_to_flat(opt)
        if tensors:
            save_file(tensors, str(tmp / f"optim_{name}.safetensors"))
        opt_scalars[name] = scalars
    full = dict(state)
    full["torch_rng"] = torch.get_rng_state().tolist()
    full["optimizers"] = opt_scalars
    (tmp / "state.json").write_text(json.dumps(full))
    old = path.with_name(path.name + ".old")
    if path.exists():
        if old.exists():
            shutil.rmtree(old)
        path.rename(old)
    tmp.rename(path)
    if old.exists():
        shutil.rmtree(old)


def load_module_weights(path: Path, modules: dict[str, torch.nn.Module], strict: bool = True) -> None:
    weights = load_file(str(Path(path) / "model.safetensors"))
    for name, m in modules.items():
        prefix = name + "."
        sub = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        missing, unexpected = m.load_state_dict(sub, strict=False)
        missing = [k for k in missing if not k.endswith("usage")]  # statistics added after some checkpoints
        if strict and (missing or unexpected):
            raise RuntimeError(f"checkpoint does not match module {name!r}: missing {missing}, unexpected {unexpected}")


def load_checkpoint(
    path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]
) -> dict[str, Any]:
    path = Path(path)
    load_module_weights(path, modules)
    state = json.loads((path / "state.json").read_text())
    for name, opt in optimizers.items():
        f = path / f"optim_{name}.safetensors"
        tensors = load_file(str(f)) if f.exists() else {}
        _optim_from_flat(opt, tensors, state["optimizers"][name])
    torch.set_rng_state(torch.tensor(state.pop("torch_rng"), dtype=torch.uint8))
    return state
