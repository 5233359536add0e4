"""Encoder-side latent refinement (SGA) and ROI masks. Never imported by decoding."""
