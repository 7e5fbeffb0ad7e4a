"""What to render: the size of the synthetic dataset and of its frames."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

from tracknet_cli.errors import DataError

MIN_WIDTH, MIN_HEIGHT = 64, 36  # below this the court is a smudge and the players a few pixels
MIN_FPS, MAX_FPS = 10.0, 1000.0  # below 10 fps a whole shot is a couple of frames


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

    def validate(self) -> None:
        """Raise a DataError naming the first value that cannot be rendered."""
        for name in ("games", "clips_per_game", "frames_per_clip"):
            value = getattr(self, name)
            if not _whole(value) or value < 1:
                raise DataError(f"synthetic data: {name} must be a positive whole number, "
                                f"got {value!r}")
        for name, least in (("width", MIN_WIDTH), ("height", MIN_HEIGHT)):
            value = getattr(self, name)
            if not _whole(value) or value < least or value % 2:
                raise DataError(f"synthetic data: {name} must be an even number of pixels, at "
                                f"least {least} (the mp4 encoder needs even sizes), got {value!r}")
        fps_ok = isinstance(self.fps, Real) and math.isfinite(self.fps)
        if not fps_ok or not MIN_FPS <= self.fps <= MAX_FPS:
            raise DataError(f"synthetic data: fps must be between {MIN_FPS:g} and {MAX_FPS:g}, "
                            f"got {self.fps!r}")
        if not _whole(self.seed) or self.seed < 0:
            raise DataError(f"synthetic data: seed must be a whole number >= 0, got {self.seed!r}")
        if not _whole(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            raise DataError(f"synthetic data: jpeg_quality must be 1 to 100, "
                            f"got {self.jpeg_quality!r}")


def _whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)
