"""What the realworld renderer varies, and over what ranges: the `variation` section of a spec.

A range is (low, high), drawn uniformly; a table of weights picks one of its names in proportion
to its weight (a weight of 0 leaves the name out). Per game (one video: one court, one light, one
camera body) the renderer draws the venue, surface, lighting, frame rate, source resolution,
compression and singles or doubles; per clip it draws the camera placement, zoom, shake, shutter
and the balls lying about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

from tracknet_cli.datasets.synthetic.surfaces import CATALOGUE
from tracknet_cli.errors import DataError

MIN_FPS, MAX_FPS = 10.0, 1000.0  # below 10 fps a whole shot is a couple of frames
PLACEMENTS = ("broadcast", "tripod", "side", "corner", "courtside")
VENUES = ("arena", "outdoor")
LIGHTS = ("sun", "overcast", "floodlights")
SURFACE_NAMES = tuple(CATALOGUE)
CHOICES = {"cameras": PLACEMENTS, "venues": VENUES, "lighting": LIGHTS, "surfaces": SURFACE_NAMES}
# Range keys with the values they must lie within, and whether they are whole numbers.
LIMITS = {
    "zoom": (0.3, 4.0, False),
    "shake": (0.0, 20.0, False),
    "pan": (0.0, 0.2, False),
    "crowd": (0.0, 1.0, False),
    "wear": (0.0, 1.0, False),
    "exposure": (0.2, 5.0, False),
    "vignette": (0.0, 0.9, False),
    "source_height": (36, 4320, True),
    "shutter": (0.01, 1.0, False),
    "compression": (1, 100, True),
    "ground_balls": (0, 20, True),
    "pause": (0.0, 60.0, False),
    "bounces": (0, 10, True),
    "lead": (0.0, 600.0, False),
}
PROBABILITIES = ("white_balance", "doubles", "chroma_subsampling", "pocket_balls", "hand_balls",
                 "ball_kids", "fence", "caught_toss")


@dataclass(frozen=True)
class Variation:
    """The ranges; the defaults are the `realworld` preset's (configs/synthetic/realworld.yaml
    spells them out, and a test keeps the two the same)."""

    # the camera: where it stands, how far it zooms in (focal length over the one that fits the
    # court), its per-frame jitter (pixels at 1280 px wide) and slow drift (share of the width)
    cameras: dict[str, float] = field(default_factory=lambda: {
        "broadcast": 3.0, "tripod": 2.0, "side": 1.0, "corner": 1.5, "courtside": 0.5})
    zoom: tuple[float, float] = (0.9, 1.25)
    shake: tuple[float, float] = (0.0, 1.5)
    pan: tuple[float, float] = (0.0, 0.02)
    fence: float = 0.6  # chance a tripod behind an outdoor back fence films through its mesh
    # the place: arena (walls, stands, roof) or outdoor (fences, trees, buildings, sky)
    venues: dict[str, float] = field(default_factory=lambda: {"arena": 1.0, "outdoor": 1.5})
    crowd: tuple[float, float] = (0.0, 0.9)  # share of seats taken
    surfaces: dict[str, float] = field(default_factory=lambda: {
        "hard-blue": 2.0, "hard-green": 1.0, "hard-purple": 0.7, "hard-red": 0.7, "hard-grey": 0.6,
        "clay": 2.0, "grass": 1.0, "artificial-grass": 1.0, "carpet": 0.7})
    wear: tuple[float, float] = (0.0, 1.0)  # 0: a new court; 1: worn baselines, faded lines
    # the light and how the camera renders it
    lighting: dict[str, float] = field(default_factory=lambda: {
        "sun": 2.0, "overcast": 1.0, "floodlights": 1.0})
    exposure: tuple[float, float] = (0.75, 1.3)  # gain on the whole picture
    white_balance: float = 0.08  # largest per-channel gain error
    vignette: tuple[float, float] = (0.0, 0.35)  # share of brightness lost in the corners
    # the recording
    source_height: tuple[int, int] = (360, 1080)  # a source below the output is upsampled
    frame_rates: tuple[float, ...] = (25.0, 30.0, 50.0, 60.0)
    shutter: tuple[float, float] = (0.1, 1.0)  # share of the frame interval the shutter is open
    compression: tuple[int, int] = (40, 95)  # JPEG quality of the source's encoder
    chroma_subsampling: float = 0.7  # chance the source's encoder halves the colour resolution
    # the people and the balls that are not in play
    doubles: float = 0.3
    ground_balls: tuple[int, int] = (0, 3)  # balls lying on the court or by the fence, per clip
    pocket_balls: float = 0.4  # chance a player has a ball in the pocket
    hand_balls: float = 0.4  # chance a player holds a ball between points
    ball_kids: float = 0.4  # chance of ball kids (holding balls) at the net and in the corners
    # the rhythm of a match: dead time between points and the server's routine before serving
    # seconds from the end of a point to the server's routine: about 60% of frames are in play
    pause: tuple[float, float] = (2.5, 7.0)
    bounces: tuple[int, int] = (1, 3)  # the server bounces the ball this often before the toss
    caught_toss: float = 0.15  # chance the server catches a toss and tosses again
    lead: tuple[float, float] = (0.0, 20.0)  # seconds into the simulated match a clip starts

    def validate(self) -> None:
        """Raise a DataError naming the first key whose value cannot be used."""
        for name, choices in CHOICES.items():
            _check_weights(name, getattr(self, name), choices)
        for name, (least, most, whole) in LIMITS.items():
            _check_range(name, getattr(self, name), least, most, whole)
        for name in PROBABILITIES:
            value = getattr(self, name)
            if not finite_number(value) or not 0.0 <= value <= 1.0:
                raise _error(name, f"a probability must be in [0, 1], got {value!r}")
        rates = self.frame_rates
        if not isinstance(rates, tuple) or not rates or not all(
                finite_number(rate) and MIN_FPS <= rate <= MAX_FPS for rate in rates):
            raise _error("frame_rates", f"expected a list of frame rates between {MIN_FPS:g} and "
                                        f"{MAX_FPS:g}, got {rates!r}")

    @classmethod
    def from_mapping(cls, values: dict) -> Variation:
        """From plain YAML values: lists become tuples (the spec stays comparable and frozen)."""
        return cls(**{key: tuple(value) if isinstance(value, list) else value
                      for key, value in values.items()})


def _check_weights(name: str, weights: object, choices: tuple[str, ...]) -> None:
    if not isinstance(weights, dict) or not weights:
        raise _error(name, f"expected a mapping of {', '.join(choices)} to weights, "
                           f"got {weights!r}")
    for key, weight in weights.items():
        if key not in choices:
            raise _error(f"{name}.{key}", f"unknown; expected one of {', '.join(choices)}")
        if not finite_number(weight) or weight < 0:
            raise _error(f"{name}.{key}", f"a weight must be a number >= 0, got {weight!r}")
    if sum(weights.values()) <= 0:
        raise _error(name, "at least one weight must be positive")


def _check_range(name: str, value: object, least: float, most: float, whole: bool) -> None:
    kind = "whole numbers" if whole else "numbers"
    ok = (isinstance(value, tuple) and len(value) == 2
          and all(whole_number(v) if whole else finite_number(v) for v in value))
    if not ok or not least <= value[0] <= value[1] <= most:
        raise _error(name, f"expected [low, high], {kind} with {least:g} <= low <= high <= "
                           f"{most:g}, got {value!r}")


def _error(key: str, message: str) -> DataError:
    return DataError(f"synthetic data: variation.{key}: {message}")


def finite_number(value: object) -> bool:
    """A real number (not a bool), neither infinite nor NaN."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def whole_number(value: object) -> bool:
    """An integer that is not a bool (YAML's `yes` must not count as 1)."""
    return isinstance(value, Integral) and not isinstance(value, bool)
