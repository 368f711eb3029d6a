"""The generic training loop and what it owns: checkpoints, EMA, logging, samples and plots."""
