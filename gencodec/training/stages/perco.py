"""PerCo training: hyper encoders, EMA codebooks and the latent denoiser against a frozen autoencoder.

L = E_{s, eps} || v_theta(x_s, s, U_r(VQ_r(H_r(l))), text, r) - v ||^2 + beta ||h - sg(e)||^2
with x_0 = sqrt(C) l, v = a_s eps - b_s x_0 (seed 003, eq. 3 with v-prediction), the rate point r
cycling over the steps, and the caption replaced by the learned null embedding for
``text_dropout`` of the samples (classifier-free guidance at decode). Latents are
encoded once (``LatentCache``); captions come from file names (``captions.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from gencodec.models.weights import load_state
from gencodec.nn.denoiser import DenoiserConfig
from gencodec.nn.diffusion import add_noise
from gencodec.nn.perco import PerCoConfig, PerCoNet
from gencodec.nn.precision import cpu_autocast
from gencodec.training.captions import caption_for
from gencodec.training.data import list_images
from gencodec.training.latent_cache import LatentCache
from gencodec.training.loop import lr_at, set_lr
from gencodec.training.stages.glc_latent import load_autoencoder


@dataclass
class PerCoTrainConfig:
    autoencoder: str = "weights/autoencoder.safetensors"
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 16  # latent positions (256 pixels); a multiple of the coarsest code stride
    batch: int = 16
    lr: float = 2e-4
    total_steps: int = 20000
    text_dropout: float = 0.1
    restart_every: int = 200
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)
    init: str = ""  # warm start from shipped weights (weights/perco.safetensors); fresh optimizer
    latent_store: str = ""  # folder caching encoder latents for later runs on the same encoder ("" = off)


class PerCoStage:
    name = "perco"

    def __init__(self, cfg: PerCoTrainConfig, model_cfg: PerCoConfig | None = None,
                 text_encoder=None) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.ae = load_autoencoder(cfg.autoencoder)
        self.model_cfg = model_cfg or PerCoConfig(latent_dim=self.ae.cfg.latent_dim,
                                                  denoiser=DenoiserConfig(latent_dim=self.ae.cfg.latent_dim))
        if self.model_cfg.latent_dim != self.ae.cfg.latent_dim:
            raise ValueError("the PerCo config does not match the autoencoder's latent size")
        if cfg.crop % self.model_cfg.multiple:
            raise ValueError(f"crop must be a multiple of {self.model_cfg.multiple} latent positions")
        self.model = PerCoNet(self.model_cfg)
        if cfg.init:
            load_state(self.model, {k: v.float() for k, v in load_file(cfg.init).items()})
            for quantizer in self.model.quantizers:  # EMA statistics are not shipped: restart them at the codes
                quantizer.restart_statistics()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.cache = LatentCache(self.ae, list_images([Path(p) for p in cfg.data]), cfg.crop, cfg.seed,
                                  store=Path(cfg.latent_store) if cfg.latent_store else None)
        self.text = self._caption_embeddings(text_encoder)
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)

    def _caption_embeddings(self, text_encoder) -> torch.Tensor:
        """(N, text_dim) per cached image; NaN rows for images without a caption."""
        if text_encoder is None:
            from gencodec.nn.text_encoder import embed_captions as text_encoder
        caps = [caption_for(f) for f in self.cache.files]
        out = torch.full((len(caps), self.model_cfg.denoiser.text_dim), float("nan"))
        have = [i for i, c in enumerate(caps) if c is not None]
        if have:
            out[have] = text_encoder([caps[i] for i in have]).float()
        return out

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt}

    def sampler_state(self) -> dict:
        return {"cache": self.cache.get_state(), "noise": self.noise.get_state().tolist()}

    def set_sampler_state(self, state: dict) -> None:
        self.cache.set_state(state["cache"])
        self.noise.set_state(torch.tensor(state["noise"], dtype=torch.uint8))

    def config(self) -> dict:
        return {"train": asdict(self.cfg), "model": self.model_cfg.to_dict(), "autoencoder": self.ae.cfg.to_dict()}

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        set_lr(self.opt, lr_at(step, self.total_steps, c.lr))
        latent, _ = self.cache.batch(c.batch)
        b = latent.shape[0]
        r = step % len(self.model_cfg.rate_points)
        text = self.text[self.cache.last_picks].clone()
        drop = torch.rand(b, generator=self.noise) < c.text_dropout
        text[drop] = float("nan")
        s = torch.rand(b, generator=self.noise)
        noise = torch.randn(latent.shape, generator=self.noise)
        x_s, v_target = add_noise(latent * math.sqrt(latent.shape[1]), s, noise)
        self.model.train()
        if step <= 1 and not c.init:  # data-driven codebooks: every entry starts at a hyper-encoder output
            with torch.no_grad():
                for k, quantizer in enumerate(self.model.quantizers):
                    quantizer.seed_from(self.model.hyper[k](latent), self.noise)
        with cpu_autocast(c.bf16):
            q = self.model.local_code(latent, r)
            cond = self.model.condition(q["latent_q"], r)
            v = self.model.denoiser(x_s, s, cond, text, torch.full((b,), r))
        v_mse = F.mse_loss(v.float(), v_target)
        loss = v_mse + q["vq_loss"]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        metrics = {"loss": loss.item(), f"v_mse_r{r}": v_mse.item(), "commit": q["vq_loss"].item()}
        if step % c.restart_every == 0:
            with torch.no_grad():
                metrics["restarted"] = float(sum(quantizer.restart_dead_codes(self.model.hyper[k](latent))
                                                 for k, quantizer in enumerate(self.model.quantizers)))
        metrics[f"codes_used_r{r}"] = float((self.model.quantizers[r].ema_count > 1e-2).sum())
        return metrics
