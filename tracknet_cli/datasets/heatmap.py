"""Gaussian heatmap targets: the ball as a 2-D Gaussian peaking at 1 on its (sub-pixel) centre."""

from __future__ import annotations

import math

import numpy as np


def gaussian_heatmap(center: tuple[float, float] | np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """[H, W] float32 heatmap for a ball at `center` (x, y) in heatmap pixels; zeros when NaN.

    The 2-D Gaussian is the outer product of two 1-D ones, so a target costs H + W exponentials.
    """
    width, height = size
    x, y = float(center[0]), float(center[1])
    if math.isnan(x) or math.isnan(y):
        return np.zeros((height, width), dtype=np.float32)
    gx = np.exp(-((np.arange(width, dtype=np.float32) - x) ** 2) / (2 * sigma**2))
    gy = np.exp(-((np.arange(height, dtype=np.float32) - y) ** 2) / (2 * sigma**2))
    return np.outer(gy, gx).astype(np.float32, copy=False)
