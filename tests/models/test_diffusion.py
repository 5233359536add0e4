"""PerCo's building blocks: v-parameterization algebra, deterministic DDIM, EMA codebook, denoiser shapes."""

from __future__ import annotations

import torch

from gencodec.nn.denoiser import DenoiserConfig, LatentDenoiser
from gencodec.nn.diffusion import add_noise, alpha_sigma, ddim_sample, guided, x0_from_v
from gencodec.nn.ema_quantizer import EMAVectorQuantizer


def test_v_parameterization_inverts_exactly() -> None:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64)
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    s = torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=torch.float64)
    x_s, v = add_noise(x0, s, eps)
    assert torch.allclose(x0_from_v(x_s, s, v), x0, atol=1e-12)
    a, b = alpha_sigma(s)
    assert torch.allclose(a.square() + b.square(), torch.ones(4, dtype=torch.float64))
    assert b[0] < 0.01 and a[-1] < 0.01  # nearly clean at s=0, nearly pure noise at s=1


def test_ddim_with_an_oracle_lands_on_the_data_and_is_seeded() -> None:
    target = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def oracle(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:  # the exact v for a single-point data set
        a, b = alpha_sigma(s)
        eps = (x - a * target) / b
        return a * eps - b * target

    calls = []
    out = ddim_sample(oracle, target.shape, 4, torch.Generator().manual_seed(7), lambda i, n: calls.append((i, n)),
                      dtype=torch.float64)
    assert torch.allclose(out, target, atol=1e-9)  # the last step returns the clean estimate
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    again = ddim_sample(oracle, target.shape, 4, torch.Generator().manual_seed(7), dtype=torch.float64)
    other = ddim_sample(oracle, target.shape, 4, torch.Generator().manual_seed(8), dtype=torch.float64)
    assert torch.equal(out, again) and not torch.equal(out, other)


def test_guidance_extrapolates_from_the_null_branch() -> None:
    def text(x, s):
        return torch.full_like(x, 2.0)

    def null(x, s):
        return torch.full_like(x, 1.0)

    x, s = torch.zeros(1, 1, 2, 2), torch.zeros(1)
    assert torch.equal(guided(text, null, 3.0)(x, s), torch.full_like(x, 4.0))
    assert guided(text, null, 1.0) is text and guided(text, None, 3.0) is text


def test_ema_codebook_moves_to_the_data_clusters() -> None:
    centers = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    q = EMAVectorQuantizer(3, 2, decay=0.9)
    q.codebook.copy_(torch.tensor([[1.0, 0.1], [-1.0, 0.1], [0.1, 1.0]]))
    q.ema_sum.copy_(q.codebook)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        pts = centers[torch.randint(0, 3, (64,), generator=g)] + 0.1 * torch.randn(64, 2, generator=g)
        out = q(pts.t().reshape(1, 2, 8, 8))
    assert torch.allclose(q.codebook, centers, atol=0.1)
    assert out["vq_loss"].item() < 0.1
    q.eval()
    before = q.codebook.clone()
    _, idx = q.lookup(centers.t().reshape(1, 2, 1, 3))
    q(centers.t().reshape(1, 2, 1, 3))
    assert idx.flatten().tolist() == [0, 1, 2] and torch.equal(q.codebook, before)  # no update in eval mode


def test_denoiser_missing_caption_selects_the_null_embedding() -> None:
    torch.manual_seed(0)
    cfg = DenoiserConfig(latent_dim=4, cond_dim=3, channels=(8, 8), blocks=1, emb_dim=16, text_dim=6, n_rates=2)
    net = LatentDenoiser(cfg).eval()
    for p in net.parameters():  # break the zero init so the text path matters
        p.data.add_(0.05 * torch.randn_like(p))
    x, cond = torch.randn(2, 4, 6, 10), torch.randn(2, 3, 6, 10)
    s, rate = torch.tensor([0.2, 0.9]), torch.tensor([0, 1])
    text = torch.randn(2, 6)
    v = net(x, s, cond, text, rate)
    assert v.shape == x.shape
    nan_row = text.clone()
    nan_row[1] = float("nan")  # a missing caption selects the learned null embedding
    mixed = net(x, s, cond, nan_row, rate)
    null = net(x, s, cond, None, rate)
    assert torch.allclose(mixed[0], v[0]) and torch.allclose(mixed[1], null[1]) and not torch.allclose(v[1], null[1])


def test_file_name_captions() -> None:
    from pathlib import Path

    from gencodec.training.captions import caption_for

    assert caption_for(Path("n01443537_goldfish.JPEG")) == "a photo of a goldfish"
    assert caption_for(Path("x/n02669723_academic_gown.JPEG")) == "a photo of an academic gown"
    assert caption_for(Path("abbey_sun_asztnlqhlrvirneh.jpg")) == "a photo of an abbey"
    assert caption_for(Path("train_232038.jpg")) is None and caption_for(Path("kodim01.png")) is None
