"""Training losses (never imported by the decode path)."""
