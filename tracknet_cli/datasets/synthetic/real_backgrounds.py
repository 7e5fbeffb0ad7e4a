"""Synthetic ball flights rendered into real footage, in the TrackNet layout:

    OUT/game<N>/Clip<M>/0000.jpg, 0001.jpg, ...   frames (JPEG)
    OUT/game<N>/Clip<M>/Label.csv                  tennis labels

Each video is cut into shots with clean plates (shots.py); each plate is calibrated
(court_calibration.py); each shot with a court becomes one game of `clips_per_shot` clips, the
ball (and, if asked, two players) drawn over its plate (composite.py). Shots without a usable plate
or without a court contribute nothing, and the summary says which and why.

Videos are analysed in parallel worker processes (one job per video; in this process when there
is one), then clips are rendered in parallel (one job per clip), as generate.py does; the result
does not depend on `workers`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from tracknet_cli.datasets.synthetic.composite import Backdrop, composite_scene, make_backdrop
from tracknet_cli.datasets.synthetic.court_calibration import NoCourt, calibrate_court
from tracknet_cli.datasets.synthetic.generate import (
    Progress,
    SyntheticSummary,
    check_workers,
    clear_output,
    game_folders,
    render_all,
    render_into,
    write_clip,
)
from tracknet_cli.datasets.synthetic.shots import MAX_WIDTH, SAMPLES, find_shots
from tracknet_cli.datasets.synthetic.spec import MIN_WIDTH, check_frame_size, check_jpeg_quality
from tracknet_cli.datasets.synthetic.variation import whole_number
from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.errors import DataError


@dataclass(frozen=True)
class BackgroundSpec:
    clips_per_shot: int = 4
    frames_per_clip: int = 150
    width: int = 1280
    height: int = 720
    seed: int = 0
    jpeg_quality: int = 90  # of the files; each shot's own compression is applied before
    players: bool = True  # two synthetic players on court (the real ones are gone from the plate)
    plate_width: int = MAX_WIDTH  # px: shots are analysed and plates made at most this wide
    plate_samples: int = SAMPLES  # frames a plate is the median of, at most

    def validate(self) -> None:
        """Raise a DataError naming the first value that cannot be used."""
        for name, least in (("clips_per_shot", 1), ("frames_per_clip", 1), ("seed", 0),
                            ("plate_width", MIN_WIDTH), ("plate_samples", 3)):
            value = getattr(self, name)
            if not whole_number(value) or value < least:
                raise DataError(f"background data: {name} must be a whole number >= {least}, "
                                f"got {value!r}")
        check_frame_size("background data", self.width, self.height)
        check_jpeg_quality("background data", self.jpeg_quality)
        if not isinstance(self.players, bool):
            raise DataError(f"background data: players must be true or false, "
                            f"got {self.players!r}")


@dataclass
class BackgroundSummary(SyntheticSummary):
    """What was rendered (see SyntheticSummary), from which shots, and which shots were skipped."""

    shots: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # 'shot: why'


def generate_background_dataset(out: str | Path, videos: list[str | Path], spec: BackgroundSpec,
                                workers: int = 2, progress: Progress | None = None,
                                overwrite: bool = False, append: bool = False) -> BackgroundSummary:
    """Render `spec` over the shots of `videos` into `out`; `progress(n)` is told about every n
    frames rendered. Refuses a folder that holds game folders unless `overwrite` (see
    generate.clear_output), or, with `append`, adds its games after those already there (a
    synthetic dataset's). Raises a DataError naming the file for a video that cannot be read, and
    one listing every shot and why it was skipped when no shot shows a court."""
    started = time.perf_counter()
    backdrops, skipped = find_backdrops(videos, spec, workers)
    summary = render_backdrops(out, backdrops, spec, workers, progress, overwrite, append)
    summary.skipped, summary.seconds = skipped, time.perf_counter() - started
    return summary


def find_backdrops(videos: list[str | Path], spec: BackgroundSpec,
                   workers: int = 2) -> tuple[list[Backdrop], list[str]]:
    """The backdrops of the shots of `videos` that show a court, in order, and 'shot: why' for
    the others. Raises a DataError naming the file for a video that cannot be read, and one
    listing every shot and why it was skipped when no shot shows a court."""
    spec.validate()
    check_workers(workers)
    videos = [Path(video) for video in videos]
    if not videos:
        raise DataError("background data: no videos given")
    for video in videos:  # fail on a bad file before anything is analysed
        VideoReader(video).close()
    jobs = [(order, video, spec) for order, video in enumerate(videos)]
    with single_threaded_cv2():  # in this process, the arithmetic of a worker's (bit for bit)
        analysed = sorted(render_all(video_backdrops, jobs, min(workers, len(jobs)), None,
                                     units=lambda _: 0))
    backdrops = [backdrop for _, found, _ in analysed for backdrop in found]
    skipped = [reason for _, _, reasons in analysed for reason in reasons]
    if not backdrops:
        raise DataError(f"no shot of {', '.join(video.name for video in videos)} shows a court "
                        f"to render into: {'; '.join(skipped)}")
    return backdrops, skipped


def render_backdrops(out: str | Path, backdrops: list[Backdrop], spec: BackgroundSpec, workers: int = 2,
                     progress: Progress | None = None, overwrite: bool = False,
                     append: bool = False) -> BackgroundSummary:
    """`spec.clips_per_shot` clips over each backdrop, a game per backdrop, into `out` (see
    `generate_background_dataset` for `overwrite` and `append`)."""
    started = time.perf_counter()
    out = Path(out)
    if append:
        out.mkdir(parents=True, exist_ok=True)
    else:
        clear_output(out, overwrite, game_folders)
    first = max((int(folder.name[4:]) for folder in game_folders(out)), default=0) + 1
    jobs = [(out, spec, backdrop, game, clip) for game, backdrop in enumerate(backdrops, first)
            for clip in range(1, spec.clips_per_shot + 1)]
    summary = BackgroundSummary(shots=[backdrop.name for backdrop in backdrops])
    render_into(summary, render_background_clip, jobs, workers, progress,
                units=lambda done: done.frames)
    summary.seconds = time.perf_counter() - started
    return summary


@contextmanager
def single_threaded_cv2() -> Iterator[None]:
    """OpenCV on one thread for a block: a parallel reduction (ECC's correlations) may round
    differently on another number of threads, and a plate must not depend on `workers`."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def video_backdrops(order: int, video: Path, spec: BackgroundSpec,
                    progress: Progress | None = None) -> tuple[int, list[Backdrop], list[str]]:
    """The backdrops of a video's shots with a court, and 'shot: why' for the others; `order`
    comes back so results from a pool can be put in the order of the videos."""
    backdrops, skipped = [], []
    for shot in find_shots(video, spec.plate_width, samples=spec.plate_samples):
        if shot.problem:
            skipped.append(f"{shot.describe()}: {shot.problem}")
            continue
        calibration = calibrate_court(shot.plate)
        if isinstance(calibration, NoCourt):
            skipped.append(f"{shot.describe()}: {calibration.reason}")
            continue
        backdrops.append(make_backdrop(shot, calibration, spec.width, spec.height))
    return order, backdrops, skipped


def render_background_clip(out: Path, spec: BackgroundSpec, backdrop: Backdrop, game: int,
                           clip: int, progress: Progress | None = None) -> SyntheticSummary:
    """Render `game{game}/Clip{clip}`: its frames and, last, its Label.csv."""
    scene = composite_scene(backdrop, spec.frames_per_clip, spec.players, spec.seed, game, clip)
    folder = out / f"game{game}" / f"Clip{clip}"
    folder.mkdir(parents=True, exist_ok=True)
    return write_clip(folder, scene, spec.frames_per_clip, spec.jpeg_quality, progress=progress)
