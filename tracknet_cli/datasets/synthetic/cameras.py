"""Where the realworld camera stands and how it frames the court, and how it moves while filming.

Placements (names as in variation.cameras):
    broadcast  the main TV camera, high behind the near baseline (camera.broadcast_camera)
    tripod     a club video: 1-3 m high behind the back fence, filming through or over it
    side       from the stands beside the court, level with the net
    corner     high in a corner behind the near baseline, looking across the court
    courtside  low beside a net post, looking down one half of the court

Every placement but courtside aims at the court and solves the focal length that just fits the
court and the players' heads at both baselines; `zoom` multiplies it (above 1 crops the court).
Courtside takes a lens of 55 to 80 degrees across and sees one half: the other half and the far
side's shots are often out of the picture.

Camera motion is a per-frame affine warp of the finished frame (motion.py applies it): a roll for
a tripod not quite level, a slow pan drift and per-frame shake, zoomed in just enough that no
border shows.
"""

from __future__ import annotations

import numpy as np

from tracknet_cli.datasets.synthetic.camera import Camera, broadcast_camera, make_framing
from tracknet_cli.datasets.synthetic.court import HALF_DOUBLES, HALF_LENGTH, NET_POST_X

FILL = 0.94  # share of the frame's half-size the fitted court may take from the centre
HEAD = 2.0  # metres: players' heads (and their rackets) should stay in the picture
SHAKE_REFERENCE_WIDTH = 1280  # variation.shake is in pixels of a frame this wide


def court_fit_points() -> np.ndarray:
    """The doubles court's corners, the net posts' tops and the heads over both baselines."""
    x, y = HALF_DOUBLES, HALF_LENGTH
    corners = [[sx * x, sy * y, 0.0] for sx in (-1, 1) for sy in (-1, 1)]
    posts = [[sx * NET_POST_X, 0.0, 1.07] for sx in (-1, 1)]
    heads = [[sx * x * 0.5, sy * (y + 1.0), HEAD] for sx in (-1, 1) for sy in (-1, 1)]
    return np.array(corners + posts + heads)


def place_camera(placement: str, width: int, height: int, zoom: float,
                 arena: tuple[float, float], rng: np.random.Generator) -> Camera:
    """A camera at `placement` for a frame of width x height; `arena` is the half width and half
    length of the fenced area around the court (metres)."""
    if placement == "broadcast":
        camera = broadcast_camera(make_framing(rng), width, height, rng)
        return Camera(camera.position, camera.rotation, camera.focal * zoom, width, height)
    if placement == "courtside":
        return _courtside(width, height, zoom, rng)
    position, target = _AIMED[placement](arena, rng)
    focal = fitted_focal(position, target, court_fit_points(), width, height)
    return Camera.look_at(position, target, focal * zoom, width, height)


def _tripod(arena: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    position = [rng.uniform(-2.5, 2.5), -arena[1] - rng.uniform(0.5, 4.0), rng.uniform(1.0, 3.0)]
    target = [0.3 * position[0], rng.uniform(-8.0, -2.0), 0.0]  # low: aim short of the net
    return np.array(position), np.array(target)


def _side(arena: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    side = rng.choice([-1.0, 1.0])
    position = [side * (arena[0] + rng.uniform(1.0, 10.0)), rng.uniform(-5.0, 5.0),
                rng.uniform(4.0, 12.0)]
    target = [rng.normal(0.0, 0.5), rng.normal(0.0, 1.5), 0.0]
    return np.array(position), np.array(target)


def _corner(arena: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    side = rng.choice([-1.0, 1.0])
    position = [side * rng.uniform(HALF_DOUBLES, arena[0] + 5.0),
                -rng.uniform(arena[1] - 3.0, arena[1] + 6.0), rng.uniform(3.0, 9.0)]
    target = [rng.normal(0.0, 1.0), rng.normal(1.0, 2.0), 0.0]
    return np.array(position), np.array(target)


_AIMED = {"tripod": _tripod, "side": _side, "corner": _corner}


def _courtside(width: int, height: int, zoom: float, rng: np.random.Generator) -> Camera:
    side, half = rng.choice([-1.0, 1.0]), rng.choice([-1.0, 1.0])  # which post, which half
    position = [side * rng.uniform(NET_POST_X + 0.7, NET_POST_X + 2.5),
                -half * rng.uniform(0.5, 2.5), rng.uniform(0.6, 1.5)]
    target = [side * rng.uniform(-1.0, 2.5), half * rng.uniform(6.0, 11.0), rng.uniform(0.3, 1.0)]
    across = np.radians(rng.uniform(55.0, 80.0))
    focal = (width - 1) / 2 / np.tan(across / 2)
    return Camera.look_at(position, target, focal * zoom, width, height)


def fitted_focal(position: np.ndarray, target: np.ndarray, points: np.ndarray, width: int,
                 height: int) -> float:
    """The focal length (pixels) at which `points`, seen from `position` toward `target`, reach
    FILL of the way from the frame's centre to its nearest edge, and no further."""
    unit = Camera.look_at(position, target, 1.0, width, height)
    local = (points - unit.position) @ unit.rotation.T
    spread = np.abs(local[:, :2] / local[:, 2:3]).max(axis=0)  # tangents of the widest angles
    return float(min(FILL * (width - 1) / 2 / spread[0], FILL * (height - 1) / 2 / spread[1]))


def camera_motion(frames: int, width: int, height: int, shake: float, pan: float, roll: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Per-frame affine warps (frames, 2, 3) of the finished frame, in pixel-centre coordinates.

    `shake` is the per-frame jitter (pixels at SHAKE_REFERENCE_WIDTH), `pan` the amplitude of a
    slow drift (share of the width), `roll` a constant tilt (radians). The zoom about the centre
    keeps the frame's borders out of the picture whatever the shift and roll.
    """
    scale_px = width / SHAKE_REFERENCE_WIDTH
    t = np.arange(frames)[:, None]
    periods = rng.uniform(60.0, 240.0, (1, 2))  # frames: a drift, not a vibration
    drift = pan * width * np.sin(2 * np.pi * t / periods + rng.uniform(0, 2 * np.pi, (1, 2)))
    shift = drift + rng.normal(0.0, shake * scale_px, (frames, 2))  # (frames, 2) pixels
    angle = roll + rng.normal(0.0, 0.0005 * shake, frames)  # (frames,) radians
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], 1), np.stack([sin, cos], 1)], 1)  # (frames, 2, 2)
    # Where each output corner comes from before the zoom: the zoom must pull it inside the frame.
    half = np.array([(width - 1) / 2, (height - 1) / 2])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half  # (4, 2) about the centre
    sources = np.einsum("fji,fcj->fci", rotation, corners[None] - shift[:, None])
    zoom = float(np.max(np.abs(sources) / half))
    linear = rotation * max(zoom, 1.0)
    offset = half + shift - linear @ half
    return np.concatenate([linear, offset[:, :, None]], axis=2)
