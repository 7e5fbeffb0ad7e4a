"""The light of a game: where players' shadows fall, how dark they are, how the camera exposes.

    sun          one hard shadow per player, long or short by the sun's height, in any direction
    overcast     one soft pool of shade under each player
    floodlights  a few faint shadows per player, one from each lamp (the X under a player at
                 night); indoors the lamps hang over the court, outdoors they stand on poles

The camera's rendering of that light (exposure and white balance as per-channel gains, a contrast
curve, vignetting) is applied to the finished frame (finish.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import Camera
from tracknet_cli.datasets.synthetic.court import HALF_DOUBLES, HALF_LENGTH
from tracknet_cli.datasets.synthetic.drawing import in_front
from tracknet_cli.datasets.synthetic.players import PlayerTrack
from tracknet_cli.datasets.synthetic.variation import Variation

PLAYER_HEIGHT = 1.75  # metres: where the tip of a player's shadow comes from
FOOTPRINT, HEAD_SPOT = 0.3, 0.22  # metres: radius of the shadow around the feet and of the head's
RING = np.linspace(0, 2 * np.pi, 12, endpoint=False)
# Per-channel (B, G, R) tints of each kind of light, before the white-balance error.
TINTS = {"sun": (0.97, 1.0, 1.04), "overcast": (1.04, 1.0, 0.97),
         "floodlights": (0.9, 0.98, 1.1)}


@dataclass(frozen=True)
class Light:
    """One source of shadows: the sun (a direction) or a lamp (a point)."""

    darkness: float  # share of the light a shadow takes away
    direction: np.ndarray | None = None  # (2,) ground shift of a shadow per metre of height
    position: np.ndarray | None = None  # (3,) a lamp, world metres

    def shift(self, feet: np.ndarray) -> np.ndarray:
        """Ground shift (2,) of the shadow of a point one metre above `feet` (2,)."""
        if self.position is None:
            return self.direction
        return (feet - self.position[:2]) / (self.position[2] - 1.0)  # similar triangles


@dataclass(frozen=True)
class Lighting:
    kind: str  # "sun", "overcast" or "floodlights"
    lights: tuple[Light, ...]
    gain: tuple[float, float, float]  # B, G, R: exposure times white balance
    gamma: float  # the camera's contrast curve: output = gain * input ** gamma (0..1 scale)
    vignette: float  # share of brightness lost in the frame's corners


def make_lighting(kind: str, indoor: bool, variation: Variation,
                  rng: np.random.Generator) -> Lighting:
    if kind == "sun":
        azimuth, elevation = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(20.0, 65.0))
        direction = np.array([np.cos(azimuth), np.sin(azimuth)]) / np.tan(elevation)
        lights = (Light(rng.uniform(0.35, 0.6), direction=direction),)
    elif kind == "overcast":
        lights = (Light(rng.uniform(0.2, 0.35), direction=np.zeros(2)),)
    else:
        lights = _lamps(indoor, rng)
    balance = 1.0 + rng.uniform(-variation.white_balance, variation.white_balance, 3)
    gain = rng.uniform(*variation.exposure) * balance * TINTS[kind]
    return Lighting(kind, lights, tuple(float(g) for g in gain), float(rng.uniform(0.85, 1.15)),
                    float(rng.uniform(*variation.vignette)))


def _lamps(indoor: bool, rng: np.random.Generator) -> tuple[Light, ...]:
    """Indoors, rows of lamps above the court; outdoors, poles at the corners and the net."""
    if indoor:
        xs, ys, height = (-HALF_DOUBLES - 1.0, HALF_DOUBLES + 1.0), (-9.0, 0.0, 9.0), (10.0, 16.0)
    else:
        xs, ys, height = (-HALF_DOUBLES - 4.0, HALF_DOUBLES + 4.0), (-HALF_LENGTH - 3.0, 0.0,
                                                                     HALF_LENGTH + 3.0), (9.0, 15.0)
    spots = [(x, y) for x in xs for y in ys if rng.random() < 0.8] or [(xs[0], ys[0])]
    darkness = rng.uniform(0.08, 0.18)
    return tuple(Light(darkness, position=np.array([x, y, rng.uniform(*height)]))
                 for x, y in spots)


def player_shadows(track: PlayerTrack, frame: int, camera: Camera,
                   lighting: Lighting) -> list[tuple[np.ndarray, float]]:
    """Image polygons (k, 2) of the player's shadows on `frame`, each with its darkness.

    A standing player's shadow is the hull of a pool around the feet and a spot where the head's
    shadow falls; it is skipped when it reaches behind the camera.
    """
    feet = track.ground[frame]
    shadows = []
    for light in lighting.lights:
        tip = feet + light.shift(feet) * PLAYER_HEIGHT
        ring = np.stack([np.cos(RING), np.sin(RING)], axis=1)
        ground = np.concatenate([feet + FOOTPRINT * ring, tip + HEAD_SPOT * ring])
        points = np.concatenate([ground, np.zeros((len(ground), 1))], axis=1)
        if not in_front(camera, points):
            continue
        hull = cv2.convexHull(camera.project(points)[0].astype(np.float32))[:, 0]
        shadows.append((hull.astype(float), light.darkness))
    return shadows
