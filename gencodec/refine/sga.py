"""Semi-amortized latent refinement with stochastic Gumbel annealing (seed 000 section II.C).

Yang et al. 2020 (SGA): the latent is optimized for one image; rounding is
replaced by a stochastic soft rounding whose Gumbel-softmax temperature is
annealed towards hard rounding:

    u = y * g(t) - mu * g(t)                         residual in coding units
    p(floor) ~ exp(-atanh(u - floor(u)) / tau),  p(ceil) ~ exp(-atanh(ceil(u) - u) / tau)
    u~ = floor(u) + GumbelSoftmax(p)_ceil,  y_hat = (u~ + mu g) / g

Gao et al. 2022 (learnable quantization step): the step delta = 1 / g(t)
is learned too, through the continuous rate index t; the stream already
carries the rate point, so the learned step costs no extra bits (the final
rate point is chosen by the usual search on real file sizes).

Loss (eq. 6): lambda* R + D, with D the simplified semantic ensemble loss
(optionally ROI-weighted, eq. 7) and lambda* raised while the estimated rate
is above the target and lowered while below (eq. 2).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from gencodec.models.base import RefineProblem
from gencodec.nn.precision import cpu_autocast
from gencodec.refine.distortion import EnsembleDistortion

SCALE_MIN = 0.11


@dataclass(frozen=True)
class SGAConfig:
    steps: int = 40
    time_limit: float = 55.0
    lr: float = 0.05
    tau_max: float = 0.5
    tau_min: float = 0.05
    seed: int = 0
    learn_step: bool = True
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)


def sga_round(u: torch.Tensor, tau: float, gen: torch.Generator) -> torch.Tensor:
    fl = torch.floor(u.detach())
    r = (u - fl).clamp(1e-4, 1 - 1e-4)
    logits = torch.stack([-torch.atanh(r), -torch.atanh(1 - r)], dim=-1) / tau
    uniform = torch.rand(logits.shape, generator=gen).clamp(1e-9, 1 - 1e-9)
    w = torch.softmax(logits - torch.log(-torch.log(uniform)), dim=-1)
    return fl + w[..., 1]


def _bits(u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    c = u.abs()
    upper = 0.5 * torch.erfc((c - 0.5) / (s * math.sqrt(2)))
    lower = 0.5 * torch.erfc((c + 0.5) / (s * math.sqrt(2)))
    return -torch.log2((upper - lower).clamp_min(1e-9)).sum()


@dataclass
class RefineResult:
    y: torch.Tensor
    steps: int
    seconds: float
    history: list[dict[str, float]]


def refine(problem: RefineProblem, target: torch.Tensor, target_latent_bits: float, cfg: SGAConfig,
           mask: torch.Tensor | None = None, roi_weights: tuple[float, float] = (1.0, 0.2),
           progress: Callable[[int, dict[str, float]], None] | None = None) -> RefineResult:
    """Optimize the latent y of one image; returns the refined (unscaled, float32) y."""
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    y = problem.y0.clone().requires_grad_(True)
    t_off = torch.zeros((), requires_grad=cfg.learn_step)
    params = [y] + ([t_off] if cfg.learn_step else [])
    opt = torch.optim.Adam([{"params": [y], "lr": cfg.lr}, {"params": params[1:], "lr": cfg.lr * 0.2}])
    x = target.float()
    dist = EnsembleDistortion(x, mask, roi_weights)
    mu, sigma = problem.mu, problem.sigma
    lam: float | None = None
    history: list[dict[str, float]] = []
    for i in range(cfg.steps):
        if i and time.perf_counter() - t_start > cfg.time_limit:
            break
        tau = max(cfg.tau_min, cfg.tau_max * math.exp(-4.0 * i / max(1, cfg.steps - 1)))
        t = (problem.t0 + t_off).clamp(0, problem.n_rates - 1).reshape(1)
        g = problem.gain(t).float()
        u = sga_round(y * g - mu * g, tau, gen)
        bits = _bits(u, (sigma * g).clamp_min(SCALE_MIN))
        y_hat = (u + mu * g) / g
        with cpu_autocast(cfg.bf16):
            x_hat = problem.synthesize(y_hat).float()[..., : x.shape[-2], : x.shape[-1]]
        d, parts = dist(x_hat.clamp(0, 1))
        rate = bits / target_latent_bits
        if lam is None:
            lam = float(d.detach()) / max(float(rate.detach()), 1e-6)
        loss = lam * rate + d
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lam *= 1.1 if float(bits.detach()) > target_latent_bits else 1 / 1.05  # eq. 2: more weight on rate above target
        row = {"step": i + 1, "bits": float(bits.detach()), "distortion": float(d.detach()), "tau": tau,
               "t": float(t.detach()), **parts}
        history.append(row)
        if progress:
            progress(i + 1, row)
    return RefineResult(y.detach(), len(history), time.perf_counter() - t_start, history)
