"""bf16 autocast only where the CPU has bf16 in hardware (gencodec.nn.precision), and the CLI's "auto" setting."""

import click
import pytest
import torch

from gencodec.cli.train import _apply_overrides
from gencodec.nn.precision import cpu_autocast, cpu_flags, has_bf16, native_bf16, use_bf16
from gencodec.training.stages.hific_rd import HiFiCRDTrainConfig

EPYC = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse sse2 avx avx2 fma f16c\n"
XEON = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16\n"


def test_cpu_flags_parse_x86_and_arm_lines():
    assert cpu_flags(EPYC) == {"fpu", "sse", "sse2", "avx", "avx2", "fma", "f16c"}
    assert "avx512_bf16" in cpu_flags(XEON)
    assert cpu_flags(ARM) == {"fp", "asimd", "bf16"}
    assert cpu_flags("no flags here") == set()


def test_bf16_only_with_hardware_support():
    assert not has_bf16(cpu_flags(EPYC))  # AVX2 only: bf16 is emulated and slow
    assert has_bf16(cpu_flags(XEON))
    assert has_bf16({"amx_bf16"})


def test_setting_none_is_auto_and_explicit_settings_win():
    assert use_bf16(None) is native_bf16()
    assert use_bf16(True) is True
    assert use_bf16(False) is False


def test_cpu_autocast_casts_only_when_enabled():
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(2, 8)
    with cpu_autocast(True):
        assert lin(x).dtype == torch.bfloat16
    with cpu_autocast(False):
        assert lin(x).dtype == torch.float32
    with cpu_autocast(None):
        assert lin(x).dtype == (torch.bfloat16 if native_bf16() else torch.float32)


def test_cli_sets_an_auto_setting_from_json():
    cfg = HiFiCRDTrainConfig()
    assert cfg.bf16 is None
    _apply_overrides(cfg, ("bf16=false",))
    assert cfg.bf16 is False
    _apply_overrides(cfg, ("bf16=true", "beta=4"))
    assert cfg.bf16 is True and cfg.beta == 4.0 and isinstance(cfg.beta, float)
    with pytest.raises(click.BadParameter, match="not JSON"):
        _apply_overrides(cfg, ("beta=four",))
