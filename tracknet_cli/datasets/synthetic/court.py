"""Court geometry, the broadcast camera, and the static background of one clip.

World coordinates are metres: the origin is the centre of the court on the ground, X points to the
camera's right, Y away from the camera (the near baseline is at Y = -11.885), Z up. Image
coordinates are pixel centres: pixel column j has x = j, row i has y = i, as in the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.colours import BGR, jitter

# ITF court, metres.
HALF_LENGTH = 11.885
HALF_DOUBLES = 5.485
HALF_SINGLES = 4.115
SERVICE_LINE = 6.40  # from the net
NET_POST_X = HALF_DOUBLES + 0.914
NET_HEIGHT_CENTRE = 0.914
NET_HEIGHT_POST = 1.07
LINE_WIDTH = 0.05
BASELINE_WIDTH = 0.10
BALL_DIAMETER = 0.067

# The arena around the court: run-off ground, then walls, then the stands.
ARENA_HALF_WIDTH = HALF_DOUBLES + 4.0
ARENA_HALF_LENGTH = HALF_LENGTH + 6.4
WALL_HEIGHT = 1.8

SHIFT = 4  # cv2 fixed-point bits: shapes are placed to 1/16 px
ONE = 1 << SHIFT


def net_height(x: np.ndarray | float) -> np.ndarray | float:
    """Height of the net's top at lateral position x: it sags from the posts to the centre strap."""
    slope = (NET_HEIGHT_POST - NET_HEIGHT_CENTRE) / NET_POST_X
    return NET_HEIGHT_CENTRE + slope * np.minimum(np.abs(x), NET_POST_X)


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
        """Image coordinates (..., 2) and depth along the optical axis (...) of world points (..., 3)."""
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


def broadcast_camera(width: int, height: int, rng: np.random.Generator) -> Camera:
    """The main broadcast camera: high behind the near baseline, framing the whole court.

    The tilt and zoom are solved so that the near baseline lands at `near` and the far one at `far`
    (shares of the frame height), as a camera operator frames it; each clip varies the position
    and framing a little. Framing by frame height keeps the view the same at every resolution.
    """
    position = np.array([rng.normal(0.0, 0.4), -HALF_LENGTH - rng.uniform(12.0, 16.0),
                         rng.uniform(7.0, 10.0)])
    near, far = rng.uniform(0.83, 0.9), rng.uniform(0.27, 0.34)
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


@dataclass(frozen=True)
class Surface:
    """A court surface: its colours, and how a bounce changes the ball's velocity."""

    name: str
    court: BGR
    runoff: BGR
    lines: BGR
    friction: float  # share of horizontal speed kept at a bounce
    restitution: float  # share of vertical speed kept at a bounce
    stripes: bool = False  # mowing stripes (grass)


SURFACES = (
    Surface("hard-blue", (150, 98, 45), (75, 125, 70), (240, 240, 240), 0.70, 0.76),
    Surface("hard-green", (85, 130, 65), (70, 75, 125), (240, 240, 240), 0.70, 0.76),
    Surface("clay", (50, 95, 190), (40, 78, 160), (215, 222, 228), 0.60, 0.80),
    Surface("grass", (70, 150, 85), (60, 128, 80), (235, 240, 240), 0.80, 0.66, stripes=True),
)


@dataclass(frozen=True)
class Venue:
    """What stays the same for all clips of a game: surface, colours, and the sponsor decor."""

    surface: Surface
    court: BGR
    runoff: BGR
    wall: BGR
    stands: BGR
    decor_seed: int  # draws the same logos in every clip of the game


def make_venue(rng: np.random.Generator) -> Venue:
    surface = SURFACES[rng.integers(len(SURFACES))]
    walls = [(95, 60, 25), (40, 85, 30), (30, 30, 30), (110, 40, 20), (30, 40, 110)]
    return Venue(
        surface=surface,
        court=jitter(surface.court, rng, 14),
        runoff=jitter(surface.runoff, rng, 14),
        wall=jitter(walls[rng.integers(len(walls))], rng, 12),
        stands=jitter((55, 55, 60), rng, 15),
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
    _add_grain(image, rng)
    return image


def fill_world_polygon(image: np.ndarray, camera: Camera, points: np.ndarray, colour: BGR) -> None:
    """Fill a flat 3D polygon (all in front of the camera) with anti-aliased, sub-pixel edges."""
    uv, depth = camera.project(points)
    if np.any(depth <= 0.1):
        raise ValueError("polygon reaches behind the camera")
    cv2.fillPoly(image, [fixed_point(uv)], colour, cv2.LINE_AA, SHIFT)


def fixed_point(uv: np.ndarray) -> np.ndarray:
    """Image coordinates as cv2 fixed-point integers (see SHIFT)."""
    return np.round(np.asarray(uv) * ONE).astype(np.int32)


def _ground_rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]])


def _draw_crowd(image: np.ndarray, camera: Camera, rng: np.random.Generator) -> None:
    """Spectators: a dense field of small heads and shirts; the ground and walls cover most of it.

    White and yellow ones are deliberate: crowds are full of small bright blobs that look like a ball.
    """
    size = max(1.5, camera.width / 400)
    count = int(camera.width * camera.height / (size * size * 18))
    palette = np.array([(40, 40, 40), (200, 200, 200), (235, 235, 235), (60, 60, 160),
                        (150, 90, 40), (70, 200, 220), (120, 140, 160), (30, 110, 60)])
    centres = fixed_point(rng.uniform([0, 0], [camera.width, camera.height], (count, 2)))
    radii = np.round(rng.uniform(0.6, 1.4, count) * size * ONE).astype(int)
    colours = palette[rng.integers(len(palette), size=count)]
    for centre, radius, colour in zip(centres, radii, colours):
        cv2.circle(image, tuple(centre), int(radius), tuple(int(c) for c in colour), -1,
                   cv2.LINE_AA, SHIFT)


def _draw_ground(image: np.ndarray, camera: Camera, venue: Venue) -> None:
    """Run-off and court surface; the ground starts a few metres in front of the camera."""
    near = camera.position[1] + 4.0
    fill_world_polygon(image, camera, _ground_rect(-ARENA_HALF_WIDTH, near, ARENA_HALF_WIDTH,
                                                   ARENA_HALF_LENGTH), venue.runoff)
    fill_world_polygon(image, camera, _ground_rect(-HALF_DOUBLES - 0.5, -HALF_LENGTH - 0.5,
                                                   HALF_DOUBLES + 0.5, HALF_LENGTH + 0.5),
                       venue.runoff if venue.surface.stripes else venue.court)
    if venue.surface.stripes:
        _draw_mowing_stripes(image, camera, venue.court, near)


def _draw_mowing_stripes(image: np.ndarray, camera: Camera, colour: BGR, near: float) -> None:
    """Grass courts are mown in bands across the court, alternating light and dark."""
    lighter = tuple(min(255, c + 18) for c in colour)
    edges = np.arange(-ARENA_HALF_LENGTH, ARENA_HALF_LENGTH, 1.6)
    for index, (y0, y1) in enumerate(zip(edges, edges[1:])):
        y0 = max(y0, near)
        if y1 > y0:
            fill_world_polygon(image, camera, _ground_rect(-ARENA_HALF_WIDTH, y0, ARENA_HALF_WIDTH,
                                                           y1), lighter if index % 2 else colour)


def _court_lines() -> list[tuple[float, float, float, float, float]]:
    """(x0, y0, x1, y1, width) of each painted line, centred on the line's nominal position."""
    lines = []
    for sign in (-1, 1):
        y = sign * HALF_LENGTH
        lines.append((-HALF_DOUBLES, y, HALF_DOUBLES, y, BASELINE_WIDTH))
        lines.append((sign * HALF_DOUBLES, -HALF_LENGTH, sign * HALF_DOUBLES, HALF_LENGTH, LINE_WIDTH))
        lines.append((sign * HALF_SINGLES, -HALF_LENGTH, sign * HALF_SINGLES, HALF_LENGTH, LINE_WIDTH))
        lines.append((-HALF_SINGLES, sign * SERVICE_LINE, HALF_SINGLES, sign * SERVICE_LINE,
                      LINE_WIDTH))
        lines.append((0.0, y, 0.0, y - sign * 0.15, LINE_WIDTH))  # centre mark
    lines.append((0.0, -SERVICE_LINE, 0.0, SERVICE_LINE, LINE_WIDTH))
    return lines


def _draw_lines(image: np.ndarray, camera: Camera, colour: BGR) -> None:
    for x0, y0, x1, y1, width in _court_lines():
        half = width / 2
        rect = _ground_rect(min(x0, x1) - half, min(y0, y1) - half, max(x0, x1) + half,
                            max(y0, y1) + half)
        fill_world_polygon(image, camera, rect, colour)


def _draw_ground_logos(image: np.ndarray, camera: Camera, decor: np.random.Generator) -> None:
    """Painted sponsor marks on the run-off behind the far baseline and beside the court."""
    spots = [(-3.0, HALF_LENGTH + 2.5), (3.0, HALF_LENGTH + 2.5),
             (-HALF_DOUBLES - 2.0, 2.0), (HALF_DOUBLES + 2.0, -2.0)]
    for x, y in spots:
        basis = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        _draw_logo(image, camera, np.array([x, y, 0.0]), basis, 2.2, 0.8, decor)


def _draw_walls(image: np.ndarray, camera: Camera, colour: BGR, decor: np.random.Generator) -> None:
    """The back wall with sponsor boards, then the two side walls (nearer, so drawn over it)."""
    w, length, h = ARENA_HALF_WIDTH, ARENA_HALF_LENGTH, WALL_HEIGHT
    back = np.array([[-w, length, 0], [w, length, 0], [w, length, h], [-w, length, h]])
    fill_world_polygon(image, camera, back, colour)
    wall_basis = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    board = 2 * w / 5
    for index in range(5):
        centre = np.array([-w + board * (index + 0.5), length - 0.01, h * 0.5])
        _draw_logo(image, camera, centre, wall_basis, board * 0.8, h * 0.55, decor)
    near = camera.position[1] + 4.0
    darker = tuple(int(c * 0.8) for c in colour)
    for x in (-w, w):
        side = np.array([[x, near, 0], [x, length, 0], [x, length, h], [x, near, h]])
        fill_world_polygon(image, camera, side, darker)


def _draw_logo(image: np.ndarray, camera: Camera, centre: np.ndarray, basis: np.ndarray,
               width: float, height: float, decor: np.random.Generator) -> None:
    """A sponsor mark on a plane: a row of letter-like bars and rings, often a ball-sized dot.

    `basis` holds the plane's two unit axes (world); sizes are metres on that plane.
    """
    colour = [(245, 245, 245), (40, 210, 240), (60, 230, 210)][decor.integers(3)]
    letters = int(decor.integers(3, 7))
    pitch = width / letters
    for index in range(letters):
        u = -width / 2 + pitch * (index + 0.5)
        if decor.random() < 0.5:
            shape = _plane_ellipse(u, 0.0, pitch * 0.35, height * 0.4)
        else:
            shape = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [pitch * 0.3, height * 0.45]
            shape = shape + [u, 0.0]
        fill_world_polygon(image, camera, centre + shape @ basis, colour)
    if decor.random() < 0.7:
        dot = _plane_ellipse(width / 2 + 0.2, 0.0, *(2 * [decor.uniform(0.04, 0.09)]))
        fill_world_polygon(image, camera, centre + dot @ basis, colour)


def _plane_ellipse(u: float, v: float, radius_u: float, radius_v: float) -> np.ndarray:
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
    cv2.circle(image, tuple(fixed_point(centre)), int(round(radius * ONE)), (70, 225, 215), -1,
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

    _draw_world_line(image, camera, top, 0.06, (235, 235, 235))
    _draw_world_line(image, camera, np.array([[0, 0, 0], [0, 0, NET_HEIGHT_CENTRE]]), 0.05,
                     (235, 235, 235))
    for x in (-NET_POST_X, NET_POST_X):
        _draw_world_line(image, camera, np.array([[x, 0, 0], [x, 0, NET_HEIGHT_POST + 0.03]]), 0.1,
                         (45, 45, 45))


def _draw_world_line(image: np.ndarray, camera: Camera, points: np.ndarray, width: float,
                     colour: BGR) -> None:
    """A polyline through 3D points, as thick in pixels as `width` metres at its mean depth."""
    uv, depth = camera.project(points)
    thickness = max(1, int(round(float(camera.pixels(width, depth.mean())))))
    cv2.polylines(image, [fixed_point(uv)], False, colour, thickness, cv2.LINE_AA, SHIFT)


def _add_grain(image: np.ndarray, rng: np.random.Generator) -> None:
    """Static texture (surface grain, uneven light): once per clip, so frames stay cheap."""
    small = rng.normal(0.0, 3.0, (image.shape[0] // 8 + 1, image.shape[1] // 8 + 1, 1))
    blotches = cv2.resize(small.astype(np.float32), (image.shape[1], image.shape[0]),
                          interpolation=cv2.INTER_CUBIC)[..., None]
    fine = rng.normal(0.0, 2.0, image.shape[:2] + (1,)).astype(np.float32)
    textured = image.astype(np.float32) + blotches + fine
    np.clip(textured, 0, 255, out=textured)
    image[:] = textured.astype(np.uint8)
