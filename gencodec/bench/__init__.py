"""Benchmark helpers: classic-codec anchors and Bjontegaard-delta math."""
