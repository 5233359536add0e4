"""Latent diffusion for PerCo (seed 003, sec. 3.1): noise schedule, v-prediction, DDIM.

The schedule is the cosine schedule of Nichol & Dhariwal (2021) (PerCo
fine-tunes a pretrained LDM and does not state one); v-prediction follows
PerCo, which trains with it "as it is more stable".

Forward process (continuous time s in [0, 1]):
    x_s = a_s x_0 + b_s eps,   a_s = cos(pi/2 * f(s)),  b_s = sin(pi/2 * f(s))
with f mapping [0, 1] onto [F_MIN, F_MAX] so the ends are neither noise-free
nor pure noise in float32. v-prediction (Salimans & Ho 2022):
    v = a_s eps - b_s x_0,   x_0 = a_s x_s - b_s v,   eps = b_s x_s + a_s v
Sampling is deterministic DDIM (eta = 0) from x_1 ~ N(0, I) drawn from a
caller-owned torch.Generator, so a decode is reproducible from its seed.
Classifier-free guidance (Ho & Salimans 2021) on the text condition only:
    v = v(c_local, null) + g * (v(c_local, text) - v(c_local, null))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

F_MIN, F_MAX = 0.002, 0.998

VFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def alpha_sigma(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Signal and noise scales (a_s, b_s) at times s in [0, 1]; a_s^2 + b_s^2 = 1."""
    phase = (F_MIN + (F_MAX - F_MIN) * s) * (math.pi / 2)
    return torch.cos(phase), torch.sin(phase)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def add_noise(x0: torch.Tensor, s: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_s, v target) for clean latents x0 at per-sample times s."""
    a, b = alpha_sigma(s)
    a, b = _bcast(a, x0), _bcast(b, x0)
    return a * x0 + b * noise, a * noise - b * x0


def x0_from_v(x_s: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    a, b = alpha_sigma(s)
    return _bcast(a, x_s) * x_s - _bcast(b, x_s) * v


def timesteps(steps: int) -> torch.Tensor:
    """steps + 1 times from 1 (noise) down to 0 (clean), evenly spaced."""
    if steps < 1:
        raise ValueError("at least one denoising step is needed")
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)


def guided(v_fn_text: VFunction, v_fn_null: VFunction | None, guidance: float) -> VFunction:
    """Classifier-free guidance on the text condition; guidance 1 (or no null branch) is plain conditioning."""
    if v_fn_null is None or guidance == 1.0:
        return v_fn_text

    def v_fn(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        v_null = v_fn_null(x, s)
        return v_null + guidance * (v_fn_text(x, s) - v_null)

    return v_fn


@torch.no_grad()
def ddim_sample(v_fn: VFunction, shape: tuple[int, ...], steps: int, generator: torch.Generator,
                progress: Callable[[int, int], None] | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Deterministic DDIM from x_1 ~ N(0, I) (drawn from ``generator``) to x_0 in ``steps`` calls of v_fn.

    The noise is drawn in float32 (so a seed gives the same start in any dtype), then cast to ``dtype``."""
    x = torch.randn(shape, generator=generator, dtype=torch.float32).to(dtype)
    ts = timesteps(steps)
    for i in range(steps):
        s, s_next = ts[i].to(dtype).expand(shape[0]), ts[i + 1].to(dtype).expand(shape[0])
        v = v_fn(x, s).to(dtype)
        a, b = alpha_sigma(s)
        a, b = _bcast(a, x), _bcast(b, x)
        x0 = a * x - b * v
        eps = b * x + a * v
        if i == steps - 1:
            x = x0  # the last step returns the clean estimate
        else:
            a_n, b_n = alpha_sigma(s_next)
            x = _bcast(a_n, x) * x0 + _bcast(b_n, x) * eps
        if progress is not None:
            progress(i + 1, steps)
    return x
