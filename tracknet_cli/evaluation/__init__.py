"""Evaluation: models scored on dataset splits under a stated protocol (ball metrics, detection
metrics), what every evaluation writes, and where a deformable encoder looks."""

from tracknet_cli.evaluation.metrics import (
    IGNORED,
    OUTCOMES,
    BallMetrics,
    Protocol,
    classify_frames,
    summarize,
)

__all__ = ["IGNORED", "OUTCOMES", "BallMetrics", "Protocol", "classify_frames", "summarize"]
