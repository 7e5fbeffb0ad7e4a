"""Drawing world geometry from any camera: polygons cut at the camera's near plane, discs, blends.

The broadcast camera sees everything it draws in front of it; the realworld cameras stand among
the scenery (a tripod at the fence, a camera at the net post), so a wall or the ground can reach
behind them. A polygon is clipped to the half-space in front of the camera before it is projected.
"""

from __future__ import annotations

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import ONE, SHIFT, Camera, fixed_point
from tracknet_cli.datasets.synthetic.colours import BGR

NEAR = 0.05  # metres in front of the camera where drawn geometry is cut


def depth_of(camera: Camera, points: np.ndarray) -> np.ndarray:
    """Distance of world points (..., 3) along the optical axis."""
    return (np.asarray(points, dtype=float) - camera.position) @ camera.rotation[2]


def in_front(camera: Camera, points: np.ndarray, margin: float = 0.3) -> bool:
    """Whether all world points are at least `margin` metres in front of the camera."""
    return bool(np.all(depth_of(camera, points) > margin))


def clip_in_front(camera: Camera, points: np.ndarray) -> np.ndarray:
    """The part of a flat world polygon (k, 3) in front of the near plane (Sutherland-Hodgman)."""
    depth = depth_of(camera, points) - NEAR
    kept = []
    for index in range(len(points)):
        here, there = points[index], points[(index + 1) % len(points)]
        d_here, d_there = depth[index], depth[(index + 1) % len(points)]
        if d_here >= 0:
            kept.append(here)
        if (d_here >= 0) != (d_there >= 0):
            kept.append(here + (there - here) * (d_here / (d_here - d_there)))
    return np.array(kept).reshape(-1, 3)


def fill_polygon(image: np.ndarray, camera: Camera, points: np.ndarray, colour: BGR) -> None:
    """Fill the visible part of a flat world polygon, anti-aliased to 1/16 px."""
    visible = clip_in_front(camera, np.asarray(points, dtype=float))
    if len(visible) >= 3:
        cv2.fillPoly(image, [fixed_point(camera.project(visible)[0])], colour, cv2.LINE_AA, SHIFT)


def blend_polygon(image: np.ndarray, camera: Camera, points: np.ndarray, colour: BGR,
                  alpha: float) -> None:
    """Lay `colour` over a world polygon at opacity `alpha` (a worn patch, a shadow, a mesh)."""
    visible = clip_in_front(camera, np.asarray(points, dtype=float))
    if len(visible) < 3:
        return
    uv = camera.project(visible)[0]
    x0, y0 = np.maximum(np.floor(uv.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(uv.max(axis=0)).astype(int) + 2, image.shape[1::-1])
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [fixed_point(uv - (x0, y0))], 255, cv2.LINE_AA, SHIFT)
    region = image[y0:y1, x0:x1]
    weight = mask[..., None].astype(np.float32) * (alpha / 255.0)
    region[:] = np.rint(region + (np.float32(colour) - region) * weight).astype(np.uint8)


def fill_disc(image: np.ndarray, camera: Camera, centre: np.ndarray, radius: float,
              colour: BGR) -> None:
    """A sphere (or a round billboard) of `radius` metres, if it is in front of the camera."""
    uv, depth = camera.project(np.asarray(centre, dtype=float)[None])
    if depth[0] <= radius + NEAR:
        return
    pixels = float(camera.pixels(radius, depth[0]))
    cv2.circle(image, tuple(fixed_point(uv[0])), max(1, int(round(pixels * ONE))), colour, -1,
               cv2.LINE_AA, SHIFT)


def ground_rect(x0: float, y0: float, x1: float, y1: float, z: float = 0.0) -> np.ndarray:
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])


def upright_rect(start: np.ndarray, end: np.ndarray, bottom: float, top: float) -> np.ndarray:
    """A vertical rectangle over the ground segment start-end (x, y), from `bottom` to `top`."""
    (x0, y0), (x1, y1) = start, end
    return np.array([[x0, y0, bottom], [x1, y1, bottom], [x1, y1, top], [x0, y0, top]])


def facing_quad(camera: Camera, base: np.ndarray, half_width: float, bottom: float,
                top: float) -> np.ndarray:
    """An upright rectangle over ground point `base` (2,), square to the camera (a billboard)."""
    right = camera.rotation[0][:2] / max(np.linalg.norm(camera.rotation[0][:2]), 1e-9)
    return upright_rect(base - right * half_width, base + right * half_width, bottom, top)


def horizon_row(camera: Camera) -> float:
    """The image row of the horizon (the camera never rolls, so it is level)."""
    forward = camera.rotation[2] * [1.0, 1.0, 0.0]
    far = camera.position + forward / np.linalg.norm(forward) * 1e5
    return float(camera.project(far)[0][1])
