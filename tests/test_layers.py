"""One direction of imports: container -> entropy -> nn -> models -> cli."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "gencodec"


def _imports(folder: str) -> set[str]:
    names: set[str] = set()
    for f in (PKG / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
    return names


def test_container_is_bytes_only() -> None:
    bad = {
        n
        for n in _imports("container")
        if n.split(".")[0] in {"torch", "numpy", "constriction"}
        or n.startswith("gencodec.")
        and not n.startswith("gencodec.container")
    }
    assert not bad


def test_entropy_has_no_torch() -> None:
    bad = {
        n for n in _imports("entropy") if n.split(".")[0] == "torch" or n.startswith(("gencodec.nn", "gencodec.models"))
    }
    assert not bad


def test_nn_has_no_constriction_or_higher_layers() -> None:
    bad = {
        n
        for n in _imports("nn")
        if n.split(".")[0] == "constriction"
        or n.startswith(("gencodec.models", "gencodec.cli", "gencodec.training", "gencodec.entropy"))
    }
    assert not bad


def test_models_do_not_import_training_or_cli() -> None:
    bad = {n for n in _imports("models") if n.startswith(("gencodec.cli", "gencodec.training", "gencodec.losses"))}
    assert not bad


def test_no_pickle_loading_anywhere_in_the_package() -> None:
    for f in PKG.rglob("*.py"):
        text = f.read_text()
        assert "torch.load(" not in text, f
        assert "import pickle" not in text, f


def test_decode_path_does_not_import_training_code() -> None:
    code = (
        "import sys, gencodec.api, gencodec.cli.main; "
        "print(sorted(m for m in sys.modules if m.startswith(('gencodec.training', 'gencodec.refine', "
        "'gencodec.losses'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
