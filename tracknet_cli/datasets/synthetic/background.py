"""The static background of a clip, drawn once: stands, ground, court lines, decor, walls, net.

Besides the court it holds the distractors a ball detector must learn to ignore: bright crowd
spots, white and yellow sponsor marks (some ball-sized), line crossings and a spare ball.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import (
    ONE,
    SHIFT,
    Camera,
    Framing,
    fixed_point,
    make_framing,
)
from tracknet_cli.datasets.synthetic.colours import BALL, BGR, WHITE, jitter
from tracknet_cli.datasets.synthetic.court import (
    ARENA_HALF_LENGTH,
    ARENA_HALF_WIDTH,
    BALL_DIAMETER,
    HALF_DOUBLES,
    HALF_LENGTH,
    NET_HEIGHT_CENTRE,
    NET_HEIGHT_POST,
    NET_POST_X,
    SURFACES,
    WALL_HEIGHT,
    Surface,
    court_lines,
    net_height,
)

GROUND_START = 4.0  # metres in front of the camera where the drawn ground begins


@dataclass(frozen=True)
class Venue:
    """What stays the same for all clips of a game: surface, colours, camera set-up, decor."""

    surface: Surface
    court: BGR
    runoff: BGR
    wall: BGR
    stands: BGR
    framing: Framing
    decor_seed: int  # draws the same logos in every clip of the game


def make_venue(turn: int, rng: np.random.Generator) -> Venue:
    """The court of one game; surfaces take turns by `turn` so a few games cover all of them."""
    surface = SURFACES[turn % len(SURFACES)]
    walls = [(95, 60, 25), (40, 85, 30), (30, 30, 30), (110, 40, 20), (30, 40, 110)]
    return Venue(
        surface=surface,
        court=jitter(surface.court, rng, 14),
        runoff=jitter(surface.runoff, rng, 14),
        wall=jitter(walls[rng.integers(len(walls))], rng, 12),
        stands=jitter((55, 55, 60), rng, 15),
        framing=make_framing(rng),
        decor_seed=int(rng.integers(2**31)),
    )


def render_background(camera: Camera, venue: Venue, rng: np.random.Generator) -> np.ndarray:
    """Everything that does not move in a clip, drawn once: stands, ground, court, walls, net."""
    image = np.empty((camera.height, camera.width, 3), np.uint8)
    image[:] = venue.stands
    _draw_crowd(image, camera, rng)
    _draw_ground(image, camera, venue)
    _draw_lines(image, camera, venue.surface.lines)
    decor = np.random.default_rng(venue.decor_seed)
    _draw_ground_logos(image, camera, decor)
    _draw_walls(image, camera, venue.wall, decor)
    _draw_spare_ball(image, camera, rng)
    _draw_net(image, camera)
    add_grain(image, rng)
    return image


def fill_world_polygon(image: np.ndarray, camera: Camera, points: np.ndarray, colour: BGR) -> None:
    """Fill a flat 3D polygon (all in front of the camera) with anti-aliased, sub-pixel edges."""
    uv, depth = camera.project(points)
    if np.any(depth <= 0.1):
        raise ValueError("polygon reaches behind the camera")
    cv2.fillPoly(image, [fixed_point(uv)], colour, cv2.LINE_AA, SHIFT)


def _ground_rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]])


def _draw_crowd(image: np.ndarray, camera: Camera, rng: np.random.Generator) -> None:
    """Spectators: a dense field of small heads and shirts; the ground and walls cover most of it.

    The white and yellow ones are deliberate: a crowd is full of small bright ball-like blobs.
    """
    size = max(1.0, camera.width / 640)
    count = int(camera.width * camera.height / (size * size * 12))
    palette = np.array([(35, 35, 40), (60, 60, 70), (90, 100, 120), (120, 140, 160),
                        (200, 200, 200), (235, 235, 235), (60, 60, 160), (150, 90, 40),
                        (70, 200, 220), (30, 110, 60)])
    share = np.array([6, 6, 4, 3, 2, 2, 1, 1, 1, 1], float)  # mostly dark, some bright spots
    centres = fixed_point(rng.uniform([0, 0], [camera.width, camera.height], (count, 2)))
    radii = np.round(rng.uniform(0.6, 1.4, count) * size * ONE).astype(int)
    colours = palette[rng.choice(len(palette), size=count, p=share / share.sum())]
    for centre, radius, colour in zip(centres, radii, colours):
        cv2.circle(image, tuple(centre), int(radius), tuple(int(c) for c in colour), -1,
                   cv2.LINE_AA, SHIFT)


def _draw_ground(image: np.ndarray, camera: Camera, venue: Venue) -> None:
    """The run-off over the whole arena floor, then the court (lines included) in its colour."""
    near = camera.position[1] + GROUND_START
    arena = _ground_rect(-ARENA_HALF_WIDTH, near, ARENA_HALF_WIDTH, ARENA_HALF_LENGTH)
    fill_world_polygon(image, camera, arena, venue.runoff)
    x, y = HALF_DOUBLES + 0.5, HALF_LENGTH + 0.5
    fill_world_polygon(image, camera, _ground_rect(-x, -y, x, y), venue.court)
    if venue.surface.stripes:
        _draw_mowing_stripes(image, camera, venue.court, x, y)


def _draw_mowing_stripes(image: np.ndarray, camera: Camera, colour: BGR, x: float,
                         y: float) -> None:
    """Grass courts are mown in bands across the court, alternating light and dark."""
    lighter = tuple(min(255, c + 18) for c in colour)
    edges = np.linspace(-y, y, 16)
    for y0, y1 in zip(edges[::2], edges[1::2]):
        fill_world_polygon(image, camera, _ground_rect(-x, y0, x, y1), lighter)


def _draw_lines(image: np.ndarray, camera: Camera, colour: BGR) -> None:
    for x0, y0, x1, y1, width in court_lines():
        half = width / 2
        rect = _ground_rect(min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half,
                            max(y0, y1) + half)
        fill_world_polygon(image, camera, rect, colour)


def _draw_ground_logos(image: np.ndarray, camera: Camera, decor: np.random.Generator) -> None:
    """Painted sponsor marks on the run-off behind the far baseline and beside the court."""
    ground = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    spots = [(-3.0, HALF_LENGTH + 2.5), (3.0, HALF_LENGTH + 2.5),
             (-HALF_DOUBLES - 2.0, 2.0), (HALF_DOUBLES + 2.0, -2.0)]
    for x, y in spots:
        draw_logo(image, camera, np.array([x, y, 0.0]), ground, 2.2, 0.8, decor)


def _draw_walls(image: np.ndarray, camera: Camera, colour: BGR, decor: np.random.Generator) -> None:
    """The back wall with sponsor boards, then the two side walls (nearer, so drawn over it)."""
    w, length, h = ARENA_HALF_WIDTH, ARENA_HALF_LENGTH, WALL_HEIGHT
    back = np.array([[-w, length, 0], [w, length, 0], [w, length, h], [-w, length, h]])
    fill_world_polygon(image, camera, back, colour)
    wall = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    board = 2 * w / 5
    for index in range(5):
        centre = np.array([-w + board * (index + 0.5), length - 0.01, h * 0.5])
        draw_logo(image, camera, centre, wall, board * 0.8, h * 0.55, decor)
    near = camera.position[1] + GROUND_START
    darker = tuple(int(c * 0.8) for c in colour)
    for x in (-w, w):
        side = np.array([[x, near, 0], [x, length, 0], [x, length, h], [x, near, h]])
        fill_world_polygon(image, camera, side, darker)


def draw_logo(image: np.ndarray, camera: Camera, centre: np.ndarray, basis: np.ndarray,
              width: float, height: float, decor: np.random.Generator,
              fill: Callable[..., None] = fill_world_polygon) -> None:
    """A sponsor mark on a plane: a row of letter-like bars and rings, often a ball-sized dot.

    `basis` holds the plane's two unit axes (world); sizes are metres on that plane. `fill` draws
    one world polygon (a renderer whose camera may see past the mark passes one that clips).
    """
    colour = [WHITE, (40, 210, 240), BALL][decor.integers(3)]
    letters = int(decor.integers(3, 7))
    pitch = width / letters
    for index in range(letters):
        u = -width / 2 + pitch * (index + 0.5)
        if decor.random() < 0.5:
            shape = plane_ellipse(u, 0.0, pitch * 0.35, height * 0.4)
        else:
            shape = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [pitch * 0.3, height * 0.45]
            shape = shape + [u, 0.0]
        fill(image, camera, centre + shape @ basis, colour)
    if decor.random() < 0.7:
        radius = decor.uniform(0.04, 0.09)
        dot = plane_ellipse(width / 2 + 0.2, 0.0, radius, radius)
        fill(image, camera, centre + dot @ basis, colour)


def plane_ellipse(u: float, v: float, radius_u: float, radius_v: float) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    return np.stack([u + radius_u * np.cos(angles), v + radius_v * np.sin(angles)], axis=1)


def _draw_spare_ball(image: np.ndarray, camera: Camera, rng: np.random.Generator) -> None:
    """Most clips have a spare ball lying by a wall: a real ball that is never the one in play."""
    if rng.random() < 0.3:
        return
    x = rng.choice([-1, 1]) * rng.uniform(HALF_DOUBLES + 1.0, ARENA_HALF_WIDTH - 0.3)
    y = rng.uniform(-HALF_LENGTH, ARENA_HALF_LENGTH - 0.3)
    (centre,), (depth,) = camera.project(np.array([[x, y, BALL_DIAMETER / 2]]))
    radius = max(1.0, float(camera.pixels(BALL_DIAMETER, depth)) / 2)
    cv2.circle(image, tuple(fixed_point(centre)), int(round(radius * ONE)), BALL, -1,
               cv2.LINE_AA, SHIFT)


def _draw_net(image: np.ndarray, camera: Camera) -> None:
    """A see-through dark mesh between the posts, its white tape and centre strap, the posts."""
    xs = np.array([-NET_POST_X, 0.0, NET_POST_X])
    top = np.stack([xs, np.zeros(3), net_height(xs)], axis=1)
    bottom = top * [1, 1, 0]
    mesh_uv, _ = camera.project(np.concatenate([top, bottom[::-1]]))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [fixed_point(mesh_uv)], 255, cv2.LINE_AA, SHIFT)
    x0, y0, w, h = cv2.boundingRect(mask)
    region = image[y0:y0 + h, x0:x0 + w]
    shade = mask[y0:y0 + h, x0:x0 + w, None].astype(np.float32) * (0.55 / 255)
    region[:] = (region * (1 - shade) + np.float32(25) * shade).astype(np.uint8)

    strap = np.array([[0, 0, 0], [0, 0, NET_HEIGHT_CENTRE]])
    _draw_world_line(image, camera, top, 0.06, WHITE)
    _draw_world_line(image, camera, strap, 0.05, WHITE)
    for x in (-NET_POST_X, NET_POST_X):
        post = np.array([[x, 0, 0], [x, 0, NET_HEIGHT_POST + 0.03]])
        _draw_world_line(image, camera, post, 0.1, (45, 45, 45))


def _draw_world_line(image: np.ndarray, camera: Camera, points: np.ndarray, width: float,
                     colour: BGR) -> None:
    """A polyline through 3D points, as thick in pixels as `width` metres at its mean depth."""
    uv, depth = camera.project(points)
    thickness = max(1, int(round(float(camera.pixels(width, depth.mean())))))
    cv2.polylines(image, [fixed_point(uv)], False, colour, thickness, cv2.LINE_AA, SHIFT)


def add_grain(image: np.ndarray, rng: np.random.Generator) -> None:
    """Static texture (surface grain, uneven light): once per clip, so frames stay cheap."""
    small = rng.normal(0.0, 3.0, (image.shape[0] // 8 + 1, image.shape[1] // 8 + 1, 1))
    blotches = cv2.resize(small.astype(np.float32), (image.shape[1], image.shape[0]),
                          interpolation=cv2.INTER_CUBIC)[..., None]
    fine = rng.normal(0.0, 2.0, image.shape[:2] + (1,)).astype(np.float32)
    textured = image.astype(np.float32) + blotches + fine
    np.clip(textured, 0, 255, out=textured)
    image[:] = textured.astype(np.uint8)
