"""What to render: the size of the synthetic dataset and of its frames, and what varies.

Without a `variation` section the renderer draws the broadcast look: the main TV camera behind
the baseline, four surfaces in turn, one rally after another (the `broadcast` preset). With one,
every game and clip draws its camera, venue, surface, light, recording and dead time from the
section's ranges (the `realworld` preset; see variation.py). Presets live in configs/synthetic/.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from tracknet_cli.datasets.synthetic.variation import MAX_FPS, MIN_FPS, Variation, whole_number
from tracknet_cli.errors import DataError

MIN_WIDTH, MIN_HEIGHT = 64, 36  # below this the court is a smudge and the players a few pixels


@dataclass(frozen=True)
class SyntheticSpec:
    games: int = 5
    clips_per_game: int = 4
    frames_per_clip: int = 150
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    seed: int = 0
    jpeg_quality: int = 90
    # None: the broadcast look. With a variation the frame rate is drawn per game from
    # variation.frame_rates and `fps` is not used.
    variation: Variation | None = None

    def validate(self) -> None:
        """Raise a DataError naming the first value that cannot be rendered."""
        for name in ("games", "clips_per_game", "frames_per_clip"):
            value = getattr(self, name)
            if not whole_number(value) or value < 1:
                raise DataError(f"synthetic data: {name} must be a positive whole number, "
                                f"got {value!r}")
        check_frame_size("synthetic data", self.width, self.height)
        fps_ok = isinstance(self.fps, Real) and math.isfinite(self.fps)
        if not fps_ok or not MIN_FPS <= self.fps <= MAX_FPS:
            raise DataError(f"synthetic data: fps must be between {MIN_FPS:g} and {MAX_FPS:g}, "
                            f"got {self.fps!r}")
        if not whole_number(self.seed) or self.seed < 0:
            raise DataError(f"synthetic data: seed must be a whole number >= 0, got {self.seed!r}")
        check_jpeg_quality("synthetic data", self.jpeg_quality)
        if self.variation is not None:
            self.variation.validate()


def check_frame_size(what: str, width: int, height: int) -> None:
    """Frames the renderer can write: even sizes (the mp4 encoder's), not below a legible court."""
    for name, value, least in (("width", width, MIN_WIDTH), ("height", height, MIN_HEIGHT)):
        if not whole_number(value) or value < least or value % 2:
            raise DataError(f"{what}: {name} must be an even number of pixels, at least {least} "
                            f"(the mp4 encoder needs even sizes), got {value!r}")


def check_jpeg_quality(what: str, quality: int) -> None:
    if not whole_number(quality) or not 1 <= quality <= 100:
        raise DataError(f"{what}: jpeg_quality must be 1 to 100, got {quality!r}")
