"""Append-only registry of model codes written into the stream.

A code, once published, always means the same codec id. Never renumber,
never reuse; add new codecs at the end.
"""

from __future__ import annotations

from gencodec.container.errors import UnknownModel

MODEL_CODES: dict[int, str] = {
    1: "hyperprior",
    2: "glc",
    3: "hific",
    4: "conha",
    5: "conha-fixed",
    6: "dlf",
    7: "perco",
}

# Section names per model, in stream order (for reports; payloads are model-defined).
MODEL_SECTIONS: dict[str, tuple[str, ...]] = {
    "hyperprior": ("hyper", "latent"),
    "glc": ("hyper", "latent"),
    "hific": ("hyper", "latent"),
    "conha": ("hyper", "latent"),
    "conha-fixed": ("hyper", "latent"),
    "dlf": ("semantic", "hyper", "detail"),
    "perco": ("local", "global"),
}


def section_names(model: str, count: int) -> list[str]:
    names = list(MODEL_SECTIONS.get(model, ()))
    if len(names) != count:
        return [f"section{i}" for i in range(count)]
    return names


def model_code(model: str) -> int:
    for code, name in MODEL_CODES.items():
        if name == model:
            return code
    raise UnknownModel(f"unknown model id {model!r} (known: {', '.join(MODEL_CODES.values())})")


def model_id(code: int) -> str:
    try:
        return MODEL_CODES[code]
    except KeyError:
        raise UnknownModel(f"stream uses model code {code}, which this gic does not know") from None
