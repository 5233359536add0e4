"""HiFiC stage 2 (seed 000 sec. III.A, after MS-ILLM): fine-tune the decoder with the adversarial term.

Encoder, hyperprior and context model are frozen (the rate no longer changes);
only the synthesis g_s trains, on

    D = alpha * Charbonnier + beta * L_per + gamma * L_style + delta * L_adv           (eq. 3)

with the non-binary discriminator of eq. 4: at each x16 position it
classifies an image into the codebook index u(x) of the *real* image under
the frozen VQ autoencoder, or "fake":

    L_disc = CE(D(x), u(x)) + CE(D(x_hat), fake),    L_adv = CE(D(x_hat), u(x)).

Each sample draws its own rate index t, so the decoder is tuned for the whole
rate range. Crops must be multiples of 16 (the discriminator's grid). With
``d_warmup`` the first steps train only the discriminator, so that L_adv carries
a signal once the decoder starts (a fresh 4097-way classifier otherwise stays
near uniform, L_adv ~ ln 4097, for the few hundred steps this CPU affords).
``d_code_prior`` gives the discriminator the frozen VQ encoder's code similarities of
its input (``gencodec.nn.discriminator``): the real codes are its top classes from
the first step and L_adv = CE(D(x_hat), u(x)) pulls x_hat's codes towards x's.

ConHa (seed 004, eq. 4): with ``w_mode`` ``conha`` each image's perceptual, style
and adversarial terms are scaled by w = M_P(x) (``gencodec.training.hallucination``),
with ``fixed`` by one constant w (ConHa-fixed); ``none`` is plain HiFiC.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from gencodec.losses.adversarial import nonbinary_d_loss, nonbinary_g_loss
from gencodec.losses.semantic_ensemble import EnsembleWeights, SemanticEnsemble
from gencodec.metrics.backbone import default_backbone
from gencodec.models.weights import load_state, read_manifest
from gencodec.nn.discriminator import NonBinaryDiscriminator
from gencodec.nn.hific import HiFiC, HiFiCConfig
from gencodec.nn.precision import cpu_autocast
from gencodec.training.checkpoint import load_module_weights
from gencodec.training.hallucination import build_weight, structure_sampler
from gencodec.training.loop import lr_at, set_lr
from gencodec.training.stages.glc_latent import load_autoencoder


@dataclass
class HiFiCGANTrainConfig:
    init: str = "runs/hific1/checkpoint"  # a hific-rd/-gan checkpoint dir, or shipped weights/hific.safetensors
    autoencoder: str = "weights/autoencoder.safetensors"  # labels the discriminator's classes
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 128
    batch: int = 8
    lr: float = 5e-5
    d_lr: float = 1e-4
    total_steps: int = 10000
    alpha: float = 10.0
    beta: float = 1.0
    gamma: float = 1.5e-3
    delta: float = 0.008  # the seed's value, not yet tuned here
    d_code_prior: bool = False  # the discriminator adds the VQ encoder's code similarities (nn.discriminator)
    d_warmup: int = 0  # first steps train only the discriminator (the decoder is not updated)
    w_mode: str = "none"  # none (hific) | conha (w = M_P(x)) | fixed (conha-fixed)
    preference: str = "weights"  # folder whose manifest holds M_P (w_mode conha/fixed)
    structure: float = 0.0  # fraction of crops with rendered text / line art / faces (ConHa's w then acts)
    temperature: float = 100.0  # w = sigmoid(temperature * logit), seed 004 appendix C
    w_fixed: float = -1.0  # w_mode fixed: the constant; < 0 = mean w over 512 training crops
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)


def load_hific(path: str | Path) -> tuple[HiFiC, dict]:
    """A trained HiFiC and its train config: from a run's checkpoint dir or shipped ``hific.safetensors``."""
    path = Path(path)
    if path.suffix == ".safetensors":
        entries = [e for e in read_manifest(path.parent).values() if e.file == path.name]
        if not entries:
            raise ValueError(f"{path} is not listed in {path.parent / 'manifest.json'}")
        model = HiFiC(HiFiCConfig.from_dict(entries[0].config["model"]))
        tensors = load_file(str(path))
        if "base" in entries[0].config:  # conha / conha-fixed: decoder only, the rest is the base hific's
            base = read_manifest(path.parent)[entries[0].config["base"]["id"]]
            tensors = {**load_file(str(path.parent / base.file)), **tensors}
        load_state(model, {k: v.float() for k, v in tensors.items() if k != "z_prior.table"})
        return model, entries[0].config["train"]
    state = json.loads((path / "state.json").read_text())
    model = HiFiC(HiFiCConfig.from_dict(state["config"]["model"]))
    load_module_weights(path, {"model": model})
    return model, state["config"]["train"]


def _detach(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach()


class HiFiCGANStage:
    name = "hific-gan"

    def __init__(self, cfg: HiFiCGANTrainConfig, backbone: torch.nn.Module | None = None) -> None:
        if cfg.crop % 16:
            raise ValueError("hific-gan crops must be multiples of 16")
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.model, self.rd_config = load_hific(cfg.init)
        self.model_cfg = self.model.cfg
        self.model.requires_grad_(False)
        self.model.g_s.requires_grad_(True)
        self.ae = load_autoencoder(cfg.autoencoder)
        self.disc = NonBinaryDiscriminator(self.ae.cfg.codebook_size, code_prior=cfg.d_code_prior)
        self.ae.requires_grad_(False)
        self.loss = SemanticEnsemble(backbone or default_backbone(), EnsembleWeights(cfg.alpha, cfg.beta, cfg.gamma))
        self.opt = torch.optim.Adam(self.model.g_s.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr, betas=(0.5, 0.9))
        self.sampler = structure_sampler(cfg.data, cfg.crop, cfg.seed, cfg.structure)
        self.hallucination, self.w_fixed = build_weight(cfg.w_mode, cfg.preference, cfg.temperature,
                                                        cfg.w_fixed, self.sampler)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "nb_d": self.disc}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"main": self.opt, "disc": self.opt_d}

    def sampler_state(self) -> dict:
        return self.sampler.get_state()

    def set_sampler_state(self, state: dict) -> None:
        self.sampler.set_state(state)

    def config(self) -> dict:
        return {"train": asdict(self.cfg), "model": self.model_cfg.to_dict(), "rd_train": self.rd_config,
                "autoencoder": self.ae.cfg.to_dict(), "w_fixed": self.w_fixed}

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        set_lr(self.opt, lr_at(max(step - c.d_warmup, 0), self.total_steps - c.d_warmup, c.lr, warmup=100))
        set_lr(self.opt_d, lr_at(step, self.total_steps, c.d_lr, warmup=100))
        x, _ = self.sampler.batch(c.batch)
        t = torch.rand(x.shape[0]) * (self.model_cfg.n_rates - 1)
        with torch.no_grad(), cpu_autocast(c.bf16):
            y_hat = self.model.quantize(x, t, noise=False)["y_hat"]
            latent = self.ae.encode(x)
            _, codes = self.ae.quantize(latent)
            sim_real = self.ae.quantizer.logits(latent) if c.d_code_prior else None
        with torch.set_grad_enabled(step >= c.d_warmup), cpu_autocast(c.bf16):
            x_hat = self.model.synthesize(y_hat).float()
            w = self.hallucination(x)
            d = self.loss(x_hat, x, w)
            sim_fake = self.ae.quantizer.logits(self.ae.encode(x_hat)) if c.d_code_prior else None
            g_adv_each = nonbinary_g_loss(self.disc(x_hat, sim_fake), codes, per_sample=True)
        g_adv = g_adv_each.mean()
        loss = d["distortion"] + c.delta * (g_adv if w is None else (w * g_adv_each).mean())
        if step >= c.d_warmup:
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.g_s.parameters(), 1.0)
            self.opt.step()
        with cpu_autocast(c.bf16):
            d_loss = nonbinary_d_loss(self.disc(x, sim_real), self.disc(x_hat.detach(), _detach(sim_fake)), codes)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.float().backward()
        self.opt_d.step()
        mse = (x_hat.detach().clamp(0, 1) - x).square().mean(dim=(1, 2, 3))
        return {"loss": loss.item(), "rec": d["rec"].item(), "per": d["per"].item(), "style": d["style"].item(),
                "g_adv": g_adv.item(), "d_loss": d_loss.item(),
                "w": 1.0 if w is None else w.mean().item(),
                "psnr": (-10 * torch.log10(mse.clamp_min(1e-10))).mean().item()}
