"""ELIC spatial-channel context model (He et al., CVPR 2022; seed 000 sec. II.A).

y is split along channels into uneven groups (e.g. 16/16/32/64/64, small
groups first) and each group is coded in two checkerboard passes (He et al.
2021): the anchors (positions with (i + j) even), then the non-anchors. The
Gaussian prior of group k at pass p is

    (mu, log_sigma) = hyper_k + Delta_k(hyper, g_ch^k(y_hat_<k), g_sp^k(anchors_k))

where hyper = h_s(z_hat) has 2M channels (means then log-scales, the
foundation hyperprior's output), hyper_k is the slice of group k, g_ch^k is
the channel context over the already decoded groups (absent for k = 0),
g_sp^k a 5x5 convolution over the group's decoded anchors (zero input for
the anchor pass: non-anchor positions are always zero, so no mask is needed)
and Delta_k a 1x1 parameter-aggregation network whose last layer starts at
zero, so an untrained context reproduces the plain hyperprior.

Training (:meth:`ElicContext.forward`) runs the same group/pass schedule as
the coder with straight-through rounding around each pass's mean, so the
contexts see the values the decoder will have. Inference uses
:meth:`ElicContext.params` on a float64 copy (``gencodec.models.context_latent``).
"""

from __future__ import annotations

import torch
from torch import nn

from gencodec.nn.bottleneck import GaussianConditional, ste_round

LOG_SIGMA_RANGE = (-6.0, 8.0)


def checkerboard(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """Anchor mask (height, width), True where (i + j) is even; anchors are coded first."""
    i = torch.arange(height, device=device).unsqueeze(1)
    j = torch.arange(width, device=device).unsqueeze(0)
    return (i + j) % 2 == 0


def group_bounds(groups: tuple[int, ...]) -> list[tuple[int, int]]:
    """(first, end) channel of each group."""
    out, lo = [], 0
    for g in groups:
        out.append((lo, lo + g))
        lo += g
    return out


def _channel_context(in_ch: int, hidden: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden, 3, padding=1), nn.LeakyReLU(inplace=True), nn.Conv2d(hidden, out_ch, 3, padding=1)
    )


def _aggregation(in_ch: int, hidden: int, out_ch: int) -> nn.Sequential:
    last = nn.Conv2d(hidden, out_ch, 1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden, 1), nn.LeakyReLU(inplace=True), nn.Conv2d(hidden, hidden, 1),
        nn.LeakyReLU(inplace=True), last,
    )


class ElicContext(nn.Module):
    """Per-group channel context, checkerboard spatial context and parameter aggregation."""

    def __init__(self, m: int, groups: tuple[int, ...], ctx_hidden: int = 96, param_hidden: int = 128) -> None:
        super().__init__()
        if sum(groups) != m or min(groups) < 1:
            raise ValueError(f"channel groups {groups} must be positive and sum to M={m}")
        self.m = m
        self.groups = tuple(groups)
        self.bounds = group_bounds(self.groups)
        self.channel = nn.ModuleList(
            [nn.Identity()] + [_channel_context(lo, ctx_hidden, 2 * (hi - lo)) for lo, hi in self.bounds[1:]]
        )
        self.spatial = nn.ModuleList([nn.Conv2d(g, 2 * g, 5, padding=2) for g in self.groups])
        self.aggregate = nn.ModuleList(
            [_aggregation(2 * m + (4 * g if k else 2 * g), param_hidden, 2 * g) for k, g in enumerate(self.groups)]
        )

    def channel_context(self, k: int, prev: torch.Tensor | None) -> torch.Tensor | None:
        """g_ch^k over the decoded groups < k (B, first_k, h, w); None for group 0."""
        return self.channel[k](prev) if k else None

    def params(
        self, k: int, hyper: torch.Tensor, ch: torch.Tensor | None, anchors: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) of group k, unscaled, at every position, from its channel context ``ch``.

        hyper: h_s output (B, 2M, h, w); anchors: group k's decoded values with zeros at non-anchors,
        None for the anchor pass. The caller uses the anchor positions of the first call and the
        non-anchor positions of the second.
        """
        lo, hi = self.bounds[k]
        g = hi - lo
        b, _, h, w = hyper.shape
        sp = self.spatial[k](anchors) if anchors is not None else hyper.new_zeros(b, 2 * g, h, w)
        feats = [hyper, sp] if ch is None else [hyper, ch, sp]
        delta_mu, delta_ls = self.aggregate[k](torch.cat(feats, dim=1)).chunk(2, dim=1)
        mu = hyper[:, lo:hi] + delta_mu
        log_sigma = (hyper[:, self.m + lo : self.m + hi] + delta_ls).clamp(*LOG_SIGMA_RANGE)
        return mu, log_sigma.exp()

    def prior(
        self, k: int, hyper: torch.Tensor, prev: torch.Tensor | None, anchors: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`params` with the channel context computed from prev (the decoded groups < k)."""
        return self.params(k, hyper, self.channel_context(k, prev), anchors)

    def forward(
        self, y: torch.Tensor, hyper: torch.Tensor, gain: torch.Tensor, noise: bool = True
    ) -> dict[str, torch.Tensor]:
        """Training pass over all groups and both passes.

        y: (B, M, h, w) unscaled latent; gain: (B, M, 1, 1) rate gains. Returns y_hat (unscaled,
        straight-through rounded around the means), the likelihoods of the noisy scaled y (rate R)
        and of the rounded one (the real rate R* of seed eq. 2).
        """
        anchor = checkerboard(y.shape[-2], y.shape[-1], y.device)
        gauss = GaussianConditional()
        y_hats, likes, likes_q = [], [], []
        for k, (lo, hi) in enumerate(self.bounds):
            prev = torch.cat(y_hats, dim=1) if k else None
            yk, gk = y[:, lo:hi].float(), gain[:, lo:hi]
            ch = self.channel_context(k, prev)
            mu_a, sigma_a = self.params(k, hyper, ch, None)
            y_hat_a = (ste_round((yk - mu_a.float()) * gk) / gk + mu_a.float()) * anchor
            mu_n, sigma_n = self.params(k, hyper, ch, y_hat_a.to(hyper.dtype))
            mu = torch.where(anchor, mu_a.float(), mu_n.float())
            sigma = torch.where(anchor, sigma_a.float(), sigma_n.float())
            y_hat_s, like = gauss(yk * gk, mu * gk, sigma * gk, noise=noise)
            _, like_q = gauss(yk * gk, mu * gk, sigma * gk, noise=False)
            y_hats.append((y_hat_s / gk).to(y.dtype))
            likes.append(like)
            likes_q.append(like_q)
        return {"y_hat": torch.cat(y_hats, dim=1), "likelihood": torch.cat(likes, dim=1),
                "likelihood_q": torch.cat(likes_q, dim=1)}
