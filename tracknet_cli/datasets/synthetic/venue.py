"""A realworld game's venue (VenueStyle, drawn per game) and a clip's background from any camera.

The background is drawn once per clip, far to near: sky or roof; the ground around; buildings,
trees, light poles and stands with their crowd; the enclosure's floor, the court with its texture,
wear and (faded) lines, painted logos, the shadow a stand casts in the sun; the walls or fences;
the net; ball kids. A wall right in front of a low camera is left out (a tripod filming through
the back fence gets the fence as a veil over the whole frame instead, see finish.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracknet_cli.datasets.synthetic.background import add_grain, draw_logo, plane_ellipse
from tracknet_cli.datasets.synthetic.camera import Camera
from tracknet_cli.datasets.synthetic.colours import BGR, jitter
from tracknet_cli.datasets.synthetic.court import (
    HALF_DOUBLES,
    HALF_LENGTH,
    NET_HEIGHT_CENTRE,
    NET_HEIGHT_POST,
    NET_POST_X,
    SERVICE_LINE,
    Surface,
    court_lines,
    net_height,
)
from tracknet_cli.datasets.synthetic.drawing import (
    blend_polygon,
    facing_quad,
    fill_disc,
    fill_polygon,
    ground_rect,
    upright_rect,
)
from tracknet_cli.datasets.synthetic.lighting import Lighting
from tracknet_cli.datasets.synthetic.props import BallKid
from tracknet_cli.datasets.synthetic.scenery import (
    draw_lamps,
    draw_scenery,
    draw_sky,
    open_sides,
    scenery_items,
    walls_seen,
)
from tracknet_cli.datasets.synthetic.surfaces import CATALOGUE
from tracknet_cli.datasets.synthetic.variation import Variation

SURROUNDS = {"indoor": [(45, 50, 55), (60, 60, 70), (40, 45, 60)],
             "outdoor": [(60, 120, 70), (95, 95, 95), (80, 110, 120), (70, 100, 80)]}
WALLS = [(95, 60, 25), (40, 85, 30), (30, 30, 30), (110, 40, 20), (30, 40, 110), (60, 70, 50)]
FENCE = (45, 55, 45)  # chain link, dark green
KIT = [(60, 40, 20), (30, 30, 140), (40, 110, 50), (130, 130, 130), (40, 40, 40)]
COURT_MARGIN = 0.5  # metres the court's colour reaches beyond the outer lines
SCENERY, LOGOS, WEAR, WALL = range(4)  # decor streams (VenueStyle.decor); walls: WALL + side


@dataclass(frozen=True)
class VenueStyle:
    """What stays the same for all clips of a game."""

    indoor: bool
    surface: Surface
    court: BGR
    runoff: BGR
    lines: BGR  # already faded by the wear
    worn: BGR
    surround: BGR  # the ground beyond the enclosure
    wall: BGR  # the arena's wall boards, or the fence's windscreen
    wall_height: float
    fence_height: float  # outdoors the chain link rises above the windscreen to here
    arena: tuple[float, float]  # half width and half length of the enclosure, metres
    crowd: float
    wear: float
    stands: tuple[bool, bool, bool, bool]  # per side (scenery.py's numbering)
    neighbours: bool  # other courts beside this one (a club)
    stand_shadow: float  # where a stand's shadow ends across the court (sun), as a share; 0 none
    decor_seed: int  # buildings, trees, crowd, logos, wear: the same in every clip of the game

    def decor(self, purpose: int) -> np.random.Generator:
        """The random stream of one part of the decor (its own, so that what one clip's camera
        leaves out does not change the rest)."""
        return np.random.default_rng([self.decor_seed, purpose])


def make_style(indoor: bool, surface_name: str, variation: Variation,
               rng: np.random.Generator) -> VenueStyle:
    surface = CATALOGUE[surface_name]
    wear = float(rng.uniform(*variation.wear))
    court = jitter(surface.court, rng, 14)
    lines = surface.lines + (np.array(court) - surface.lines) * wear * rng.uniform(0.0, 0.45)
    crowd = float(rng.uniform(*variation.crowd))
    stands = tuple(bool(indoor or rng.random() < 0.25) for _ in range(4))
    return VenueStyle(
        indoor=indoor,
        surface=surface,
        court=court,
        runoff=jitter(surface.runoff, rng, 14),
        lines=tuple(int(round(c)) for c in lines),
        worn=jitter(surface.worn or surface.court, rng, 10),
        surround=jitter(_choice(SURROUNDS["indoor" if indoor else "outdoor"], rng), rng, 10),
        wall=jitter(_choice(WALLS, rng), rng, 12),
        wall_height=float(rng.uniform(1.0, 2.2)),
        fence_height=float(rng.uniform(3.0, 4.5)),
        arena=(float(rng.uniform(HALF_DOUBLES + 3.0, HALF_DOUBLES + 6.0)),
               float(rng.uniform(HALF_LENGTH + 5.0, HALF_LENGTH + 8.0))),
        crowd=crowd,
        wear=wear,
        stands=stands,
        neighbours=bool(not indoor and rng.random() < 0.5),
        stand_shadow=float(rng.uniform(0.1, 0.9)) if rng.random() < 0.5 else 0.0,
        decor_seed=int(rng.integers(2**31)),
    )


def render_venue(camera: Camera, style: VenueStyle, lighting: Lighting, kids: list[BallKid],
                 rng: np.random.Generator) -> np.ndarray:
    """Everything that does not move in a clip, drawn once (uint8 BGR, the camera's size)."""
    image = np.empty((camera.height, camera.width, 3), np.uint8)
    sides = open_sides(camera, style.arena)
    sky = "indoor" if style.indoor else lighting.kind
    draw_sky(image, camera, sky)
    fill_polygon(image, camera, ground_rect(-400, -400, 400, 400), style.surround)
    if style.neighbours:
        for side in (-1, 1):
            _court(image, camera, style, offset=side * 2 * style.arena[0])
    items = scenery_items(style.arena, sides, not style.indoor, style.crowd, list(style.stands),
                          style.decor(SCENERY))
    draw_scenery(image, camera, style.arena, items, style.wall_height)
    lamps = [light.position for light in lighting.lights if light.position is not None]
    draw_lamps(image, camera, lamps, poles=not style.indoor)
    w, length = style.arena
    fill_polygon(image, camera, ground_rect(-w, -length, w, length), style.runoff)
    _court(image, camera, style, offset=0.0)
    _wear(image, camera, style)
    _logos(image, camera, style.decor(LOGOS))
    if lighting.kind == "sun" and style.stand_shadow:
        _stand_shadow(image, camera, style, lighting.lights[0].darkness)
    _enclosure(image, camera, style, walls_seen(camera, style.arena, style.wall_height))
    _net(image, camera)
    for kid in kids:
        _ball_kid(image, camera, kid, KIT[style.decor_seed % len(KIT)])
    add_grain(image, rng)
    return image


def _court(image: np.ndarray, camera: Camera, style: VenueStyle, offset: float) -> None:
    """The court's colour (grass in mown bands) and its lines, centred at x = `offset`."""
    x, y = HALF_DOUBLES + COURT_MARGIN, HALF_LENGTH + COURT_MARGIN
    fill_polygon(image, camera, ground_rect(offset - x, -y, offset + x, y), style.court)
    if style.surface.stripes:
        lighter = tuple(min(255, c + 18) for c in style.court)
        edges = np.linspace(-y, y, 16)
        for y0, y1 in zip(edges[::2], edges[1::2]):
            fill_polygon(image, camera, ground_rect(offset - x, y0, offset + x, y1), lighter)
    for x0, y0, x1, y1, width in court_lines():
        half = width / 2
        fill_polygon(image, camera, ground_rect(offset + min(x0, x1) - half, min(y0, y1) - half,
                                                offset + max(x0, x1) + half, max(y0, y1) + half),
                     style.lines)


def _wear(image: np.ndarray, camera: Camera, style: VenueStyle) -> None:
    """Worn ground where players stand most: behind the centre of each baseline (where they
    serve and rally), along the baselines, at the service line's T, and a few scuffs; the lines
    there fade with it."""
    if style.wear <= 0:
        return
    rng = style.decor(WEAR)
    ground = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    patches = []
    for end in (-1, 1):
        patches += [(0.0, end * (HALF_LENGTH + 0.6), 2.8, 1.4),
                    (0.0, end * HALF_LENGTH, HALF_DOUBLES * 0.8, 0.7),
                    (0.0, end * SERVICE_LINE, 1.0, 0.6)]
    patches += [(rng.uniform(-HALF_DOUBLES, HALF_DOUBLES), rng.uniform(-HALF_LENGTH, HALF_LENGTH),
                 rng.uniform(0.3, 1.2), rng.uniform(0.2, 0.8)) for _ in range(6)]
    for x, y, radius_x, radius_y in patches:
        outline = plane_ellipse(x, y, radius_x, radius_y) @ ground
        blend_polygon(image, camera, outline, style.worn, style.wear * rng.uniform(0.3, 0.7))


def _logos(image: np.ndarray, camera: Camera, decor: np.random.Generator) -> None:
    """Painted marks on the run-off behind both baselines."""
    ground = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    for end in (-1, 1):
        centre = np.array([decor.uniform(-3.0, 3.0), end * (HALF_LENGTH + 2.5), 0.0])
        draw_logo(image, camera, centre, ground, 2.2, 0.8, decor, fill=fill_polygon)


def _stand_shadow(image: np.ndarray, camera: Camera, style: VenueStyle, darkness: float) -> None:
    """The sharp-edged shadow a stand or building throws over part of the enclosure."""
    w, length = style.arena
    edge = -w + 2 * w * style.stand_shadow
    blend_polygon(image, camera, ground_rect(-w, -length, edge, length), (0, 0, 0), darkness)


def _enclosure(image: np.ndarray, camera: Camera, style: VenueStyle, sides: list[bool]) -> None:
    """The walls (arena: solid boards with sponsors) or fences (outdoors: a windscreen, chain
    link above it, posts), far ones first; only those `sides` says."""
    w, length = style.arena
    walls = [((-w, -length), (-w, length)), ((w, -length), (w, length)),
             ((-w, -length), (w, -length)), ((-w, length), (w, length))]
    mid = [np.mean(wall, axis=0) for wall in walls]
    order = np.argsort([-np.linalg.norm(m - camera.position[:2]) for m in mid])
    for side in order:
        if not sides[side]:
            continue
        start, end = (np.array(point, float) for point in walls[side])
        fill_polygon(image, camera, upright_rect(start, end, 0.0, style.wall_height), style.wall)
        span = np.linalg.norm(end - start)
        basis = np.array([[*(end - start) / span, 0.0], [0.0, 0.0, 1.0]])
        boards = int(span // 5)
        decor = style.decor(WALL + side)
        if style.indoor or decor.random() < 0.5:
            for index in range(boards):
                centre = np.array([*(start + (end - start) * (index + 0.5) / boards),
                                   style.wall_height / 2])
                draw_logo(image, camera, centre, basis, span / boards * 0.7,
                          style.wall_height * 0.5, decor, fill=fill_polygon)
        if not style.indoor:
            _chain_link(image, camera, start, end, style)


def _chain_link(image: np.ndarray, camera: Camera, start: np.ndarray, end: np.ndarray,
                style: VenueStyle) -> None:
    """The see-through mesh above the windscreen (it darkens what is behind it), its posts and
    top rail."""
    top = style.fence_height
    blend_polygon(image, camera, upright_rect(start, end, style.wall_height, top), FENCE, 0.3)
    span = np.linalg.norm(end - start)
    for t in np.linspace(0.0, 1.0, max(2, int(span // 3.0) + 1)):
        base = start + (end - start) * t
        fill_polygon(image, camera, facing_quad(camera, base, 0.03, 0.0, top), FENCE)
    rail = upright_rect(start, end, top - 0.04, top)
    fill_polygon(image, camera, rail, FENCE)


def _net(image: np.ndarray, camera: Camera) -> None:
    """The net: a see-through dark mesh, its white tape and centre strap, the posts."""
    xs = np.linspace(-NET_POST_X, NET_POST_X, 9)
    top = np.stack([xs, np.zeros_like(xs), net_height(xs)], axis=1)
    blend_polygon(image, camera, np.concatenate([top, top[::-1] * [1, 1, 0]]), (25, 25, 25), 0.55)
    tape = np.concatenate([top, top[::-1] - [0.0, 0.0, 0.06]])
    fill_polygon(image, camera, tape, (240, 240, 240))
    strap = upright_rect(np.array([-0.025, 0.0]), np.array([0.025, 0.0]), 0.0, NET_HEIGHT_CENTRE)
    fill_polygon(image, camera, strap, (240, 240, 240))
    for x in (-NET_POST_X, NET_POST_X):
        post = facing_quad(camera, np.array([x, 0.0]), 0.05, 0.0, NET_HEIGHT_POST + 0.03)
        fill_polygon(image, camera, post, (45, 45, 45))


def _ball_kid(image: np.ndarray, camera: Camera, kid: BallKid, kit: BGR) -> None:
    """A ball kid as a billboard: legs, shirt, head (kneeling ones are shorter)."""
    hip = 0.45 if kid.kneeling else 0.8
    fill_polygon(image, camera, facing_quad(camera, kid.feet, 0.14, 0.0, hip), (40, 40, 45))
    fill_polygon(image, camera, facing_quad(camera, kid.feet, 0.19, hip, hip + 0.5), kit)
    fill_disc(image, camera, np.array([*kid.feet, hip + 0.65]), 0.1, (110, 150, 195))


def _choice(colours: list[BGR], rng: np.random.Generator) -> BGR:
    return colours[rng.integers(len(colours))]
