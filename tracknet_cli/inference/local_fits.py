"""Least-squares polynomials in time through many small windows of points at once.

    fitted = residuals(times, points, used, degree)  # times [M, m], points [M, m, 2], used [M, m]

Each of the M rows is a window of up to m points (x, y) at their times; `used` picks the points a
row's fit counts. A row's degree may be its own ([M]), so windows with fewer points take a lower
one. Work: a (degree + 1)^2 system per row, solved for all rows together.
"""

from __future__ import annotations

import numpy as np


def residuals(times: np.ndarray, points: np.ndarray, used: np.ndarray,
              degree: int | np.ndarray = 2) -> np.ndarray:
    """[M, m] distance of each of points [M, m, 2] from the least-squares polynomial of `degree`
    (one, or one per row [M]) through the `used` [M, m] ones at times [M, m]; 0 where not used."""
    coefficients = hat(times, used, degree) @ points  # [M, top + 1, 2]
    fitted = powers(times, coefficients.shape[1] - 1) @ coefficients
    return np.where(used, np.linalg.norm(points - fitted, axis=-1), 0.0)


def velocity(times: np.ndarray, points: np.ndarray, used: np.ndarray, at: np.ndarray) -> np.ndarray:
    """[M, 2] the velocity (points per unit of time) at times `at` [M, 1] of the least-squares
    parabola through the `used` [M, m] of points [M, m, 2] at times [M, m] (a line through 2);
    0 with fewer than 2."""
    coefficients = hat(times, used, np.clip(used.sum(axis=1) - 1, 0, 2)) @ points  # [M, top + 1, 2]
    top = coefficients.shape[1] - 1
    slope = np.arange(1, top + 1) * powers(at, top - 1)  # [M, 1, top]: d t^k / dt = k t^(k-1)
    return (slope @ coefficients[:, 1:])[:, 0]


def hat(times: np.ndarray, used: np.ndarray, degree: int | np.ndarray = 2) -> np.ndarray:
    """[M, top + 1, m]: maps the values at times [M, m] to the coefficients of their least-squares
    polynomial of `degree` (per row, at most top), counting only the `used` [M, m] ones; the
    coefficients above a row's degree are 0."""
    degree = np.broadcast_to(degree, times.shape[:1])
    top = int(np.max(degree, initial=0))
    wanted = np.arange(top + 1) <= degree[:, None, None]  # [M, 1, top + 1]
    # in units of the row's span, so the powers stay near 1 (the fit is the same in any unit)
    scale = np.maximum(np.abs(np.where(used, times, 0.0)).max(axis=1, initial=0.0), 1e-9)[:, None]
    basis = powers(times / scale, top) * (used[..., None] & wanted)  # [M, m, top + 1]
    # a tiny ridge keeps the system solvable where repeats leave fewer times than coefficients,
    # and sets the coefficients above a row's degree to 0
    transposed = basis.transpose(0, 2, 1)
    scaled = np.linalg.solve(transposed @ basis + 1e-9 * np.eye(top + 1), transposed)
    return scaled / scale[..., None] ** np.arange(top + 1)[:, None]  # back to the times' units


def powers(times: np.ndarray, top: int) -> np.ndarray:
    """[..., top + 1] times [...] to the powers 0..top."""
    columns = [np.ones_like(times)]
    for _ in range(top):
        columns.append(columns[-1] * times)
    return np.stack(columns, axis=-1)
