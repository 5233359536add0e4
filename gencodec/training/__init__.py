"""Progressive, resumable, time-boxed training on CPU (bf16 autocast)."""
