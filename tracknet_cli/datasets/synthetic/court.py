"""The court: ITF dimensions, the net, and the surfaces a game can be played on.

World coordinates are metres: the origin is the centre of the court on the ground, X points to the
camera's right, Y away from the camera (the near baseline is at Y = -11.885), Z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracknet_cli.datasets.synthetic.colours import BGR, WHITE

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

def net_height(x: np.ndarray | float) -> np.ndarray | float:
    """Height of the net's top at lateral position x: it sags from the posts to the centre strap."""
    slope = (NET_HEIGHT_POST - NET_HEIGHT_CENTRE) / NET_POST_X
    return NET_HEIGHT_CENTRE + slope * np.minimum(np.abs(x), NET_POST_X)


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
    worn: BGR | None = None  # the colour play wears the surface to (realworld renderer)


def court_lines() -> list[tuple[float, float, float, float, float]]:
    """(x0, y0, x1, y1, width) of each painted line, centred on the line's nominal position."""
    length, doubles, singles = HALF_LENGTH, HALF_DOUBLES, HALF_SINGLES
    lines = [(0.0, -SERVICE_LINE, 0.0, SERVICE_LINE, LINE_WIDTH)]  # centre service line
    for sign in (-1, 1):
        lines += [
            (-doubles, sign * length, doubles, sign * length, BASELINE_WIDTH),
            (sign * doubles, -length, sign * doubles, length, LINE_WIDTH),
            (sign * singles, -length, sign * singles, length, LINE_WIDTH),
            (-singles, sign * SERVICE_LINE, singles, sign * SERVICE_LINE, LINE_WIDTH),
            (0.0, sign * length, 0.0, sign * (length - 0.15), LINE_WIDTH),  # centre mark
        ]
    return lines


SURFACES = (  # in turn order: any three games in a row show three different looks
    Surface("hard-blue", (150, 98, 45), (75, 125, 70), WHITE, 0.70, 0.76),
    Surface("clay", (50, 95, 190), (40, 78, 160), (215, 222, 228), 0.60, 0.80),
    Surface("grass", (70, 150, 85), (60, 128, 80), (235, 240, 240), 0.80, 0.66, stripes=True),
    Surface("hard-green", (85, 130, 65), (70, 75, 125), WHITE, 0.70, 0.76),
)
