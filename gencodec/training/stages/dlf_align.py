"""DLF stage 1, latent alignment (seed 002, appendix A.1): train the dual-branch codec against the frozen
autoencoder, on cached latents.

    L = ||h^ - h~||^2 + lambda(t) * w(step) * R(y^_d) + L_codebook                          (eq. 6, 9)

h~ is the frozen auxiliary encoder's latent E(x), h^ the adaptor's output, R the detail bits per pixel,
L_codebook the commitment term of the EMA semantic codebook (its codebook term is the EMA update) plus
the hyper codebook loss. Each sample draws a continuous rate index t; lambda(t) interpolates the per-rate
lambdas log-linearly (lowest rate first). w is the paper's multi-stage warm-up, applied to every rate point:
lambda_warm[0] / lambda_warm[2] for the first ``warm_hold`` of the run (paper: 0.001 for 10k steps), then a
linear ramp from lambda_warm[1] to lambda_warm[2] until ``warm_ramp`` (2.0 -> 24.0 over 90k steps), then 1.
The paper starts from a pretrained, frozen 1-D tokenizer; none exists here, so the semantic branch trains
from scratch (its codebook seeded from encoder tokens at step 0, dead entries re-seeded periodically).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from gencodec.models.glc import prefixed
from gencodec.models.weights import load_state
from gencodec.nn.dlf import DLFConfig, DLFNet
from gencodec.nn.precision import cpu_autocast
from gencodec.training.data import list_images
from gencodec.training.latent_cache import LatentCache
from gencodec.training.loop import log_linear_at, lr_at, set_lr
from gencodec.training.stages.glc_latent import load_autoencoder


@dataclass
class DLFAlignTrainConfig:
    autoencoder: str = "runs/ae1/checkpoint"
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 16  # latent positions (256 pixels: one semantic window, as in the paper)
    batch: int = 8
    lr: float = 2e-4
    total_steps: int = 20000
    lambdas: tuple[float, ...] = (250.0, 70.0, 20.0, 5.0)  # on detail bpp, lowest rate first (GLC's range)
    lambda_warm: tuple[float, ...] = (0.001, 2.0, 24.0)  # paper A.1: hold, ramp start, ramp end (= 1x)
    warm_hold: float = 0.02  # paper: 10k of 500k steps
    warm_ramp: float = 0.2  # paper: ramp ends at 100k of 500k steps
    restart_every: int = 200
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)
    latent_store: str = ""  # folder caching encoder latents for later runs on the same encoder ("" = off)
    init: str = ""  # warm start from shipped weights (weights/dlf.safetensors); fresh optimizer and schedule
    model: dict = field(default_factory=dict)  # DLFConfig overrides, e.g. {"interactive": false} (ablations)


def warm_scale(step: int, total: int, warm: tuple[float, ...], hold: float, ramp: float) -> float:
    """Multi-stage lambda factor w(step) of appendix A.1, relative to the final lambda."""
    p = step / max(1, total)
    if p < hold:
        return warm[0] / warm[2]
    if p < ramp:
        return (warm[1] + (warm[2] - warm[1]) * (p - hold) / (ramp - hold)) / warm[2]
    return 1.0


def detail_bpp(likelihood: torch.Tensor, npix: int) -> torch.Tensor:
    return -torch.log2(likelihood).sum(dim=(1, 2, 3)) / npix


class DLFAlignStage:
    name = "dlf-align"

    def __init__(self, cfg: DLFAlignTrainConfig, model_cfg: DLFConfig | None = None) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.ae = load_autoencoder(cfg.autoencoder)
        self.model_cfg = model_cfg or DLFConfig(**{"latent_dim": self.ae.cfg.latent_dim, **cfg.model})
        if self.model_cfg.latent_dim != self.ae.cfg.latent_dim:
            raise ValueError("the DLF config does not match the autoencoder's latent size")
        if cfg.crop % 8:
            raise ValueError("crop must be a multiple of 8 latent positions (the hyper-latent is at 1/128)")
        if len(cfg.lambdas) != self.model_cfg.n_rates:
            raise ValueError(f"need one lambda per rate point ({self.model_cfg.n_rates})")
        self.model = DLFNet(self.model_cfg)
        if cfg.init:
            shipped = load_file(cfg.init)
            load_state(self.model, prefixed(shipped, "codec."))
            self.model.restart_statistics()  # usage statistics are not shipped
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.cache = LatentCache(self.ae, list_images([Path(p) for p in cfg.data]), cfg.crop, cfg.seed,
                                 store=Path(cfg.latent_store) if cfg.latent_store else None)
        self.log_lambdas = torch.tensor([math.log(v) for v in cfg.lambdas])

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt}

    def sampler_state(self) -> dict:
        return self.cache.get_state()

    def set_sampler_state(self, state: dict) -> None:
        self.cache.set_state(state)

    def config(self) -> dict:
        return {"train": asdict(self.cfg), "model": self.model_cfg.to_dict(), "autoencoder": self.ae.cfg.to_dict()}

    def train_step(self, step: int) -> dict[str, float]:
        c, mc = self.cfg, self.model_cfg
        set_lr(self.opt, lr_at(step, self.total_steps, c.lr))
        latent, _ = self.cache.batch(c.batch)
        t = torch.rand(latent.shape[0]) * (mc.n_rates - 1)
        self.model.train()
        if step == 0 and not c.init:
            self.model.seed_codebook(latent)
        with cpu_autocast(c.bf16):
            out = self.model(latent, t)
        f = self.ae.cfg.downsample
        npix = latent.shape[2] * latent.shape[3] * f * f
        bpp_d = detail_bpp(out["y_likelihood"], npix)
        dist = (latent - out["latent_hat"]).square().sum(dim=1).mean(dim=(1, 2))
        w = warm_scale(step, self.total_steps, c.lambda_warm, c.warm_hold, c.warm_ramp)
        codebook = out["sem_vq_loss"] + out["hyper_vq_loss"]
        loss = (dist + log_linear_at(t, self.log_lambdas) * w * bpp_d).mean() + codebook
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        metrics = semantic_metrics(self.model, out, t, bpp_d, npix, latent.shape[0])
        if step % c.restart_every == 0:
            metrics["restarted"] = float(self.model.restart_dead_codes(out))
        return {"loss": loss.item(), "dist": dist.mean().item(), "codebook": codebook.item(), "w": w, **metrics}


def semantic_metrics(model: DLFNet, out: dict[str, torch.Tensor], t: torch.Tensor, bpp_d: torch.Tensor, npix: int,
                     batch: int) -> dict[str, float]:
    """Rates of the three sections (semantic and hyper are fixed-length) and codebook usage."""
    mc = model.cfg
    n = mc.n_rates
    lo, hi = t < 1, t > n - 2  # the lowest and highest rate segments, to see the range being learned
    sem_bits = out["sem_indices"].numel() * mc.token_bits / batch
    hyper_bits = out["hyper_indices"][0].numel() * int(mc.hyper_codebook - 1).bit_length()
    return {
        "bpp_d": bpp_d.mean().item(), "bpp_sem": sem_bits / npix, "bpp_hyper": hyper_bits / npix,
        "bpp_lo": bpp_d[lo].mean().item() if lo.any() else float("nan"),
        "bpp_hi": bpp_d[hi].mean().item() if hi.any() else float("nan"),
        "step_mean": out["step"].mean().item(),
        "codes_used": float((model.sem_vq.ema_count > 1e-2).sum()),
    }
