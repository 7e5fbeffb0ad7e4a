"""Shared fixtures: a tiny hand-drawn TrackNet dataset and the real fixtures of ../shared."""

from __future__ import annotations

import os
from pathlib import Path

# Nothing downloads at test time: pretrained weights come from local files or fail with a message.
# Tests of the online path fake the hub; subprocesses inherit this.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2
import numpy as np
import pandas as pd
import pytest

from tracknet_cli.datasets.labels import write_tennis_labels
from tracknet_cli.tasks import task_of
from tracknet_cli.training.trainer import Trainer

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
TINY_SIZE = (320, 180)  # (W, H) of the tiny dataset's frames


def make_trainer(cfg, run_dir, *args, **kwargs) -> Trainer:
    """A Trainer of `cfg` with its task from the task table (what `tracknet train` builds)."""
    return Trainer(cfg, task_of(cfg), run_dir, *args, **kwargs)


def fixture_path(relative: str) -> Path:
    """A file of ../shared/fixtures, or skip the test saying which one is missing."""
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"real-data fixture {path} is not available")
    return path


def draw_ball(image: np.ndarray, x: float, y: float, radius: float, color=(255, 255, 255)) -> None:
    """An anti-aliased disc centred at sub-pixel (x, y); its intensity centroid is (x, y)."""
    shift = 4
    centre = (round(x * 2**shift), round(y * 2**shift))
    cv2.circle(image, centre, round(radius * 2**shift), color, -1, cv2.LINE_AA, shift)


def centroid(image: np.ndarray, threshold: float = 20.0) -> tuple[float, float]:
    """Intensity-weighted centre of the bright pixels of an image (any channels)."""
    gray = image.astype(np.float64)
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    gray = np.where(gray > threshold, gray, 0.0)
    ys, xs = np.indices(gray.shape)
    total = gray.sum()
    return float((xs * gray).sum() / total), float((ys * gray).sum() / total)


def ball_track(frame: int, clip: int) -> tuple[float, float]:
    """Where the tiny dataset's ball is: a diagonal line, different per clip."""
    return 40.0 + 21.3 * frame + 3 * clip, 30.0 + 9.7 * frame + 5 * clip


def make_tiny_dataset(root: Path, games=(1, 2), clips=2, frames=10, size=TINY_SIZE) -> Path:
    """game*/Clip*/NNNN.jpg on a dark court with a white ball; frame 3 has no ball, frame 5 is occluded."""
    width, height = size
    for game in games:
        for clip in range(1, clips + 1):
            clip_dir = root / f"game{game}" / f"Clip{clip}"
            clip_dir.mkdir(parents=True)
            rows = []
            for frame in range(frames):
                image = np.full((height, width, 3), 40, np.uint8)
                x, y = ball_track(frame, clip)
                visibility = 0 if frame == 3 else (3 if frame == 5 else 1)
                if visibility == 1:
                    draw_ball(image, x, y, 3.0)
                cv2.imwrite(str(clip_dir / f"{frame:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
                rows.append({"frame": frame, "file": f"{frame:04d}.jpg", "visibility": visibility,
                             "x": x if visibility else np.nan, "y": y if visibility else np.nan,
                             "status": 0})
            write_tennis_labels(clip_dir / "Label.csv", pd.DataFrame(rows))
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return make_tiny_dataset(tmp_path / "tiny")


def ball_difference(scene, frame: int) -> np.ndarray:
    """(H, W): how much drawing the ball changes each pixel of a rendered frame (noise off)."""
    from tracknet_cli.datasets.synthetic import render_frame

    with_ball, _ = render_frame(scene, frame, noise=False)
    without, _ = render_frame(scene, frame, noise=False, draw_ball=False)
    return np.abs(with_ball.astype(float) - without).sum(axis=2)


def weighted_centre(weight: np.ndarray) -> np.ndarray:
    """(x, y) of a weight map's centroid, in pixel centres."""
    ys, xs = np.indices(weight.shape)
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def label_errors(scene, drawn=None, limit: int | None = None) -> list[float]:
    """Per frame of `scene` whose ball is visible and flying: how far its label is from
    the centroid of what drawing the ball changes in `drawn` (the same scene, say on a plain
    background; default `scene` itself), up to `limit` frames."""
    from tracknet_cli.datasets.synthetic import render_frame
    from tracknet_cli.datasets.synthetic.trajectory import FLYING

    errors = []
    for frame in range(scene.frames):
        _, label = render_frame(scene, frame, noise=False)
        if label.visibility == 1 and label.status == FLYING and (limit is None or len(errors) < limit):
            errors.append(float(np.hypot(*(weighted_centre(ball_difference(drawn or scene, frame))
                                           - (label.x, label.y)))))
    return errors
