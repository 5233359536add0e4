"""Registered codecs: one file per codec id, composition only."""
