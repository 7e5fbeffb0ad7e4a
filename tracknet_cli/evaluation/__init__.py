"""Evaluation: heatmaps decoded to ball positions, and ball metrics under a stated protocol."""

from tracknet_cli.evaluation.decode import decode_heatmaps, to_original_pixels
from tracknet_cli.evaluation.metrics import (
    IGNORED,
    OUTCOMES,
    BallMetrics,
    Protocol,
    classify_frames,
    summarize,
)

__all__ = [
    "IGNORED", "OUTCOMES", "BallMetrics", "Protocol", "classify_frames", "decode_heatmaps",
    "summarize", "to_original_pixels",
]
