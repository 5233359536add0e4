"""HiFiC stage 1 (seed 000 sec. II.B / III.A): end-to-end rate + distortion, no adversarial term.

    L = lambda* R + D,   D = alpha * Charbonnier + beta * L_per + gamma * L_style     (eqs. 1, 3)
    lambda* = lambda_above if R* > T(t) else lambda_below,  lambda_above > lambda_below   (eq. 2)

per sample: each sample draws its own continuous rate index t, T(t) is the
target bpp log-interpolated between the rate points' targets, R the rate of
the noisy latents (differentiable) and R* the rate of the rounded ones. For
the first part of the run the targets are raised by ``warm_factor``
(a high-rate start converges much faster on this CPU, docs/design.md).
``w_mode`` conha / fixed scales the perceptual and style terms per crop by ConHa's w
(seed 004 eq. 4; ``gencodec.training.hallucination``), as the paper trains its whole model.
The z table trains on the noisy proxy, which keeps p(0) near 0.7 (a collapsed z channel
costs ~0.5 bit per position); export refits it to the rounded z (docs/training.md). The
``rounded`` z rate (gradient to z by central difference) was tried and is kept as a setting:
z then drifts off zero and the rate climbs (measured, docs/training.md). ``density`` charges
z by Balle's factorized density under uniform noise (``gencodec.nn.factorized_density``, which
can make a switched-off channel free) and fits the coded table to the rounded z alone.
The transforms, gains and z prior may start from the shipped pixel
hyperprior (``init``): every tensor whose name and shape match is copied.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from gencodec.losses.semantic_ensemble import EnsembleWeights, SemanticEnsemble
from gencodec.metrics.backbone import default_backbone
from gencodec.nn.factorized_density import FactorizedDensity
from gencodec.nn.hific import HiFiC, HiFiCConfig
from gencodec.nn.precision import cpu_autocast
from gencodec.training.hallucination import build_weight, structure_sampler
from gencodec.training.loop import log_linear_at, lr_at, set_lr, warm_factor_at

Z_RATES = ("noisy", "rounded", "density")


@dataclass
class HiFiCRDTrainConfig:
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    init: str = "weights/hyperprior.safetensors"  # shipped weights or a run's checkpoint dir; "" = random init
    crop: int = 128
    batch: int = 8
    lr: float = 2e-4
    total_steps: int = 20000
    targets: tuple[float, ...] = (0.03, 0.045, 0.07, 0.1, 0.14, 0.2)  # bpp T per rate point (eq. 2)
    lambda_below: float = 0.5
    lambda_above: float = 16.0
    alpha: float = 10.0
    beta: float = 1.0
    gamma: float = 1.5e-3
    warm_factor: float = 2.0  # targets x this until warm_until, then back to 1 by warm_end
    warm_until: float = 0.2
    warm_end: float = 0.35
    w_mode: str = "none"  # ConHa's w on the perceptual/style terms: none | conha | fixed (see hific-gan)
    preference: str = "weights"
    structure: float = 0.0  # fraction of crops with rendered text / line art / faces (ConHa's w then acts)
    temperature: float = 100.0
    alpha_w0: float = -1.0  # w_mode conha/fixed: pixel weight of a w = 0 crop (losses.semantic_ensemble); <0: alpha
    w_fixed: float = -1.0
    z_rate: str = "noisy"  # rate of z: "noisy" (table, uniform noise) | "rounded" (the coded rate) | "density"
    density_lr: float = 1e-3  # z_rate=density: the density's own Adam (constant rate)
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)


def init_from(model: torch.nn.Module, path: str | Path) -> int:
    """Copy every tensor of ``path`` (a .safetensors file or a checkpoint dir's ``model.`` tensors)
    whose name and shape match into ``model``; returns how many were copied."""
    path = Path(path)
    if path.suffix == ".safetensors":
        tensors = load_file(str(path))
    else:
        raw = load_file(str(path / "model.safetensors"))
        tensors = {k[len("model."):]: v for k, v in raw.items() if k.startswith("model.")}
    state = model.state_dict()
    hits = {k: v.to(state[k].dtype) for k, v in tensors.items() if k in state and state[k].shape == v.shape}
    model.load_state_dict(hits, strict=False)
    return len(hits)


class HiFiCRDStage:
    name = "hific-rd"

    def __init__(self, cfg: HiFiCRDTrainConfig, model_cfg: HiFiCConfig | None = None,
                 backbone: torch.nn.Module | None = None) -> None:
        if cfg.z_rate not in Z_RATES:
            raise ValueError(f"z_rate must be one of {', '.join(Z_RATES)}, got {cfg.z_rate!r}")
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_cfg or HiFiCConfig()
        if len(cfg.targets) != self.model_cfg.n_rates:
            raise ValueError(f"need one target bpp per rate point ({self.model_cfg.n_rates}), got {len(cfg.targets)}")
        self.model = HiFiC(self.model_cfg)
        self.initialized = init_from(self.model, cfg.init) if cfg.init else 0
        self.loss = SemanticEnsemble(backbone or default_backbone(), EnsembleWeights(
            cfg.alpha, cfg.beta, cfg.gamma, cfg.alpha_w0 if cfg.alpha_w0 >= 0 else None))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.sampler = structure_sampler(cfg.data, cfg.crop, cfg.seed, cfg.structure)
        # z_rate=density: z's training rate under Balle's factorized density (nn.factorized_density); the
        # coded table then fits the rounded z by maximum likelihood (z detached), as export refits it
        self.z_density: FactorizedDensity | None = None
        if cfg.z_rate == "density":
            self.z_density = FactorizedDensity(self.model_cfg.n)
            self.opt_density = torch.optim.Adam(self.z_density.parameters(), lr=cfg.density_lr)
            self.prefit_density()
        self.log_targets = torch.tensor([math.log(v) for v in cfg.targets])
        self.hallucination, self.w_fixed = build_weight(cfg.w_mode, cfg.preference, cfg.temperature,
                                                        cfg.w_fixed, self.sampler)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, **({"z_density": self.z_density} if self.z_density else {})}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt, **({"density": self.opt_density} if self.z_density else {})}

    def prefit_density(self, batches: int = 4, steps: int = 300) -> None:
        """Fit the fresh density to the initial model's z (its own Adam at 10x density_lr), so the rate
        of z is near its coded rate from step 0; the sampler's state is restored afterwards."""
        assert self.z_density is not None
        state = self.sampler.get_state()
        with torch.no_grad():
            zs = []
            for _ in range(batches):
                x, _ = self.sampler.batch(self.cfg.batch)
                t = torch.rand(x.shape[0]) * (self.model_cfg.n_rates - 1)
                zs.append(self.model.h_a(self.model.g_a(x * 2 - 1)) * self.model.z_gain(t))
        self.sampler.set_state(state)
        z = torch.cat(zs)
        opt = torch.optim.Adam(self.z_density.parameters(), lr=10 * self.cfg.density_lr)
        for _ in range(steps):
            loss = -torch.log2(self.z_density(z + torch.empty_like(z).uniform_(-0.5, 0.5))).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def sampler_state(self) -> dict:
        return self.sampler.get_state()

    def set_sampler_state(self, state: dict) -> None:
        self.sampler.set_state(state)

    def config(self) -> dict:
        return {"train": asdict(self.cfg), "model": self.model_cfg.to_dict(), "w_fixed": self.w_fixed}

    def warm(self, step: int) -> float:
        c = self.cfg
        return warm_factor_at(step, self.total_steps, c.warm_factor, c.warm_until, c.warm_end)

    def target(self, t: torch.Tensor) -> torch.Tensor:
        """T(t): target bpp, log-linear between the rate points."""
        return log_linear_at(t, self.log_targets)

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        set_lr(self.opt, lr_at(step, self.total_steps, c.lr))
        x, _ = self.sampler.batch(c.batch)
        t = torch.rand(x.shape[0]) * (self.model_cfg.n_rates - 1)
        self.model.train()
        with cpu_autocast(c.bf16):
            out = self.model(x, t)
            w = self.hallucination(x)
            d = self.loss(out["x_hat"].float(), x, w)
        npix = x.shape[2] * x.shape[3]

        def bits(key: str) -> torch.Tensor:
            return -torch.log2(out[key]).sum(dim=(1, 2, 3)) / npix

        if c.z_rate == "density":
            z = out["z_scaled"]
            z_bits = -torch.log2(self.z_density(z + torch.empty_like(z).uniform_(-0.5, 0.5))).sum((1, 2, 3)) / npix
            table_bits = -torch.log2(self.model.z_prior(z.detach(), noise=False)[1]).sum((1, 2, 3)) / npix
            rate = bits("y_likelihood") + z_bits
            table_loss = table_bits.mean()
        else:
            rate = bits("y_likelihood") + bits("z_likelihood_q" if c.z_rate == "rounded" else "z_likelihood")
            table_loss = torch.zeros(())
        rate_q = (bits("y_likelihood_q") + bits("z_likelihood_q")).detach()
        above = rate_q > self.target(t) * self.warm(step)
        lam = torch.where(above, c.lambda_above, c.lambda_below)
        loss = (lam * rate).mean() + d["distortion"]
        self.opt.zero_grad(set_to_none=True)
        if self.z_density is not None:
            self.opt_density.zero_grad(set_to_none=True)
        (loss + table_loss).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if self.z_density is not None:
            self.opt_density.step()
        mse = (out["x_hat"].detach().float().clamp(0, 1) - x).square().mean(dim=(1, 2, 3))
        return {"loss": loss.item(), "bpp": rate_q.mean().item(), "bpp_noisy": rate.mean().item(),
                "above": above.float().mean().item(), "rec": d["rec"].item(), "per": d["per"].item(),
                "style": d["style"].item(), "w": 1.0 if w is None else w.mean().item(),
                "psnr": (-10 * torch.log10(mse.clamp_min(1e-10))).mean().item()}
