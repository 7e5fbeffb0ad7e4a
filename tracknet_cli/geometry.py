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


def patch_origin(size: tuple[int, int], frame_size: tuple[int, int], grid: int, rng: np.random.Generator,
                 target: np.ndarray | None = None, margin: float | np.ndarray = 0.0) -> np.ndarray:
    """Top-left (x, y) of a training patch of `size` (W, H) in a `frame_size` frame, drawn
    uniformly among the multiples of `grid` (so the model downsamples the patch in step with the
    whole frame). With a `target` point (x, y), only origins whose patch holds it at least `margin`
    px in from its edges; the nearest such multiple when none does exactly."""
    size, frame_size = np.asarray(size, dtype=np.float64), np.asarray(frame_size, dtype=np.float64)
    low, high = np.zeros(2), frame_size - size
    if target is not None:
        low, high = np.maximum(low, np.asarray(target) + margin + 1 - size), np.minimum(high, target - margin)
    first = np.ceil(low / grid)
    last = np.maximum(np.floor(high / grid), first)
    steps = first + np.floor(rng.random(2) * (last - first + 1))
    return np.minimum(steps, np.floor((frame_size - size) / grid)) * grid
