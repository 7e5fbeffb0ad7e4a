"""Training: the trainer, its launch on one or N processes, per-task training, losses,
optimisation, the checkpoint file and run outputs."""
