"""GLC stage I: the VQGAN-style generative autoencoder (shared by glc, dlf, perco).

L = w_rec * Charbonnier(x, x^) + w_per * L_per(x, x^) + L_codebook + lambda_adv * a * L_adv
with L_per the EfficientNet-Lite0 feature distance, a the VQGAN adaptive
weight, and L_adv first the hinge patch-GAN loss (from ``gan_start``) and
later the non-binary MS-ILLM loss whose classes are the real image's
codebook indices (from ``nonbinary_start``; seed 000 eq. 4).

``d_code_prior`` gives the non-binary discriminator the code similarities of its input under the
autoencoder's own (current) encoder and codebook, as in ``hific-gan`` and ``glc-joint``
(``gencodec.nn.discriminator``): without it the 4097-way classifier stays near uniform (L_disc ~7.7,
ln 4097 = 8.3, in ``ae3``) and L_adv carries little signal. The generator's similarities are taken
through a parameter-frozen pass of the encoder, so L_adv moves the decoder, not the encoder.
``init`` warm-starts from shipped weights (model only) or from a run's checkpoint directory (model and
both discriminators; a discriminator's code-prior scale absent from the checkpoint starts fresh).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from gencodec.losses.adversarial import (
    adaptive_weight,
    hinge_d_loss,
    hinge_g_loss,
    nonbinary_d_loss,
    nonbinary_g_loss,
)
from gencodec.losses.charbonnier import charbonnier
from gencodec.metrics.deep_features import DeepFeatureLoss
from gencodec.models.weights import load_state
from gencodec.nn.discriminator import NonBinaryDiscriminator, PatchDiscriminator
from gencodec.nn.precision import cpu_autocast
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder
from gencodec.training.checkpoint import load_module_weights
from gencodec.training.data import CropSampler, list_images
from gencodec.training.loop import lr_at, set_lr


@dataclass
class AutoencoderTrainConfig:
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 128
    batch: int = 8
    lr: float = 3e-4
    d_lr: float = 2e-4
    total_steps: int = 20000
    warmup: int = 500  # linear learning-rate warm-up steps (a warm start from a run can use fewer)
    w_rec: float = 1.0
    w_per: float = 1.0
    w_per_start: float = 0.1  # perceptual weight ramps linearly from this to w_per by gan_start (pixels first)
    lambda_adv: float = 0.8
    adv_w_max: float = 1.0  # cap of the adaptive weight (uncapped: 15x at the GAN start, PSNR 18 -> 10.6 in 50 steps)
    adv_ramp: float = 0.1  # lambda_adv ramps in linearly over this fraction of the run after gan_start
    quantize_prob: float = 0.5  # share of samples decoded from quantized codes (the rest: continuous latents)
    gan_start: float = 0.3
    nonbinary_start: float = 0.6
    adaptive_every: int = 8  # recompute the adaptive GAN weight every N steps (it costs two extra backward passes)
    restart_every: int = 250
    restart_until: float = 0.7
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)
    init: str = ""  # warm start: weights/autoencoder.safetensors or runs/X/checkpoint (fresh optimizers)
    d_code_prior: bool = False  # non-binary discriminator sees its input's code similarities (nn.discriminator)
    freeze_encoder: bool = False  # train D only: keeps the latent space (and latent codecs trained on it) valid


class AutoencoderStage:
    name = "autoencoder"

    def __init__(self, cfg: AutoencoderTrainConfig, model_cfg: AutoencoderConfig | None = None) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.model_cfg = model_cfg or AutoencoderConfig()
        self.model = VQAutoencoder(self.model_cfg)
        self.patch_d = PatchDiscriminator()
        self.nb_d = NonBinaryDiscriminator(self.model_cfg.codebook_size, code_prior=cfg.d_code_prior)
        if cfg.init:
            self._warm_start(Path(cfg.init))
        if cfg.freeze_encoder:
            self.model.encoder.requires_grad_(False)
            self.model.quantizer.requires_grad_(False)
        self.perceptual = DeepFeatureLoss()
        betas = (0.5, 0.9)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(trainable, lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(
            list(self.patch_d.parameters()) + list(self.nb_d.parameters()), lr=cfg.d_lr, betas=betas
        )
        self.sampler = CropSampler(list_images([Path(p) for p in cfg.data]), cfg.crop, cfg.seed)
        self.adv_w: float | None = None

    def _warm_start(self, path: Path) -> None:
        if path.is_dir():
            load_module_weights(path, {"model": self.model})
            load_module_weights(path, {"patch_d": self.patch_d, "nb_d": self.nb_d}, strict=False)
            return
        load_state(self.model, {k: v.float() for k, v in load_file(str(path)).items()})
        self.model.quantizer.mark_all_used()  # shipped weights carry no usage counters

    def _similarity(self, x_hat: torch.Tensor) -> torch.Tensor | None:
        """Code similarities of x_hat for the code-prior discriminator (None without it); gradients
        reach x_hat but not the encoder's or codebook's parameters."""
        if not self.cfg.d_code_prior:
            return None
        params = [p for p in self.model.parameters() if p.requires_grad]
        for p in params:
            p.requires_grad_(False)
        try:
            return self.model.quantizer.logits(self.model.encode(x_hat))
        finally:
            for p in params:
                p.requires_grad_(True)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "patch_d": self.patch_d, "nb_d": self.nb_d}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt, "disc": self.opt_d}

    def sampler_state(self) -> dict:
        return {"rng": self.sampler.get_state(), "adv_w": self.adv_w}

    def set_sampler_state(self, state: dict) -> None:
        self.sampler.set_state(state["rng"])
        self.adv_w = state["adv_w"]

    def config(self) -> dict:
        return {"train": asdict(self.cfg), "model": self.model_cfg.to_dict()}

    def _phase(self, step: int) -> str:
        p = step / self.total_steps
        if p < self.cfg.gan_start:
            return "rec"
        return "patch" if p < self.cfg.nonbinary_start else "nonbinary"

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        set_lr(self.opt, lr_at(step, self.total_steps, c.lr, warmup=c.warmup))
        set_lr(self.opt_d, lr_at(step, self.total_steps, c.d_lr, warmup=c.warmup))
        phase = self._phase(step)
        x, _ = self.sampler.batch(c.batch)
        self.model.train()
        with cpu_autocast(c.bf16):
            out = self.model(x, self.cfg.quantize_prob)
            x_hat = out["x_hat"].float()
            rec = charbonnier(x_hat, x)
            per = self.perceptual(x_hat, x)
        ramp = min(1.0, step / max(1.0, c.gan_start * self.total_steps))
        w_per = c.w_per_start + (c.w_per - c.w_per_start) * ramp
        nll = c.w_rec * rec + w_per * per
        loss = nll + out["vq_loss"]
        metrics = {"rec": rec.item(), "per": per.item(), "vq": out["vq_loss"].item()}
        codes = out["indices"].detach()
        if phase != "rec":
            with cpu_autocast(c.bf16):
                if phase == "patch":
                    g_adv = hinge_g_loss(self.patch_d(x_hat))
                else:
                    with torch.no_grad():
                        sim_real = self.model.quantizer.logits(out["latent"]) if c.d_code_prior else None
                    sim_fake = self._similarity(x_hat)
                    g_adv = nonbinary_g_loss(self.nb_d(x_hat, sim_fake), codes)
            if self.adv_w is None or step % c.adaptive_every == 0:
                last = self.model.decoder.net[-2].weight
                self.adv_w = float(adaptive_weight(nll, g_adv.float(), last, max_weight=c.adv_w_max))
            adv_ramp = min(1.0, (step / self.total_steps - c.gan_start) / max(1e-9, c.adv_ramp))
            loss = loss + c.lambda_adv * adv_ramp * self.adv_w * g_adv.float()
            metrics.update({"g_adv": g_adv.item(), "adv_w": self.adv_w})
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if phase != "rec":
            with cpu_autocast(c.bf16):
                if phase == "patch":
                    d_loss = hinge_d_loss(self.patch_d(x), self.patch_d(x_hat.detach()))
                else:
                    sim_fake = None if sim_fake is None else sim_fake.detach()
                    d_loss = nonbinary_d_loss(self.nb_d(x, sim_real), self.nb_d(x_hat.detach(), sim_fake), codes)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.float().backward()
            self.opt_d.step()
            metrics["d_loss"] = d_loss.item()
        if step % c.restart_every == 0 and step < c.restart_until * self.total_steps and not c.freeze_encoder:
            metrics["restarted"] = float(self.model.quantizer.restart_dead_codes(out["latent"]))
        with torch.no_grad():
            metrics["psnr"] = (-10 * torch.log10((x_hat - x).square().mean().clamp_min(1e-10))).item()
            metrics["codes_used"] = float((self.model.quantizer.usage > 1e-3).sum().item())
        metrics["loss"] = loss.item()
        return metrics
