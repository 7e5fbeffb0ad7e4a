"""What surrounds the court in the realworld renderer: sky or roof, buildings, trees, light poles,
stands full of people. Drawn once per clip, far to near, from any camera.

Sides are named by the enclosure wall they stand behind: 0 and 1 the side walls at x = -/+ half
width, 2 and 3 the back walls at y = -/+ half length. Scenery is left out on a side whose wall the
camera stands outside of (the camera would be among it, or it would hide the court).
"""

from __future__ import annotations

import numpy as np

from tracknet_cli.datasets.synthetic.camera import Camera
from tracknet_cli.datasets.synthetic.colours import BGR, jitter
from tracknet_cli.datasets.synthetic.drawing import (
    facing_quad,
    fill_disc,
    fill_polygon,
    horizon_row,
    upright_rect,
)

SKIES = {  # (horizon, zenith) in BGR
    "sun": ((235, 215, 190), (200, 140, 75)),
    "overcast": ((205, 205, 200), (165, 165, 160)),
    "floodlights": ((70, 50, 40), (25, 15, 10)),  # night
    "indoor": ((55, 55, 60), (30, 30, 35)),  # the roof
}
FACADES = [(170, 180, 190), (120, 130, 150), (80, 95, 140), (205, 205, 205), (140, 150, 140),
           (90, 90, 95)]
LEAVES = [(45, 95, 50), (40, 80, 45), (55, 115, 70), (35, 70, 55), (60, 120, 95)]
SEATS = [(120, 60, 30), (40, 40, 150), (70, 70, 70), (40, 110, 40), (150, 150, 150)]
SHIRTS = np.array([(35, 35, 40), (60, 60, 70), (90, 100, 120), (120, 140, 160), (200, 200, 200),
                   (235, 235, 235), (60, 60, 160), (150, 90, 40), (70, 200, 220), (30, 110, 60)])
SHIRT_SHARE = np.array([6, 6, 4, 3, 2, 2, 1, 1, 1, 1], float)  # mostly dark, some bright spots
HEADS = np.array([(60, 80, 110), (110, 150, 195), (150, 185, 225), (40, 45, 50), (200, 200, 200)])
STAND_RISE = np.tan(np.radians(30.0))  # a stand's rake
Item = tuple[np.ndarray, str, dict]  # a ground anchor (3,), a kind, the kind's drawing parameters


def open_sides(camera: Camera, arena: tuple[float, float]) -> list[bool]:
    """For each side (see the module docstring), whether the camera is inside its wall."""
    x, y = camera.position[:2]
    return [x > -arena[0], x < arena[0], y > -arena[1], y < arena[1]]


def walls_seen(camera: Camera, arena: tuple[float, float], wall_height: float) -> list[bool]:
    """For each side, whether its wall is drawn: from inside, or from well above and behind it
    (a camera in the stands sees the boards below the court); a wall right in front of a low
    camera is left out (it would hide the court)."""
    above = camera.position[2] > wall_height + 2.0
    x, y = np.abs(camera.position[:2])
    behind = [x - arena[0] > 3.0] * 2 + [y - arena[1] > 3.0] * 2
    return [inside or (above and far) for inside, far in zip(open_sides(camera, arena), behind)]


def draw_sky(image: np.ndarray, camera: Camera, kind: str) -> None:
    """Fill the frame with the sky's (or the roof's) vertical gradient above the horizon."""
    horizon, zenith = (np.array(c, np.float32) for c in SKIES[kind])
    rows = np.arange(image.shape[0], dtype=np.float32)
    t = np.clip((horizon_row(camera) - rows) / (0.6 * image.shape[0]), 0.0, 1.0)[:, None]
    image[:] = np.rint(horizon + (zenith - horizon) * t).astype(np.uint8)[:, None, :]


def scenery_items(arena: tuple[float, float], sides: list[bool], outdoor: bool, crowd: float,
                  stands: list[bool], decor: np.random.Generator) -> list[Item]:
    """Everything standing around the enclosure, as (anchor, kind, parameters): drawn far to
    near by the anchor's distance. `decor` makes the same venue in every clip of a game."""
    items = []
    if outdoor:
        for _ in range(int(decor.integers(3, 10))):
            angle, distance = decor.uniform(0, 2 * np.pi), decor.uniform(35.0, 90.0)
            anchor = np.array([np.cos(angle), np.sin(angle), 0.0]) * distance
            facade = FACADES[decor.integers(len(FACADES))]
            items.append((anchor, "building", {"width": decor.uniform(10, 40),
                                               "height": decor.uniform(6, 30),
                                               "colour": jitter(facade, decor, 10)}))
        for _ in range(int(decor.integers(12, 40))):
            side = int(decor.integers(4))
            anchor = _beyond(side, arena, decor.uniform(2.0, 14.0), decor)
            items.append((anchor, "tree", {"height": decor.uniform(4.0, 11.0),
                                           "spread": decor.uniform(1.5, 3.5),
                                           "seed": int(decor.integers(2**31))}))
    for side in range(4):
        if stands[side]:
            items.append((_beyond(side, arena, 8.0, decor, along=0.0), "stand",
                          {"side": side, "depth": decor.uniform(8.0, 18.0),
                           "seats": jitter(SEATS[decor.integers(len(SEATS))], decor, 12),
                           "crowd": crowd, "seed": int(decor.integers(2**31))}))
    return [item for item in items if sides[_side_of(item[0], arena)]]


def draw_scenery(image: np.ndarray, camera: Camera, arena: tuple[float, float],
                 items: list[Item], wall_height: float) -> None:
    """Draw `items` (from scenery_items) far to near."""
    distance = [np.linalg.norm(anchor - camera.position) for anchor, _, _ in items]
    for index in np.argsort(distance)[::-1]:
        anchor, kind, params = items[index]
        if kind == "building":
            _building(image, camera, anchor, **params)
        elif kind == "tree":
            _tree(image, camera, anchor, **params)
        else:
            _stand(image, camera, arena, wall_height, **params)


def draw_lamps(image: np.ndarray, camera: Camera, lamps: list[np.ndarray], poles: bool) -> None:
    """Floodlights: bright heads (on poles outdoors, hanging from the roof indoors)."""
    for lamp in lamps:
        if poles:
            base = lamp[:2]
            fill_polygon(image, camera, facing_quad(camera, base, 0.12, 0.0, lamp[2]), (80, 80, 85))
        fill_polygon(image, camera, facing_quad(camera, lamp[:2], 0.9, lamp[2] - 0.4,
                                                 lamp[2] + 0.4), (225, 250, 255))


def _beyond(side: int, arena: tuple[float, float], distance: float, rng: np.random.Generator,
            along: float | None = None) -> np.ndarray:
    """A ground point `distance` metres behind the wall of `side`, somewhere along it."""
    half = arena[1] if side < 2 else arena[0]
    offset = rng.uniform(-half - 10.0, half + 10.0) if along is None else along
    sign = -1.0 if side % 2 == 0 else 1.0
    if side < 2:
        return np.array([sign * (arena[0] + distance), offset, 0.0])
    return np.array([offset, sign * (arena[1] + distance), 0.0])


def _side_of(point: np.ndarray, arena: tuple[float, float]) -> int:
    """The side whose wall a ground point outside the enclosure lies furthest behind."""
    x, y = point[0] / arena[0], point[1] / arena[1]
    if abs(x) >= abs(y):
        return 0 if x < 0 else 1
    return 2 if y < 0 else 3


def _building(image: np.ndarray, camera: Camera, anchor: np.ndarray, width: float, height: float,
              colour: BGR) -> None:
    """A facade facing the court, with a dark band of windows on every floor."""
    across = np.array([-anchor[1], anchor[0]]) / np.linalg.norm(anchor[:2]) * width / 2
    start, end = anchor[:2] - across, anchor[:2] + across
    fill_polygon(image, camera, upright_rect(start, end, 0.0, height), colour)
    windows = tuple(int(c * 0.45) for c in colour)
    inset = across * 0.05
    for floor in np.arange(1.0, height - 1.5, 3.0):
        fill_polygon(image, camera, upright_rect(start + inset, end - inset, floor, floor + 1.4),
                     windows)


def _tree(image: np.ndarray, camera: Camera, anchor: np.ndarray, height: float, spread: float,
          seed: int) -> None:
    """A trunk and a crown of overlapping leafy spheres, darker low down."""
    rng = np.random.default_rng(seed)
    fill_polygon(image, camera, facing_quad(camera, anchor[:2], 0.18, 0.0, height * 0.6),
                 (40, 55, 70))
    for _ in range(int(rng.integers(5, 9))):
        offset = rng.normal(0.0, spread * 0.45, 3) * [1.0, 1.0, 0.7]
        centre = anchor + [0.0, 0.0, height - spread] + offset
        shade = 0.75 + 0.25 * np.clip(offset[2] / spread + 0.5, 0, 1)
        colour = tuple(int(c * shade) for c in jitter(LEAVES[rng.integers(len(LEAVES))], rng, 8))
        fill_disc(image, camera, centre, spread * rng.uniform(0.45, 0.75), colour)


def _stand(image: np.ndarray, camera: Camera, arena: tuple[float, float], wall_height: float,
           side: int, depth: float, seats: BGR, crowd: float, seed: int) -> None:
    """A raked stand behind the wall of `side`, and the people on its seats."""
    rng = np.random.default_rng(seed)
    sign, along_x = (-1.0 if side % 2 == 0 else 1.0), side >= 2
    half = (arena[0] if along_x else arena[1]) + 4.0
    wall = arena[1] if along_x else arena[0]
    steps = np.arange(0.4, depth, 0.85)  # rows, metres behind the wall
    spots = np.arange(-half + 0.3, half, 0.55)  # seats along a row

    def world(back: np.ndarray, along: np.ndarray, up: np.ndarray) -> np.ndarray:
        height = wall_height + 0.4 + back * STAND_RISE + up
        out = sign * (wall + back)
        return np.stack([along, out, height] if along_x else [out, along, height], axis=-1)

    corners = world(np.array([0.0, 0.0, depth, depth]), np.array([-half, half, half, -half]),
                    np.zeros(4))
    fill_polygon(image, camera, corners, seats)
    fill_polygon(image, camera, world(np.array([depth, depth, depth, depth]),
                                      np.array([-half, half, half, -half]),
                                      np.array([0.0, 0.0, 6.0, 6.0])), tuple(int(c * 0.6)
                                                                              for c in seats))
    back, along = (grid.ravel() for grid in np.meshgrid(steps, spots, indexing="ij"))
    taken = rng.random(len(back)) < crowd
    back, along = back[taken], along[taken]
    shirts = SHIRTS[rng.choice(len(SHIRTS), len(back), p=SHIRT_SHARE / SHIRT_SHARE.sum())]
    heads = HEADS[rng.integers(len(HEADS), size=len(back))]
    bodies, faces = world(back, along, np.full(len(back), 0.45)), world(back, along,
                                                                        np.full(len(back), 0.85))
    _draw_people(image, camera, bodies, faces, shirts, heads)


def _draw_people(image: np.ndarray, camera: Camera, bodies: np.ndarray, faces: np.ndarray,
                 shirts: np.ndarray, heads: np.ndarray) -> None:
    """Spectators as a shirt and a head each, far ones first; only those in the picture."""
    uv, depth = camera.project(bodies)
    margin = 20
    shown = ((depth > 1.0) & (uv[:, 0] > -margin) & (uv[:, 0] < camera.width + margin)
             & (uv[:, 1] > -margin) & (uv[:, 1] < camera.height + margin))
    for index in np.flatnonzero(shown)[np.argsort(-depth[shown])]:
        fill_disc(image, camera, bodies[index], 0.24, tuple(int(c) for c in shirts[index]))
        fill_disc(image, camera, faces[index], 0.12, tuple(int(c) for c in heads[index]))
