"""The dlf codec end to end on tiny random-init models built in memory (no shipped weights)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gencodec.container import Header, model_code, pack, unpack
from gencodec.container.errors import BitstreamError, MalformedStream, ParameterMismatch, TruncatedStream
from gencodec.models.dlf import DLFCodec, build
from gencodec.models.weights import WeightsEntry
from gencodec.nn.dlf import DLFConfig, DLFNet
from gencodec.nn.vqgan import AutoencoderConfig, VQAutoencoder

TINY_AE = AutoencoderConfig(channels=(8, 8, 16, 16), latent_dim=8, codebook_size=32, decoder_depth=(1, 1, 1, 1))
# window 3 does not divide the 8x8 latent of a 128x128 padded image: partial windows are exercised;
# K = 12 is not a power of two, so a 4-bit index can point outside the codebook.
TINY_DLF = DLFConfig(latent_dim=8, dim=16, heads=2, window=3, detail_window=2, n_tokens=3, code_dim=4, codebook=12,
                     depth=1, sem_dec_depth=1, dec_depth=1, m=8, hyper_hidden=8, z_dim=4, hyper_codebook=8,
                     prior_hidden=16, adaptor_hidden=16, n_rates=3)
AE_SHA = "ab" * 32


def make_codec(cfg: DLFConfig = TINY_DLF, seed: int = 0) -> DLFCodec:
    torch.manual_seed(seed)
    ae = VQAutoencoder(TINY_AE)
    net = DLFNet(cfg)
    if cfg.detail_branch:
        with torch.no_grad():  # finer steps than at init, so the detail branch codes something
            net.decoder.y_gain.log_gain.add_(torch.linspace(1.0, 3.0, cfg.n_rates).unsqueeze(1))
    ae_entry = WeightsEntry("autoencoder", "autoencoder.safetensors", AE_SHA, {"model": TINY_AE.to_dict()}, "test")
    entry = WeightsEntry("dlf", "dlf.safetensors", "cd" * 32,
                         {"model": cfg.to_dict(), "autoencoder_weights": "autoencoder", "autoencoder_sha256": AE_SHA},
                         "test")
    tensors = {f"codec.{k}": v for k, v in net.state_dict().items() if not k.endswith(("ema_count", "ema_sum"))}
    return build(entry, tensors, lambda dep_id: (ae_entry, ae.state_dict()))


@pytest.fixture(scope="module")
def codec() -> DLFCodec:
    return make_codec()


@pytest.fixture(scope="module")
def small_image() -> np.ndarray:
    """40x72: neither side a multiple of 16, far from a whole window."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:40, 0:72]
    base = np.stack([yy * 5, xx * 3, (xx + yy) * 2], -1) + rng.normal(0, 10, (40, 72, 3))
    return base.clip(0, 255).astype(np.uint8)


def roundtrip(codec: DLFCodec, img: np.ndarray, rate: int) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    a = codec.analyze(img)
    enc = codec.code(a, rate)
    h, w = img.shape[:2]
    data = pack(Header(model_code("dlf"), codec.weights.tag, h, w, rate), enc.sections)
    header, sections = unpack(data)
    return enc.sections, codec.reconstruct(a, enc), codec.decode(header.height, header.width, header.rate, sections)


@pytest.mark.parametrize("rate", [0, 128, 255])
def test_stream_round_trip_is_bit_exact(codec, small_image, crop_image, odd_image, rate) -> None:
    for img in (small_image, odd_image, crop_image):
        _, rec, out = roundtrip(codec, img, rate)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out, rec)


def test_semantic_section_is_fixed_per_window(codec, small_image, crop_image) -> None:
    bits = math.ceil(math.log2(TINY_DLF.codebook))
    # 40x72 -> padded 128x128 -> 8x8 latent -> 3x3 windows of 3 (partial ones included)
    # 128x192 -> padded 128x256 -> 8x16 latent -> 3x6 windows
    for img, windows in ((small_image, 9), (crop_image, 18)):
        a = codec.analyze(img)
        expected = -(-windows * TINY_DLF.n_tokens * bits // 8)
        assert codec.semantic_bytes(*img.shape[:2]) == expected
        sizes = {len(codec.code(a, r).sections[0]) for r in (0, 77, 255)}
        assert sizes == {expected}
        assert len({codec.code(a, r).sections[0] for r in (0, 255)}) == 1  # the rate never touches it


def test_detail_section_grows_with_rate(codec, crop_image) -> None:
    a = codec.analyze(crop_image)
    sizes = [len(codec.code(a, r).sections[2]) for r in (0, 64, 128, 192, 255)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes
    hyper = {len(codec.code(a, r).sections[1]) for r in (0, 255)}
    assert hyper == {1}  # 128x192 -> padded 128x256 -> a 1x2 z grid, 3 bits each


def test_whole_window_padding_at_paper_window_size(small_image) -> None:
    cfg = DLFConfig(**{**TINY_DLF.to_dict(), "window": 16, "detail_window": 4})
    codec = make_codec(cfg, seed=1)
    sections, rec, out = roundtrip(codec, small_image, 200)
    assert np.array_equal(out, rec)
    assert len(sections[0]) == -(-1 * cfg.n_tokens * cfg.token_bits // 8)  # one (partial) 16x16 window


def test_ablation_without_interactive_transform_round_trips(crop_image) -> None:
    codec = make_codec(DLFConfig(**{**TINY_DLF.to_dict(), "interactive": False}))
    assert not len(codec.net.encoder.it_blocks) and not len(codec.net.decoder.it_blocks)
    for rate in (0, 255):
        sections, rec, out = roundtrip(codec, crop_image, rate)
        assert np.array_equal(out, rec) and len(sections[2]) > 2


def test_tokens_only_ablation_codes_the_semantic_section_alone(crop_image) -> None:
    codec = make_codec(DLFConfig(**{**TINY_DLF.to_dict(), "detail_branch": False}))
    assert not hasattr(codec.net.decoder, "prior") and not hasattr(codec.net.encoder, "h_a")
    sections, rec, out = roundtrip(codec, crop_image, 77)
    assert np.array_equal(out, rec)
    assert sections[1] == b"" and sections[2] == b""
    assert len(sections[0]) == codec.semantic_bytes(*crop_image.shape[:2])
    assert roundtrip(codec, crop_image, 200)[0] == sections  # no rate to move
    h, w = crop_image.shape[:2]
    with pytest.raises(MalformedStream, match="no detail branch"):
        codec.decode(h, w, 77, [sections[0], b"\1", b""])


def test_bad_sections_raise_typed_errors(codec, small_image) -> None:
    a = codec.analyze(small_image)
    sem, hyp, det = codec.code(a, 100).sections
    h, w = small_image.shape[:2]
    with pytest.raises(MalformedStream, match="3 sections"):
        codec.decode(h, w, 100, [sem, hyp])
    with pytest.raises(TruncatedStream):
        codec.decode(h, w, 100, [sem[:-1], hyp, det])
    with pytest.raises(MalformedStream):
        codec.decode(h, w, 100, [sem + b"\0", hyp, det])
    with pytest.raises(MalformedStream, match="outside the codebook"):
        codec.decode(h, w, 100, [b"\xff" * len(sem), hyp, det])  # index 15 >= K = 12
    with pytest.raises(TruncatedStream):
        codec.decode(h, w, 100, [sem, hyp[:-1], det])
    with pytest.raises(MalformedStream):
        codec.decode(h, w, 100, [sem, hyp, det[:1]])
    with pytest.raises(ParameterMismatch):
        codec.decode(h, w, 30, [sem, hyp, det])  # another rate point: other priors
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, len(det)):
        garbled = det[:2] + rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        try:
            out = codec.decode(h, w, 100, [sem, hyp, garbled])
        except BitstreamError:
            continue
        assert out.shape == small_image.shape


def test_info_reports_the_semantic_cost_separately(tmp_path, codec, small_image) -> None:
    from click.testing import CliRunner

    from gencodec.cli.main import cli

    a = codec.analyze(small_image)
    enc = codec.code(a, 50)
    path = tmp_path / "x.gic"
    path.write_bytes(pack(Header(model_code("dlf"), codec.weights.tag, 40, 72, 50), enc.sections))
    r = CliRunner().invoke(cli, ["info", str(path), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["model"] == "dlf"
    assert info["sections"] == {"semantic": len(enc.sections[0]), "hyper": len(enc.sections[1]),
                                "detail": len(enc.sections[2])}


def test_training_forward_shapes_and_losses() -> None:
    torch.manual_seed(0)
    net = DLFNet(TINY_DLF)
    latent = torch.nn.functional.normalize(torch.randn(2, 8, 8, 16), dim=1)
    out = net(latent, torch.tensor([0.0, 2.0]))
    assert out["latent_hat"].shape == latent.shape
    assert out["y_likelihood"].shape == (2, TINY_DLF.m, 4, 8)
    assert out["sem_indices"].shape == (2 * 3 * 6, TINY_DLF.n_tokens)  # 8x16 latent -> 3x6 windows of 3
    loss = out["latent_hat"].square().mean() - out["y_likelihood"].log2().mean() + out["sem_vq_loss"]
    loss = loss + out["hyper_vq_loss"]
    assert torch.isfinite(loss)
    loss.backward()
    assert net.encoder.tokens.grad is not None and net.decoder.y_gain.log_gain.grad is not None


THREADS_SCRIPT = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[2]))
sys.path.insert(0, sys.argv[3])
from test_dlf import make_codec
from gencodec.container import unpack
header, sections = unpack(open(sys.argv[1], 'rb').read())
out = make_codec().decode(header.height, header.width, header.rate, sections)
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_decode_is_identical_with_1_and_2_threads(tmp_path, codec, crop_image) -> None:
    import hashlib
    import subprocess
    import sys
    from pathlib import Path

    a = codec.analyze(crop_image)
    enc = codec.code(a, 180)
    path = tmp_path / "s.gic"
    path.write_bytes(pack(Header(model_code("dlf"), codec.weights.tag, 128, 192, 180), enc.sections))
    here = hashlib.sha256(codec.reconstruct(a, enc).tobytes()).hexdigest()
    here_dir = str(Path(__file__).parent)
    for threads in (1, 2):
        out = subprocess.run([sys.executable, "-c", THREADS_SCRIPT, str(path), str(threads), here_dir],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == here, f"decode with {threads} thread(s) differs"
