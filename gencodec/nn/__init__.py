"""Torch modules: transforms, quantizers and training-time bottlenecks.

Nothing in this package imports constriction; the coding itself lives in
``gencodec.entropy``.
"""
