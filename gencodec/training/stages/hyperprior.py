"""Training stage for the pixel mean-scale hyperprior (codec ``hyperprior``).

Loss per sample (rate-distortion, Balle et al.): L = lambda(t) * 255^2 * MSE + bpp,
with t drawn uniformly from the continuous rate range and lambda(t)
log-linearly interpolated between the rate points. For the first part of
the run lambda is multiplied by a factor that decays from ``warm_factor`` to
1 (a high-rate start, which converges much faster on this CPU).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from gencodec.nn.pixel_hyperprior import HyperpriorConfig, PixelHyperprior
from gencodec.nn.precision import cpu_autocast
from gencodec.training.data import CropSampler, list_images
from gencodec.training.loop import log_linear_at, lr_at, set_lr, warm_factor_at


@dataclass
class HyperpriorTrainConfig:
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 128
    batch: int = 8
    lr: float = 5e-4
    total_steps: int = 24000
    lambdas: tuple[float, ...] = (6e-5, 1.4e-4, 3.2e-4, 7.4e-4, 1.7e-3, 4e-3)
    warm_factor: float = 5.0
    warm_until: float = 0.3  # factor held until this fraction of the run ...
    warm_end: float = 0.45  # ... then decays to 1 by this fraction
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)


class HyperpriorStage:
    name = "hyperprior"

    def __init__(self, cfg: HyperpriorTrainConfig, model_cfg: HyperpriorConfig | None = None) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_cfg or HyperpriorConfig()
        self.model = PixelHyperprior(self.model_cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        files = list_images([Path(p) for p in cfg.data])
        self.sampler = CropSampler(files, cfg.crop, cfg.seed)
        self.log_lambdas = torch.tensor([math.log(v) for v in cfg.lambdas])

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt}

    def sampler_state(self) -> dict:
        return self.sampler.get_state()

    def set_sampler_state(self, state: dict) -> None:
        self.sampler.set_state(state)

    def config(self) -> dict:
        return {"train": asdict(self.cfg), "model": self.model_cfg.to_dict()}

    def warm(self, step: int) -> float:
        c = self.cfg
        return warm_factor_at(step, self.total_steps, c.warm_factor, c.warm_until, c.warm_end)

    def lam(self, t: torch.Tensor) -> torch.Tensor:
        return log_linear_at(t, self.log_lambdas)

    def train_step(self, step: int) -> dict[str, float]:
        set_lr(self.opt, lr_at(step, self.total_steps, self.cfg.lr))
        x, _ = self.sampler.batch(self.cfg.batch)
        t = torch.rand(x.shape[0]) * (self.model_cfg.n_rates - 1)
        with cpu_autocast(self.cfg.bf16):
            out = self.model(x, t)
        npix = x.shape[2] * x.shape[3]
        bits_y = -torch.log2(out["y_likelihood"]).sum(dim=(1, 2, 3))
        bits_z = -torch.log2(out["z_likelihood"]).sum(dim=(1, 2, 3))
        bpp = (bits_y + bits_z) / npix
        mse = (out["x_hat"].float() - x).square().mean(dim=(1, 2, 3))
        lam = self.lam(t) * self.warm(step)
        loss = (lam * 255**2 * mse + bpp).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        psnr = (-10 * torch.log10(mse.detach().clamp_min(1e-10))).mean()
        return {
            "loss": loss.item(),
            "bpp": bpp.mean().item(),
            "bpp_z": (bits_z / npix).mean().item(),
            "psnr": psnr.item(),
        }
