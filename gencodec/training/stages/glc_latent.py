"""GLC stage II: train the latent codec against a frozen autoencoder.

L = bpp(y) + lambda(t) * D_code(l, l_hat) + L_hyper_vq, with t drawn over the
continuous rate range each step, lambda log-linear in t, a high-rate start
(lambda x warm_factor early in the run), and D_code the code-prediction loss.
The hyper-latent costs a fixed ceil(log2 K_h) bits per position (reported,
not optimized).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from gencodec.losses.code_prediction import code_prediction_loss
from gencodec.nn.glc import GLCConfig, GLCLatentCodec
from gencodec.nn.precision import cpu_autocast
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder
from gencodec.training.checkpoint import load_module_weights
from gencodec.training.data import list_images
from gencodec.training.latent_cache import LatentCache
from gencodec.training.loop import log_linear_at, lr_at, set_lr
from gencodec.training.warm_start import load_stage_start


@dataclass
class GLCLatentTrainConfig:
    autoencoder: str = "runs/ae1/checkpoint"
    data: list[str] = field(default_factory=lambda: ["../shared/data/train"])
    crop: int = 16  # latent positions (256 pixels)
    batch: int = 16
    lr: float = 3e-4
    total_steps: int = 6000
    lambdas: tuple[float, ...] = (1e-3, 4e-3, 0.015, 0.05, 0.2)  # the shipped glc's recipe
    alpha: float = 0.5
    warm_factor: float = 4.0
    warm_until: float = 0.2
    warm_end: float = 0.35
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast only on CPUs with native bf16 (nn.precision)
    latent_store: str = ""  # folder caching encoder latents for later runs on the same encoder ("" = off)
    init: str = ""  # start the codec from a stage-II/III run's checkpoint or a shipped glc.safetensors ("" = random)


def load_autoencoder(path: str | Path) -> VQAutoencoder:
    """The frozen stage-I autoencoder: a training checkpoint directory or a shipped ``.safetensors``
    file (its config is read from the weights manifest next to it)."""
    import json

    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        from gencodec.models.glc import build_autoencoder
        from gencodec.models.weights import read_manifest

        entries = [e for e in read_manifest(path.parent).values() if e.file == path.name]
        if not entries:
            raise ValueError(f"{path} is not listed in {path.parent / 'manifest.json'}")
        return build_autoencoder(entries[0], load_file(str(path)))
    state = json.loads((path / "state.json").read_text())
    m = state["config"]["model"]
    cfg = AutoencoderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in m.items()})
    ae = VQAutoencoder(cfg)
    load_module_weights(path, {"model": ae})
    return ae.eval().requires_grad_(False)


def build_latent_codec(model_config: dict) -> GLCLatentCodec:
    """The latent codec from a stored config dict (a run's state.json or the weights manifest)."""
    return GLCLatentCodec(GLCConfig(**model_config))


class GLCLatentStage:
    name = "glc-latent"

    def __init__(self, cfg: GLCLatentTrainConfig, model_cfg: GLCConfig | None = None) -> None:
        self.cfg = cfg
        self.total_steps = cfg.total_steps
        torch.manual_seed(cfg.seed)
        self.ae = load_autoencoder(cfg.autoencoder)
        if cfg.init:  # e.g. adapting a trained codec to a retrained encoder: its config comes with it
            self.model, _ = load_stage_start(cfg.init, build_latent_codec, None)
            self.model_cfg = self.model.cfg
        else:
            self.model_cfg = model_cfg or GLCConfig(latent_dim=self.ae.cfg.latent_dim)
            self.model = GLCLatentCodec(self.model_cfg)
        if self.model_cfg.latent_dim != self.ae.cfg.latent_dim:
            raise ValueError(f"latent codec has latent_dim {self.model_cfg.latent_dim}, "
                             f"the autoencoder {self.ae.cfg.latent_dim}")
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.cache = LatentCache(self.ae, list_images([Path(p) for p in cfg.data]), cfg.crop, cfg.seed,
                                  store=Path(cfg.latent_store) if cfg.latent_store else None)
        self.log_lambdas = torch.tensor([math.log(v) for v in cfg.lambdas])
        self.hyper_bits = math.ceil(math.log2(self.model_cfg.hyper_codebook))

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

    def warm(self, step: int) -> float:
        p, c = step / self.total_steps, self.cfg
        if p < c.warm_until:
            return c.warm_factor
        if p < c.warm_end:
            return math.exp(math.log(c.warm_factor) * (1 - (p - c.warm_until) / (c.warm_end - c.warm_until)))
        return 1.0

    def lam(self, t: torch.Tensor) -> torch.Tensor:
        return log_linear_at(t, self.log_lambdas)

    def train_step(self, step: int) -> dict[str, float]:
        c = self.cfg
        set_lr(self.opt, lr_at(step, self.total_steps, c.lr))
        latent, indices = self.cache.batch(c.batch)
        t = torch.rand(latent.shape[0]) * (self.model_cfg.n_rates - 1)
        self.model.train()
        with cpu_autocast(c.bf16):
            out = self.model(latent, t)
        f = self.ae.cfg.downsample
        npix = latent.shape[2] * latent.shape[3] * f * f
        z_positions = out["hyper_indices"][0].numel()
        bpp_y = -torch.log2(out["y_likelihood"]).sum(dim=(1, 2, 3)) / npix
        d_code, diag = code_prediction_loss(latent, out["latent_hat"], indices, self.ae.quantizer, c.alpha)
        loss = (bpp_y + self.lam(t) * self.warm(step) * d_code).mean() + out["hyper_vq_loss"]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if step % 200 == 0:
            self.model.hyper_vq.restart_dead_codes(self.model.h_a(self.model.g_a(latent)).detach())
        n = self.model_cfg.n_rates
        lo, hi = t < 1, t > n - 2  # the lowest and highest rate segments, to see the range being learned
        return {
            "loss": loss.item(), "bpp_y": bpp_y.mean().item(), "bpp_z": z_positions * self.hyper_bits / npix,
            "bpp_lo": bpp_y[lo].mean().item() if lo.any() else float("nan"),
            "bpp_hi": bpp_y[hi].mean().item() if hi.any() else float("nan"),
            "d_code": d_code.mean().item(), **diag,
        }
