"""GLC stage III: joint fine-tuning with pixel-level losses (decoder D trainable, E frozen).

D_III = Charbonnier(x, x^) + w_per * L_per + lambda_adv * a * L_adv + lambda_code * CE(codes(E(x^)), codes(E(x)))
        + w_nyquist * L_nyq   (the decoder's 2-pixel grid, ``gencodec.losses.nyquist``; 0 = off)
L = bpp(y) + lambda(t) * (D_III + w_latent * D_code(l, l_hat))
per sample (each sample has its own rate index t); with w_latent = 1 and the stage-II lambdas the
stage-II objective is kept and the pixel terms are added on top, so the rate range stays put.
with the non-binary MS-ILLM discriminator of stage I continuing to train,
and the pixel-level code-prediction term of GLC (lambda_code = 0.05).
``d_code_prior`` gives the discriminator the frozen encoder's code similarities of its input
(``gencodec.nn.discriminator``; a fresh 4097-way classifier otherwise stays near uniform for the
few hundred steps this CPU affords), and ``d_warmup`` trains only the discriminator for the first
steps (the codec and decoder are not updated), as in ``hific-gan``. ``gain_lr_mult`` gives the
rate-variable log-gains (``gencodec.nn.rate_gain``) their own learning rate, lr * mult, so a change
of the ``lambdas`` moves the rate points within a few hundred steps (at the base rate of a
fine-tune a log-gain moves about 5e-5 per step).
``freeze_codec`` trains the decoder (and the discriminator) alone on the frozen latent codec's
decoded latents: the files, and so the rate of every index, stay exactly those of the start, and
the decoder's loss is the mean of D_III over the batch *without* lambda(t), so each rate segment
weighs the same (with lambda(t) and the shipped lambdas 0.0003-0.2, the lowest rate's samples
count 1/667 of the highest's).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F

from gencodec.losses.adversarial import adaptive_weight, nonbinary_d_loss, nonbinary_g_loss
from gencodec.losses.charbonnier import charbonnier_per_sample
from gencodec.losses.code_prediction import code_prediction_loss
from gencodec.losses.nyquist import nyquist_loss_per_sample
from gencodec.metrics.deep_features import DeepFeatureLoss
from gencodec.nn.discriminator import NonBinaryDiscriminator
from gencodec.nn.precision import cpu_autocast
from gencodec.training.checkpoint import load_module_weights
from gencodec.training.data import CropSampler, list_images
from gencodec.training.loop import log_linear_at, lr_at, set_lr
from gencodec.training.stages.glc_latent import build_latent_codec, load_autoencoder
from gencodec.training.warm_start import load_stage_start


@dataclass
class GLCJointTrainConfig:
    autoencoder: str = "runs/ae1/checkpoint"
    latent_codec: str = "runs/glc2/checkpoint"  # or a shipped weights/glc.safetensors (with its decoder)
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 256
    batch: int = 4
    lr: float = 5e-5
    d_lr: float = 5e-5
    total_steps: int = 2000
    lambdas: tuple[float, ...] = ()  # empty: those of the stage-II run it starts from (keeps its rate range)
    w_per: float = 1.0
    lambda_adv: float = 0.8
    adv_w_max: float = 1.0  # cap of the VQGAN adaptive weight (uncapped it crowded out reconstruction in stage I)
    lambda_code: float = 0.05
    w_latent: float = 1.0
    adaptive_every: int = 8
    d_code_prior: bool = False  # the discriminator adds the VQ encoder's code similarities (nn.discriminator)
    d_warmup: int = 0  # first steps train only the discriminator
    gain_lr_mult: float = 1.0  # learning rate of the rate-variable log-gains relative to lr
    w_nyquist: float = 0.0  # weight of the Nyquist-pattern loss (losses.nyquist) in D_III
    freeze_codec: bool = False  # decoder-only: the latent codec (and so every file) stays as it started
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)


class GLCJointStage:
    name = "glc-joint"

    def __init__(self, cfg: GLCJointTrainConfig) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.ae = load_autoencoder(cfg.autoencoder)
        self.decoder = self.ae.decoder.requires_grad_(True).train()
        self.model, stage2 = load_stage_start(cfg.latent_codec, build_latent_codec, self.decoder)
        self.model_cfg = self.model.cfg
        if cfg.freeze_codec:
            self.model.requires_grad_(False)
        self.lambdas = tuple(cfg.lambdas or stage2["lambdas"])
        self.disc = NonBinaryDiscriminator(self.ae.cfg.codebook_size, code_prior=cfg.d_code_prior)
        if Path(cfg.autoencoder).is_dir():  # a stage-I run carries its trained discriminator; shipped weights do not
            load_module_weights(Path(cfg.autoencoder), {"nb_d": self.disc}, strict=not cfg.d_code_prior)
        self.perceptual = DeepFeatureLoss(reduction="none")
        gains = [p for n, p in self.model.named_parameters() if n.endswith("log_gain")]
        rest = [p for n, p in self.model.named_parameters() if not n.endswith("log_gain")]
        self.opt = torch.optim.Adam([{"params": rest + list(self.decoder.parameters())}, {"params": gains}],
                                    lr=cfg.lr, betas=(0.5, 0.9))
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
        train = {**asdict(self.cfg), "lambdas": list(self.lambdas)}  # as used, also when inherited from stage II
        return {"train": train, "model": self.model_cfg.to_dict(), "autoencoder": self.ae.cfg.to_dict()}

    def lam(self, t: torch.Tensor) -> torch.Tensor:
        return log_linear_at(t, self.log_lambdas)

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        lr = lr_at(max(step - c.d_warmup, 0), self.total_steps - c.d_warmup, c.lr, warmup=100)
        rest, gains = self.opt.param_groups
        rest["lr"], gains["lr"] = lr, lr * c.gain_lr_mult
        set_lr(self.opt_d, lr_at(step, self.total_steps, c.d_lr, warmup=100))
        x, _ = self.sampler.batch(c.batch)
        t = torch.rand(x.shape[0]) * (self.model_cfg.n_rates - 1)
        with torch.no_grad(), cpu_autocast(c.bf16):
            latent = self.ae.encode(x)
            _, codes = self.ae.quantize(latent)
            sim_real = self.ae.quantizer.logits(latent) if c.d_code_prior else None
        self.model.train(not c.freeze_codec)
        train_g = step >= c.d_warmup
        with torch.set_grad_enabled(train_g), cpu_autocast(c.bf16):
            with torch.set_grad_enabled(train_g and not c.freeze_codec):
                out = self.model(latent, t)
            x_hat = self.decoder(F.normalize(out["latent_hat"], dim=1)).float()
            rec = charbonnier_per_sample(x_hat, x)
            per = self.perceptual(x_hat, x).float()
            sim_fake = self.ae.quantizer.logits(self.ae.encoder(x_hat))
            code_logits = sim_fake * 25.0
            disc_logits = self.disc(x_hat, sim_fake if c.d_code_prior else None)
        pix_code = F.cross_entropy(code_logits.float(), codes, reduction="none").mean(dim=(1, 2))
        g_adv = nonbinary_g_loss(disc_logits, codes, per_sample=True)
        d_latent, diag = code_prediction_loss(latent, out["latent_hat"], codes, self.ae.quantizer)
        nyq = nyquist_loss_per_sample(x_hat, x)
        nll = rec + c.w_per * per + c.lambda_code * pix_code + c.w_nyquist * nyq
        if train_g and (self.adv_w is None or step % c.adaptive_every == 0):
            self.adv_w = float(adaptive_weight(nll.mean(), g_adv.mean(), self.decoder.net[-2].weight,
                                               max_weight=c.adv_w_max))
        distortion = nll + c.lambda_adv * (self.adv_w or 0.0) * g_adv + c.w_latent * d_latent
        npix = x.shape[2] * x.shape[3]
        bpp_y = -torch.log2(out["y_likelihood"]).sum(dim=(1, 2, 3)) / npix
        if c.freeze_codec:
            loss = distortion.mean()
        else:
            loss = (bpp_y + self.lam(t) * distortion).mean() + out["hyper_vq_loss"]
        if train_g:
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(self.model.parameters()) + list(self.decoder.parameters()), 1.0)
            self.opt.step()
        fake_sim = sim_fake.detach() if c.d_code_prior else None
        with cpu_autocast(c.bf16):
            d_loss = nonbinary_d_loss(self.disc(x, sim_real), self.disc(x_hat.detach(), fake_sim), codes)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.float().backward()
        self.opt_d.step()
        psnr = -10 * torch.log10((x_hat.detach() - x).square().mean().clamp_min(1e-10))
        n = self.model_cfg.n_rates
        lo, hi = t < 1, t > n - 2  # the lowest and highest rate segments
        return {"loss": loss.item(), "bpp_y": bpp_y.mean().item(),
                "bpp_lo": bpp_y[lo].mean().item() if lo.any() else float("nan"),
                "bpp_hi": bpp_y[hi].mean().item() if hi.any() else float("nan"),
                "per_lo": per[lo].mean().item() if lo.any() else float("nan"),
                "per_hi": per[hi].mean().item() if hi.any() else float("nan"),
                "rec": rec.mean().item(), "per": per.mean().item(), "pix_code": pix_code.mean().item(),
                "nyq": nyq.mean().item(),
                "g_adv": g_adv.mean().item(), "d_loss": d_loss.item(), "psnr": psnr.item(), "adv_w": self.adv_w or 0.0,
                **diag}
