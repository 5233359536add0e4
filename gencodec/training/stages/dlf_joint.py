"""DLF stage 2, end-to-end fine-tune (seed 002, appendix A.2): both branches, the adaptor and the
generator D train on pixels; E stays frozen (it still supplies h~ and the discriminator's classes).

    L = L_pixel + w_latent * ||h^ - h~||^2 + L_codebook + lambda(t) * R(y^_d)               (eq. 7)
    L_pixel = Charbonnier(x, x^) + w_per * L_per(x, x^) + lambda_adv * a * L_adv(x, x^)      (eq. 8)

with the EffNet-Lite0 feature distance standing in for LPIPS, the non-binary MS-ILLM discriminator of
stage I continuing to train, VQGAN's adaptive weight a (capped) and lambda_adv = 0.8 as in the paper.
The stage-1 latent term is kept (w_latent) so the latent stays where D expects it. Lambdas default to
those of the stage-1 run it starts from, so the rate range stays put.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F

from gencodec.losses.adversarial import adaptive_weight, nonbinary_d_loss, nonbinary_g_loss
from gencodec.losses.charbonnier import charbonnier_per_sample
from gencodec.metrics.deep_features import DeepFeatureLoss
from gencodec.nn.discriminator import NonBinaryDiscriminator
from gencodec.nn.dlf import DLFConfig, DLFNet
from gencodec.nn.precision import cpu_autocast
from gencodec.training.checkpoint import load_module_weights
from gencodec.training.data import CropSampler, list_images
from gencodec.training.loop import log_linear_at, lr_at, set_lr
from gencodec.training.stages.dlf_align import detail_bpp, semantic_metrics
from gencodec.training.stages.glc_latent import load_autoencoder
from gencodec.training.warm_start import load_stage_start


@dataclass
class DLFJointTrainConfig:
    autoencoder: str = "runs/ae1/checkpoint"
    align: str = "runs/dlf1/checkpoint"  # the stage-1 run to start from, or weights/dlf.safetensors (+ its decoder)
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 256
    batch: int = 4
    lr: float = 5e-5
    d_lr: float = 5e-5
    total_steps: int = 4000
    lambdas: tuple[float, ...] = ()  # empty: those of the stage-1 run (keeps its rate range)
    w_per: float = 1.0
    lambda_adv: float = 0.8
    adv_w_max: float = 1.0
    w_latent: float = 1.0
    adaptive_every: int = 8
    restart_every: int = 200
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)


class DLFJointStage:
    name = "dlf-joint"

    def __init__(self, cfg: DLFJointTrainConfig) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        if cfg.crop % 128:
            raise ValueError("crop must be a multiple of 128 pixels (the hyper-latent is at 1/128)")
        self.ae = load_autoencoder(cfg.autoencoder)
        self.decoder = self.ae.decoder.requires_grad_(True).train()
        self.model, start = load_stage_start(cfg.align, lambda mc: DLFNet(DLFConfig(**mc)), self.decoder)
        self.model_cfg = self.model.cfg
        self.lambdas = tuple(cfg.lambdas or start["lambdas"])
        if Path(cfg.align).suffix == ".safetensors":
            self.model.restart_statistics()  # usage statistics are not shipped
        self.disc = NonBinaryDiscriminator(self.ae.cfg.codebook_size)
        if Path(cfg.autoencoder).is_dir():  # a stage-I run carries its trained discriminator; shipped weights do not
            load_module_weights(Path(cfg.autoencoder), {"nb_d": self.disc})
        self.perceptual = DeepFeatureLoss(reduction="none")
        self.params = list(self.model.parameters()) + list(self.decoder.parameters())
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr, betas=(0.5, 0.9))
        self.sampler = CropSampler(list_images([Path(p) for p in cfg.data]), cfg.crop, cfg.seed)
        self.log_lambdas = torch.tensor([math.log(v) for v in self.lambdas])
        self.adv_w: float | None = None

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "decoder": self.decoder, "nb_d": self.disc}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt, "disc": self.opt_d}

    def sampler_state(self) -> dict:
        return {"rng": self.sampler.get_state(), "adv_w": self.adv_w}

    def set_sampler_state(self, state: dict) -> None:
        self.sampler.set_state(state["rng"])
        self.adv_w = state["adv_w"]

    def config(self) -> dict:
        train = {**asdict(self.cfg), "lambdas": list(self.lambdas)}  # as used, also when inherited from stage 1
        return {"train": train, "model": self.model_cfg.to_dict(), "autoencoder": self.ae.cfg.to_dict()}

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        set_lr(self.opt, lr_at(step, self.total_steps, c.lr, warmup=100))
        set_lr(self.opt_d, lr_at(step, self.total_steps, c.d_lr, warmup=100))
        x, _ = self.sampler.batch(c.batch)
        t = torch.rand(x.shape[0]) * (self.model_cfg.n_rates - 1)
        with torch.no_grad(), cpu_autocast(c.bf16):
            latent = self.ae.encode(x)
            _, codes = self.ae.quantize(latent)
        self.model.train()
        with cpu_autocast(c.bf16):
            out = self.model(latent, t)
            x_hat = self.decoder(F.normalize(out["latent_hat"], dim=1)).float()
            rec = charbonnier_per_sample(x_hat, x)
            per = self.perceptual(x_hat, x).float()
            disc_logits = self.disc(x_hat)
        g_adv = nonbinary_g_loss(disc_logits, codes, per_sample=True)
        nll = rec + c.w_per * per
        if self.adv_w is None or step % c.adaptive_every == 0:
            self.adv_w = float(adaptive_weight(nll.mean(), g_adv.mean(), self.decoder.net[-2].weight,
                                               max_weight=c.adv_w_max))
        d_latent = (latent - out["latent_hat"]).square().sum(dim=1).mean(dim=(1, 2))
        npix = x.shape[2] * x.shape[3]
        bpp_d = detail_bpp(out["y_likelihood"], npix)
        codebook = out["sem_vq_loss"] + out["hyper_vq_loss"]
        pixel = nll + c.lambda_adv * self.adv_w * g_adv
        loss = (pixel + c.w_latent * d_latent + log_linear_at(t, self.log_lambdas) * bpp_d).mean() + codebook
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        with cpu_autocast(c.bf16):
            d_loss = nonbinary_d_loss(self.disc(x), self.disc(x_hat.detach()), codes)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.float().backward()
        self.opt_d.step()
        metrics = semantic_metrics(self.model, out, t, bpp_d, npix, x.shape[0])
        if step % c.restart_every == 0:
            metrics["restarted"] = float(self.model.restart_dead_codes(out))
        psnr = -10 * torch.log10((x_hat.detach() - x).square().mean().clamp_min(1e-10))
        return {"loss": loss.item(), "rec": rec.mean().item(), "per": per.mean().item(),
                "d_latent": d_latent.mean().item(), "codebook": codebook.item(), "g_adv": g_adv.mean().item(),
                "d_loss": d_loss.item(), "adv_w": self.adv_w, "psnr": psnr.item(), **metrics}
