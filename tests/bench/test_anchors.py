"""Tests for the classic-codec anchors and the closest-below-target search."""

import sys

import numpy as np
import pytest

from gencodec.bench import anchors as anchors_mod
from gencodec.bench.anchors import ANCHORS, closest_below, get_anchor


def _test_image(h: int = 64, w: int = 64) -> np.ndarray:
    """Deterministic smooth gradient plus texture, so rate grows clearly with quality."""
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([xx / w * 200, yy / h * 180, (xx + yy) / (h + w) * 220], axis=2) + 20
    img = base + 25 * np.sin(xx[..., None] / 3.0) * np.cos(yy[..., None] / 5.0) + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _require(name: str):
    anchor = get_anchor(name)
    ok, reason = anchor.available()
    if not ok:
        pytest.skip(f"{name} unavailable: {reason}")
    return anchor


def test_registry_names_and_settings_order() -> None:
    assert set(ANCHORS) == {"jpeg", "webp", "avif", "heic", "jxl"}
    for anchor in ANCHORS.values():
        assert len(anchor.settings) >= 2
        steps = np.diff(anchor.settings)
        if anchor.setting_kind == "distance":
            assert np.all(steps < 0), anchor.name
        else:
            assert np.all(steps > 0), anchor.name
    assert ANCHORS["jxl"].settings[0] == 25.0
    assert ANCHORS["avif"].settings[0] == 0.0 and ANCHORS["heic"].settings[0] == 0.0
    with pytest.raises(KeyError, match="unknown anchor"):
        get_anchor("bpg")


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_round_trip_odd_size(name: str) -> None:
    anchor = _require(name)
    img = _test_image(37, 45)
    data = anchor.encode(img, anchor.settings[len(anchor.settings) // 2])
    out = anchor.decode(data)
    assert isinstance(data, bytes) and len(data) > 0
    assert out.shape == img.shape and out.dtype == np.uint8
    err = np.abs(out.astype(np.float64) - img).mean()
    assert err < 40.0, f"{name}: mean abs error {err}"


@pytest.mark.parametrize("name", ["jpeg", "webp"])
def test_closest_below_picks_largest_setting_under_target(name: str) -> None:
    anchor = _require(name)
    img = _test_image()
    h, w = img.shape[:2]
    lo = anchors_mod.bpp_of(anchor.encode(img, anchor.settings[0]), h, w)
    hi = anchors_mod.bpp_of(anchor.encode(img, anchor.settings[-1]), h, w)
    target = lo + 0.4 * (hi - lo)
    res = closest_below(anchor, img, target)
    assert res is not None
    assert res.bpp <= target
    assert res.bpp == pytest.approx(len(res.data) * 8 / (h * w))
    idx = anchor.settings.index(res.quality)
    assert idx + 1 < len(anchor.settings)
    assert anchors_mod.bpp_of(anchor.encode(img, anchor.settings[idx + 1]), h, w) > target
    assert res.decoded.shape == img.shape and res.decoded.dtype == np.uint8
    assert res.encode_seconds >= 0 and res.decode_seconds >= 0
    assert res.num_encodes <= 2 + int(np.ceil(np.log2(len(anchor.settings))))


def test_closest_below_accepts_name_and_high_target() -> None:
    _require("jpeg")
    img = _test_image(32, 32)
    res = closest_below("jpeg", img, 1e6)
    assert res is not None and res.quality == ANCHORS["jpeg"].settings[-1]


@pytest.mark.parametrize("name", ["jpeg", "webp"])
def test_closest_below_unreachable_returns_none(name: str) -> None:
    _require(name)
    # 0.003 bpp on 64x64 is 1.5 bytes: no real bitstream is that small.
    assert closest_below(name, _test_image(), 0.003) is None


def test_closest_below_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="target_bpp"):
        closest_below("jpeg", _test_image(8, 8), 0.0)
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        closest_below("jpeg", np.zeros((8, 8), np.uint8), 0.1)


@pytest.mark.parametrize(("name", "module"), [("heic", "pillow_heif"), ("jxl", "imagecodecs")])
def test_missing_optional_module_is_reported(monkeypatch: pytest.MonkeyPatch, name: str, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    anchor = get_anchor(name)
    ok, reason = anchor.available()
    assert ok is False
    assert module in reason
    with pytest.raises(anchors_mod.AnchorUnavailableError, match=name):
        anchor.encode(_test_image(8, 8), anchor.settings[0])


@pytest.mark.parametrize(("name", "feature"), [("avif", "avif"), ("webp", "webp")])
def test_codec_not_compiled_in_is_reported(monkeypatch: pytest.MonkeyPatch, name: str, feature: str) -> None:
    real_import = anchors_mod._import

    class FakeFeatures:
        @staticmethod
        def check(feat: str) -> bool:
            return feat != feature

    def fake_import(mod: str):
        return FakeFeatures if mod == "PIL.features" else real_import(mod)

    monkeypatch.setattr(anchors_mod, "_import", fake_import)
    ok, reason = get_anchor(name).available()
    assert ok is False and "without" in reason


def test_available_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(mod: str):
        raise RuntimeError("broken install")

    monkeypatch.setattr(anchors_mod, "_import", boom)
    for anchor in ANCHORS.values():
        ok, reason = anchor.available()
        assert ok is False and "broken install" in reason
    assert all(not ok for ok, _ in anchors_mod.available_anchors().values())
