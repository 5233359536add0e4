"""Window partition/merge with padding and masked attention (gencodec.nn.window_attention)."""

from __future__ import annotations

import pytest
import torch

from gencodec.nn.window_attention import TransformerBlock, WindowAttention, WindowLayout, key_mask, merge, partition


@pytest.mark.parametrize(("size", "shift"), [(4, 0), (4, 2), (3, 1), (16, 0), (5, 0)])
def test_partition_merge_round_trip(size: int, shift: int) -> None:
    x = torch.randn(2, 3, 5, 7)
    tokens, layout = partition(x, size, shift)
    assert tokens.shape == (2 * layout.count, size * size, 3)
    assert torch.equal(merge(tokens, layout), x)
    valid = layout.valid()
    assert int(valid.sum()) == 5 * 7 and bool(valid.any(dim=1).all())  # every window holds an image position


def test_padding_is_invisible_to_attention() -> None:
    """Each window's output equals the block run on its valid tokens alone."""
    torch.manual_seed(0)
    attn = WindowAttention(8, 2, size=4, shift=2).eval()
    x = torch.randn(1, 8, 5, 7)
    with torch.no_grad():
        out = attn(x)
        tokens, layout = partition(x, 4, 2)
        valid = layout.valid()
        ref = torch.zeros_like(tokens)
        for i in range(tokens.shape[0]):
            ref[i, valid[i]] = attn.block(tokens[i : i + 1, valid[i]])[0]
    torch.testing.assert_close(out, merge(ref, layout))


def test_key_mask_keeps_leading_tokens_and_skips_whole_windows() -> None:
    assert key_mask(WindowLayout(8, 8, 4), batch=2) is None
    m = key_mask(WindowLayout(5, 4, 4), batch=2, lead=3)
    assert m.shape == (4, 1, 1, 3 + 16) and bool(m[:, ..., :3].all())
    block = TransformerBlock(8, 2)
    assert block(torch.randn(4, 19, 8), m).shape == (4, 19, 8)
