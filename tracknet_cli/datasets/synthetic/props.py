"""Balls that are not the ball in play: lying on the court, held, pocketed, held by ball kids.

A real match is full of them, and a detector trained only on rallies reports them between points.
Each is drawn like the ball (same size, colour family and shutter blur when it moves with its
carrier) and is never labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracknet_cli.datasets.synthetic.colours import BALL, BGR, jitter
from tracknet_cli.datasets.synthetic.court import HALF_DOUBLES, HALF_LENGTH, NET_POST_X
from tracknet_cli.datasets.synthetic.players import PlayerTrack, free_hand, pocket
from tracknet_cli.datasets.synthetic.trajectory import BALL_RADIUS, BallTrack
from tracknet_cli.datasets.synthetic.variation import Variation

CLEAR_OF_PLAY = 1.0  # seconds: a player holds a spare ball only this long clear of a live ball


@dataclass(frozen=True)
class StillBall:
    """A ball that is not in play, per frame (it may move with whoever carries it)."""

    position: np.ndarray  # (n, 3) world metres; NaN rows: not in the picture
    colour: BGR


@dataclass(frozen=True)
class BallKid:
    """A ball kid holding a ball: kneeling by a net post or standing in a back corner."""

    feet: np.ndarray  # (2,) world metres
    kneeling: bool
    facing: float  # +1 looks toward +X (across the court), -1 toward -X

    @property
    def hand(self) -> np.ndarray:
        height = 0.55 if self.kneeling else 0.85
        return np.array([*self.feet, height]) + [0.22 * self.facing, 0.0, 0.0]


def place_ball_kids(arena: tuple[float, float], rng: np.random.Generator) -> list[BallKid]:
    """Two at the net posts and two in the back corners, each there at a 70% chance."""
    spots = [(side * (NET_POST_X + 0.7), rng.uniform(-0.4, 0.4), True) for side in (-1, 1)]
    spots += [(side * rng.uniform(HALF_DOUBLES + 1.0, arena[0] - 0.4),
               end * (arena[1] - rng.uniform(0.4, 1.2)), False)
              for side, end in ((-1, -1), (1, 1))]
    return [BallKid(np.array([x, y]), kneeling, -np.sign(x)) for x, y, kneeling in spots
            if rng.random() < 0.7]


def ground_balls(count: int, frames: int, arena: tuple[float, float],
                 rng: np.random.Generator) -> list[StillBall]:
    """Balls lying still: against the back or side fence, at the foot of the net, behind a
    baseline where a player dropped it."""
    balls = []
    for _ in range(count):
        where = rng.integers(4)
        if where == 0:  # against the back fence
            x, y = rng.uniform(-arena[0], arena[0]), rng.choice([-1, 1]) * (arena[1] - 0.1)
        elif where == 1:  # against a side fence
            x, y = rng.choice([-1, 1]) * (arena[0] - 0.1), rng.uniform(-arena[1], arena[1])
        elif where == 2:  # at the foot of the net
            x, y = rng.uniform(-NET_POST_X, NET_POST_X), rng.choice([-1, 1]) * rng.uniform(0.1, 0.6)
        else:  # behind a baseline
            x = rng.uniform(-HALF_DOUBLES, HALF_DOUBLES)
            y = rng.choice([-1, 1]) * (HALF_LENGTH + rng.uniform(0.3, 2.5))
        still = np.tile([x, y, BALL_RADIUS], (frames, 1))
        balls.append(StillBall(still, old_ball_colour(rng)))
    return balls


def carried_balls(players: tuple[PlayerTrack, ...], ball: BallTrack, fps: float,
                  variation: Variation, rng: np.random.Generator) -> list[StillBall]:
    """Spare balls in players' pockets (the whole clip) and hands (only in dead time)."""
    frames = len(ball)
    dead = _clear_of_play(ball, int(round(CLEAR_OF_PLAY * fps)))
    balls = []
    for player in players:
        if rng.random() < variation.pocket_balls:
            path = np.array([pocket(player, frame) for frame in range(frames)])
            balls.append(StillBall(path, old_ball_colour(rng)))
        if rng.random() < variation.hand_balls:
            path = np.array([free_hand(player, frame) for frame in range(frames)])
            path[~dead] = np.nan
            balls.append(StillBall(path, old_ball_colour(rng)))
    return balls


def kids_balls(kids: list[BallKid], frames: int, rng: np.random.Generator) -> list[StillBall]:
    return [StillBall(np.tile(kid.hand, (frames, 1)), old_ball_colour(rng)) for kid in kids]


def old_ball_colour(rng: np.random.Generator) -> BGR:
    """A used ball: the optic yellow faded toward grey-green by up to a third."""
    grey = np.array([120.0, 150.0, 150.0])
    faded = BALL + (grey - BALL) * rng.uniform(0.0, 0.35)
    return jitter(tuple(int(round(c)) for c in faded), rng, 10)


def _clear_of_play(ball: BallTrack, margin: int) -> np.ndarray:
    """(n,) bool: frames at least `margin` frames from any frame with a ball in play."""
    live = ~np.isnan(ball.position[:, 0])
    if ball.in_play is not None:
        live &= ball.in_play
    window = np.convolve(live.astype(float), np.ones(2 * margin + 1))  # (n + 2 * margin,)
    return window[margin:margin + len(live)] == 0
