"""Entropy coding: numpy + constriction, no nn.Module.

* ``params``: the float -> integer boundary (scale table, mean grid, hash)
* ``gaussian``: Gaussian-conditional scalar latents, range coded with escapes
* ``categorical``: hyper-latents with integer tables shipped in the weights
* ``fixed_length``: VQ indices packed at ceil(log2 K) bits each
"""
