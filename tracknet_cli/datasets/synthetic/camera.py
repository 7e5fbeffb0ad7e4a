"""The broadcast camera: a pinhole camera placed and aimed the way the main TV camera is.

Image coordinates are pixel centres: pixel column j has x = j, row i has y = i, as in the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracknet_cli.datasets.synthetic.court import HALF_LENGTH

SHIFT = 4  # cv2 fixed-point bits: shapes are placed to 1/16 px
ONE = 1 << SHIFT



@dataclass(frozen=True)
class Camera:
    """A pinhole camera; `rotation` rows are the camera's right, down and forward axes in world."""

    position: np.ndarray
    rotation: np.ndarray
    focal: float  # pixels
    width: int
    height: int

    @classmethod
    def look_at(cls, position, target, focal: float, width: int, height: int) -> Camera:
        position = np.asarray(position, dtype=float)
        forward = np.asarray(target, dtype=float) - position
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        return cls(position, np.stack([right, down, forward]), focal, width, height)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates (..., 2) and depth along the optical axis (...) of world points."""
        local = (np.asarray(points, dtype=float) - self.position) @ self.rotation.T
        depth = local[..., 2]
        centre = np.array([(self.width - 1) / 2, (self.height - 1) / 2])
        return local[..., :2] * (self.focal / depth)[..., None] + centre, depth

    def pixels(self, metres: float, depth: np.ndarray | float) -> np.ndarray | float:
        """Image size of an object `metres` across at `depth`."""
        return self.focal * metres / depth

    def contains(self, point: np.ndarray) -> bool:
        """Whether an image point lies on the frame (between the outer pixel centres)."""
        return bool(0 <= point[0] <= self.width - 1 and 0 <= point[1] <= self.height - 1)


@dataclass(frozen=True)
class Framing:
    """How a venue's broadcast camera is set up; each clip moves it a little."""

    back: float  # metres behind the near baseline
    height: float  # metres above the ground
    near: float  # where the near baseline lands, as a share of the frame height from the top
    far: float  # where the far baseline lands


def make_framing(rng: np.random.Generator) -> Framing:
    return Framing(back=rng.uniform(12.0, 16.0), height=rng.uniform(7.0, 10.0),
                   near=rng.uniform(0.79, 0.84), far=rng.uniform(0.26, 0.31))


def broadcast_camera(framing: Framing, width: int, height: int,
                     rng: np.random.Generator) -> Camera:
    """The main broadcast camera: high behind the near baseline, framing the whole court.

    Tilt and zoom are solved so that the baselines land where `framing` puts them, the way an
    operator frames the court; each clip shifts the camera and its framing slightly. Framing by
    shares of the frame height keeps the view the same at every resolution.
    """
    position = np.array([rng.normal(0.0, 0.3), -HALF_LENGTH - framing.back - rng.normal(0.0, 0.3),
                         framing.height + rng.normal(0.0, 0.2)])
    near, far = framing.near + rng.normal(0.0, 0.01), framing.far + rng.normal(0.0, 0.01)
    below_near = np.arctan2(position[2], -HALF_LENGTH - position[1])  # angles under the horizon
    below_far = np.arctan2(position[2], HALF_LENGTH - position[1])
    ratio = (near - 0.5) / (far - 0.5)

    def mismatch(tilt: float) -> float:
        return np.tan(below_near - tilt) / np.tan(below_far - tilt) - ratio

    # Between the two baselines' angles the ratio rises from -inf to 0: bisect for the tilt.
    low, high = below_far + 1e-6, below_near - 1e-6
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if mismatch(middle) > 0 else (middle, high)
    tilt = (low + high) / 2
    focal = (near - 0.5) * height / np.tan(below_near - tilt)
    pan = rng.normal(0.0, 0.01)
    forward = np.array([np.sin(pan) * np.cos(tilt), np.cos(pan) * np.cos(tilt), -np.sin(tilt)])
    return Camera.look_at(position, position + forward, focal, width, height)


def fixed_point(uv: np.ndarray) -> np.ndarray:
    """Image coordinates as cv2 fixed-point integers (see SHIFT)."""
    return np.round(np.asarray(uv) * ONE).astype(np.int32)
