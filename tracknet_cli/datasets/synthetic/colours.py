"""Colours are BGR tuples of ints, the order cv2 draws and writes in."""

from __future__ import annotations

import numpy as np

BGR = tuple[int, int, int]

BALL = (90, 235, 215)  # optic yellow as a broadcast camera renders it
WHITE = (240, 240, 240)


def jitter(colour: BGR, rng: np.random.Generator, amount: float) -> BGR:
    """`colour` moved by up to `amount` per channel, so no two games look exactly alike."""
    moved = np.clip(np.asarray(colour) + rng.uniform(-amount, amount, 3), 0, 255)
    return tuple(int(round(c)) for c in moved)
