"""Pixel-coordinate geometry shared by data, metrics and inference.

Coordinates are pixel centres: pixel (i, j) covers [i - 0.5, i + 0.5] and its centre is at i.
Resizing a W-wide frame to W' maps x' = (x + 0.5) * W' / W - 0.5, so the frame's edges, not its
first and last pixel centres, line up. Affine maps are 3x3 matrices acting on (x, y, 1) in that
convention, which is the one OpenCV's warpAffine uses.
"""

from __future__ import annotations

import numpy as np


def resize_matrix(from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """3x3 map of pixel centres from a (W, H) frame to a (W', H') resize of it."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3x3 affine matrix to points [..., 2]; NaN points stay NaN."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def rescale_points(points: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    return map_points(resize_matrix(from_size, to_size), points)


def inside_frame(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """True where a point lies on the frame (its edges included); False for NaN."""
    x, y = points[..., 0], points[..., 1]
    with np.errstate(invalid="ignore"):
        return (x >= -0.5) & (x <= size[0] - 0.5) & (y >= -0.5) & (y <= size[1] - 0.5)
