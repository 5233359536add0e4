"""Progressive, resumable, time-boxed training on CPU (bf16 autocast where the CPU has it, nn.precision)."""
