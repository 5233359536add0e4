"""DLF: dual-generative latent fusion (Xue, Jia et al., seed 002), on the shared autoencoder's latent.

Patch embedding. Emb(X) is the frozen autoencoder encoder E (16x16 patches -> the unit-norm latent at
1/16, the "auxiliary encoder" of sec. 3.3 reused as the tokenizer's patch embedding) followed by one
3x3 convolution to the branch width. Then (eq. 1-5):

    y_s = f^s_enc(Emb(X))   semantic: per window of W x W latent positions, T learned 1-D tokens attend
                            to the window's 2-D tokens through ViT blocks (TiTok style); windows make it
                            resolution-free (the latent is padded to whole windows, padding is masked)
    y_d = f^d_enc(Emb(X))   detail: ConvNeXt + (shifted) window attention, then x2 down -> 1/32
    IT blocks               joint self-attention over each window's tokens and detail features (sec. 3.2)
    y^_s = VQ(y_s)          EMA codebook of K low-dimensional entries, ceil(log2 K) bits per token (eq. 2)
    z = h_a(y_d), z^ = VQ_h(z)                  categorical hyper module (GLC), fixed-length indices
    h_s = f^s_dec(y^_s)                         learned 2-D queries attend to the window's tokens (eq. 3)
    mu, sigma, Delta = p(z^, h_s)               the detail prior sees the semantic features (decoded first)
    G = g(t) / Delta                            rate gain g(t) times a spatially learned step map Delta
    y^_d = Q(y_d G - mu G) / G + mu             (eq. 2, scalar quantization with steps 1/G)
    h_d = f^d_dec(y^_d), with IT blocks mixing in the decoded semantic tokens          (eq. 3)
    h^ = f_ada(h_d, h_s);  X^ = D(normalize(h^))                                        (eq. 4-5)

The step map Delta is predicted per position and channel from z^ and h_s, so both sides know it and
the detail branch can spend bits where the semantic tokens miss detail (Fig. 5).

Departures from the paper, for a 2-core CPU: the IT blocks attend over the window's T 1-D tokens and
its W^2 detail positions (not also the W^2 2-D semantic tokens of Fig. 6a); the semantic decoder sees
only y^_s (no IT input), so h_s exists before y_d is decoded and can condition the detail prior, while
the decoder's IT blocks still mix the decoded tokens into the detail features.

Ablations (Table 3): ``detail_branch=False`` keeps only the semantic branch (the adaptor sees zero detail
features; no hyper or detail bits), ``interactive=False`` removes the IT blocks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from gencodec.nn.bottleneck import GaussianConditional
from gencodec.nn.dlf_blocks import DetailBlock, InteractiveTransform, LatentAdaptor, downsample, upsample
from gencodec.nn.ema_quantizer import EMAVectorQuantizer
from gencodec.nn.latent_transforms import hyper_analysis, hyper_synthesis
from gencodec.nn.quantizers import CosineVectorQuantizer
from gencodec.nn.rate_gain import RateGain
from gencodec.nn.window_attention import TransformerBlock, WindowLayout, key_mask, merge, partition

LOG_SIGMA_RANGE = (-6.0, 8.0)
LOG_STEP_RANGE = (-3.0, 3.0)


@dataclass(frozen=True)
class DLFConfig:
    latent_dim: int = 32  # the autoencoder's latent channels
    dim: int = 64  # width of both branches
    heads: int = 4
    mlp_ratio: float = 2.0
    window: int = 16  # semantic window in latent positions (256 px), as in the paper
    detail_window: int = 8  # detail attention window; every other block is shifted by half
    n_tokens: int = 8  # 1-D semantic tokens per window (paper: 32)
    code_dim: int = 16  # semantic codebook entry size
    codebook: int = 1024  # K: 10 bits per token, 80 bits per window
    depth: int = 2  # encoder: (semantic block, detail block, IT block) x depth
    sem_dec_depth: int = 2  # semantic decoder ViT blocks
    dec_depth: int = 2  # decoder: (detail block, IT block) x dec_depth
    m: int = 64  # detail latent channels at 1/32
    hyper_hidden: int = 64
    z_dim: int = 16
    hyper_codebook: int = 256
    prior_hidden: int = 96
    adaptor_hidden: int = 96
    n_rates: int = 4
    detail_branch: bool = True  # False: the tokens-only ablation (seed 002, Table 3), no hyper/detail bits
    interactive: bool = True  # False: the ablation without IT blocks (branches meet only in the adaptor)

    @property
    def token_bits(self) -> int:
        """ceil(log2 K): fixed-length bits per semantic token."""
        return int(self.codebook - 1).bit_length()

    def to_dict(self) -> dict:
        return asdict(self)


def _detail_blocks(cfg: DLFConfig, n: int) -> nn.ModuleList:
    w = cfg.detail_window
    return nn.ModuleList(DetailBlock(cfg.dim, cfg.heads, w, (w // 2) * (i % 2), cfg.mlp_ratio) for i in range(n))


def _it_blocks(cfg: DLFConfig, n: int) -> nn.ModuleList:
    n = n if cfg.interactive and cfg.detail_branch else 0
    return nn.ModuleList(InteractiveTransform(cfg.dim, cfg.heads, cfg.window, cfg.mlp_ratio) for _ in range(n))


class DLFEncoder(nn.Module):
    """Emb -> (f^s_enc, f^d_enc with IT blocks) -> (y_s tokens, y_d), and the hyper analysis h_a."""

    def __init__(self, cfg: DLFConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Conv2d(cfg.latent_dim, cfg.dim, 3, padding=1)
        self.pos = nn.Parameter(0.02 * torch.randn(cfg.window * cfg.window, cfg.dim))
        self.tokens = nn.Parameter(0.02 * torch.randn(cfg.n_tokens, cfg.dim))
        self.sem_blocks = nn.ModuleList(TransformerBlock(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.det_blocks = _detail_blocks(cfg, cfg.depth if cfg.detail_branch else 0)
        self.it_blocks = _it_blocks(cfg, cfg.depth)
        self.sem_out = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Linear(cfg.dim, cfg.code_dim))
        if cfg.detail_branch:
            self.down = downsample(cfg.dim, cfg.m)
            self.h_a = hyper_analysis(cfg.m, cfg.hyper_hidden, cfg.z_dim)

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """latent (B, latent_dim, H, W) -> (y_s (B * N, T, code_dim), y_d (B, m, H/2, W/2) or None)."""
        f = self.embed(latent)
        grid, layout = partition(f, self.cfg.window)
        t = self.cfg.n_tokens
        tokens = self.tokens.expand(grid.shape[0], -1, -1)
        seq = torch.cat([tokens.to(grid.dtype), grid + self.pos.to(grid.dtype)], dim=1)
        mask = key_mask(layout, f.shape[0], t, f.device)
        for i, sem in enumerate(self.sem_blocks):
            seq = sem(seq, mask)
            if self.cfg.detail_branch:
                f = self.det_blocks[i](f)
            if len(self.it_blocks):
                tok, f = self.it_blocks[i](seq[:, :t], f)
                seq = torch.cat([tok.to(seq.dtype), seq[:, t:]], dim=1)
        return self.sem_out(seq[:, :t]), (self.down(f) if self.cfg.detail_branch else None)


class DetailPrior(nn.Module):
    """(mu, sigma, Delta) of y_d from the hyper-latent z^ (GLC h_s) and the semantic features h_s."""

    def __init__(self, cfg: DLFConfig) -> None:
        super().__init__()
        self.hyper = hyper_synthesis(cfg.m, cfg.hyper_hidden, cfg.z_dim)
        self.context = nn.Sequential(nn.Conv2d(cfg.dim, cfg.prior_hidden, 3, stride=2, padding=1), nn.GELU())
        self.fuse = nn.Sequential(
            nn.Conv2d(2 * cfg.m + cfg.prior_hidden, cfg.prior_hidden, 1), nn.GELU(),
            nn.Conv2d(cfg.prior_hidden, cfg.prior_hidden, 3, padding=1), nn.GELU(),
            nn.Conv2d(cfg.prior_hidden, 3 * cfg.m, 1),
        )

    def forward(self, z_hat: torch.Tensor, h_s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hyper = self.hyper(z_hat)
        mu, log_sigma, log_step = self.fuse(torch.cat([hyper, self.context(h_s).to(hyper.dtype)], 1)).chunk(3, 1)
        return mu, log_sigma.clamp(*LOG_SIGMA_RANGE).exp(), log_step.clamp(*LOG_STEP_RANGE).exp()


class DLFDecoder(nn.Module):
    """Everything the decoder runs: f^s_dec, the detail prior, the rate gains, f^d_dec + IT, f_ada."""

    def __init__(self, cfg: DLFConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.sem_in = nn.Linear(cfg.code_dim, cfg.dim)
        self.queries = nn.Parameter(0.02 * torch.randn(cfg.window * cfg.window, cfg.dim))
        self.sem_blocks = nn.ModuleList(
            TransformerBlock(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.sem_dec_depth)
        )
        if cfg.detail_branch:
            self.prior = DetailPrior(cfg)
            self.y_gain = RateGain(cfg.n_rates, cfg.m, torch.linspace(-1.0, 1.0, cfg.n_rates).tolist())
            self.up = upsample(cfg.m, cfg.dim)
        self.det_blocks = _detail_blocks(cfg, cfg.dec_depth if cfg.detail_branch else 0)
        self.it_blocks = _it_blocks(cfg, cfg.dec_depth)
        self.adaptor = LatentAdaptor(cfg.dim, cfg.adaptor_hidden, cfg.latent_dim)

    def semantic(self, y_s_hat: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """y^_s (B * N, T, code_dim) on a latent grid of height x width -> (tokens (B * N, T, dim), h_s)."""
        layout = WindowLayout(height, width, self.cfg.window)
        tokens = self.sem_in(y_s_hat)
        t = tokens.shape[1]
        seq = torch.cat([tokens, self.queries.expand(tokens.shape[0], -1, -1).to(tokens.dtype)], dim=1)
        mask = key_mask(layout, tokens.shape[0] // layout.count, t, tokens.device)
        for blk in self.sem_blocks:
            seq = blk(seq, mask)
        return tokens, merge(seq[:, t:], layout)

    def synthesize(self, tokens: torch.Tensor, h_s: torch.Tensor, y_d_hat: torch.Tensor | None) -> torch.Tensor:
        """h^ = f_ada(f^d_dec(y^_d | tokens), h_s): the latent for the generator (not yet normalized).
        Without the detail branch (y_d_hat None) the adaptor sees zero detail features."""
        if y_d_hat is None:
            return self.adaptor(torch.zeros_like(h_s), h_s)
        f = self.up(y_d_hat)
        for i, det in enumerate(self.det_blocks):
            f = det(f)
            if len(self.it_blocks):
                tokens, f = self.it_blocks[i](tokens, f)
        return self.adaptor(f, h_s)


class DLFNet(nn.Module):
    def __init__(self, cfg: DLFConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = DLFEncoder(cfg)
        self.decoder = DLFDecoder(cfg)
        self.sem_vq = EMAVectorQuantizer(cfg.codebook, cfg.code_dim)
        self.hyper_vq = CosineVectorQuantizer(cfg.hyper_codebook, cfg.z_dim)
        self.gaussian = GaussianConditional()

    @staticmethod
    def as_map(y_s: torch.Tensor) -> torch.Tensor:
        """Tokens (B * N, T, C) as the (B * N, C, 1, T) map the quantizers take."""
        return y_s.transpose(1, 2).unsqueeze(2)

    def semantic_indices(self, y_s: torch.Tensor) -> torch.Tensor:
        """Nearest codebook indices (B * N, T) of the semantic tokens."""
        return self.sem_vq.lookup(self.as_map(y_s))[1][:, 0]

    def semantic_codes(self, idx: torch.Tensor) -> torch.Tensor:
        """Indices (B * N, T) -> y^_s (B * N, T, code_dim)."""
        return self.sem_vq.codebook[idx]

    @torch.no_grad()
    def restart_statistics(self) -> None:
        """After loading shipped weights (codebooks without usage statistics): every code starts alive."""
        self.sem_vq.restart_statistics()
        self.hyper_vq.mark_all_used()

    @torch.no_grad()
    def restart_dead_codes(self, out: dict[str, torch.Tensor]) -> int:
        """Re-seed unused semantic and hyper codebook entries from a training pass's encoder outputs."""
        n = self.sem_vq.restart_dead_codes(self.as_map(out["sem_tokens"]))
        return n + (self.hyper_vq.restart_dead_codes(out["hyper_z"]) if out["hyper_z"] is not None else 0)

    @torch.no_grad()
    def seed_codebook(self, latent: torch.Tensor) -> None:
        """Start every semantic codebook entry at an encoder token (a data-driven init)."""
        self.sem_vq.seed_from(self.as_map(self.encoder(latent)[0]))

    def forward(self, latent: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass at continuous rate indices t (B,): STE VQ and rounding, noisy-y likelihoods."""
        y_s, y_d = self.encoder(latent)
        sq = self.sem_vq(self.as_map(y_s))
        y_s_hat = sq["latent_q"][:, :, 0].transpose(1, 2)
        if y_d is None:
            return self._tokens_only(latent, y_s, y_s_hat, sq)
        z = self.encoder.h_a(y_d)
        hq = self.hyper_vq(z)
        tokens, h_s = self.decoder.semantic(y_s_hat.to(y_d.dtype), latent.shape[2], latent.shape[3])
        mu, sigma, step = self.decoder.prior(hq["latent_q"].to(y_d.dtype), h_s)
        g = self.decoder.y_gain(t) / step.float()
        y_hat_g, y_like = self.gaussian(y_d.float() * g, mu.float() * g, sigma.float() * g)
        l_hat = self.decoder.synthesize(tokens, h_s, (y_hat_g / g).to(y_d.dtype)).float()
        return {
            "latent_hat": l_hat,
            "y_likelihood": y_like,
            "step": step.float(),
            "sem_tokens": y_s.detach(),
            "sem_indices": sq["indices"][:, 0],
            "sem_vq_loss": sq["vq_loss"],
            "hyper_z": z.detach(),
            "hyper_indices": hq["indices"],
            "hyper_vq_loss": hq["vq_loss"],
        }

    def _tokens_only(self, latent: torch.Tensor, y_s: torch.Tensor, y_s_hat: torch.Tensor,
                     sq: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The tokens-only ablation: no detail bits (likelihood 1), no hyper code."""
        tokens, h_s = self.decoder.semantic(y_s_hat.to(latent.dtype), latent.shape[2], latent.shape[3])
        b = latent.shape[0]
        return {
            "latent_hat": self.decoder.synthesize(tokens, h_s, None).float(),
            "y_likelihood": torch.ones(b, 1, 1, 1, device=latent.device),
            "step": torch.ones(1, device=latent.device),
            "sem_tokens": y_s.detach(),
            "sem_indices": sq["indices"][:, 0],
            "sem_vq_loss": sq["vq_loss"],
            "hyper_z": None,
            "hyper_indices": torch.zeros(b, 0, dtype=torch.long, device=latent.device),
            "hyper_vq_loss": torch.zeros((), device=latent.device),
        }
