"""Training: the trainer, losses, optimisation, checkpoints, distributed helpers, run outputs."""
