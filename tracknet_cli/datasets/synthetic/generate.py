"""Render a synthetic dataset in the TrackNet layout:

    OUT/game1/Clip1/0000.jpg, 0001.jpg, ...   frames (JPEG)
    OUT/game1/Clip1/Label.csv                  tennis labels
    OUT/game1/Clip1.mp4                        the same clip as a video (mp4v)

Clips are independent (each has its own random streams, see scene.py), so they are rendered in
parallel worker processes and the result does not depend on `workers`.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pandas as pd

from tracknet_cli.datasets.labels import LABEL_COLUMNS, write_tennis_labels
from tracknet_cli.datasets.synthetic.render import ClipScene, render_frame
from tracknet_cli.datasets.synthetic.scene import build_scene
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec
from tracknet_cli.errors import DataError

Progress = Callable[[int], None]
GAME_FOLDER = re.compile(r"^game\d+$", re.IGNORECASE)  # as the dataset index finds games
Result = TypeVar("Result")


@dataclass
class SyntheticSummary:
    """What was rendered: frame and clip counts, wall time, and how many frames got each
    visibility code and (among frames with the ball in view) each status code."""

    frames: int = 0
    clips: int = 0
    seconds: float = 0.0
    visibility: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(4), 0))
    status: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(3), 0))

    def add(self, clip: SyntheticSummary) -> None:
        self.frames += clip.frames
        self.clips += clip.clips
        for mine, theirs in ((self.visibility, clip.visibility), (self.status, clip.status)):
            for code, count in theirs.items():
                mine[code] += count


def generate_synthetic_dataset(out: str | Path, spec: SyntheticSpec, workers: int = 2,
                               progress: Progress | None = None,
                               overwrite: bool = False) -> SyntheticSummary:
    """Render `spec` into `out`. `progress(n)` is told about every n frames finished.

    Refuses to write into a folder that already holds game folders unless `overwrite`, in which
    case those game folders (and nothing else) are deleted first.
    """
    spec.validate()
    check_workers(workers)
    out = Path(out)
    clear_output(out, overwrite, game_folders)
    jobs = [(out, spec, game, clip) for game in range(1, spec.games + 1)
            for clip in range(1, spec.clips_per_game + 1)]
    return render_into(SyntheticSummary(), render_clip, jobs, workers, progress, units=lambda done: done.frames)


def render_clip(out: Path, spec: SyntheticSpec, game: int, clip: int,
                progress: Progress | None = None) -> SyntheticSummary:
    """Render `game{game}/Clip{clip}`: its frames, its video and, last, its Label.csv."""
    scene = build_scene(spec, game, clip)
    folder = out / f"game{game}" / f"Clip{clip}"
    folder.mkdir(parents=True, exist_ok=True)
    video = _open_video(folder.with_suffix(".mp4"), scene.fps, spec)
    try:
        return write_clip(folder, scene, spec.frames_per_clip, spec.jpeg_quality, video, progress)
    finally:
        video.release()


def write_clip(folder: Path, scene: ClipScene, frames: int, jpeg_quality: int,
               video: cv2.VideoWriter | None = None, progress: Progress | None = None) -> SyntheticSummary:
    """Render `frames` frames of `scene` into `folder` as JPEGs (and into `video`), then its Label.csv."""
    rows = []
    for frame in range(frames):
        image, label = render_frame(scene, frame)
        name = f"{frame:04d}.jpg"
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            raise DataError(f"could not encode {folder / name} as JPEG")
        jpeg.tofile(folder / name)
        if video is not None:
            video.write(image)
        rows.append((frame, name, label.visibility, label.x, label.y, label.status))
        if progress is not None:
            progress(1)
    table = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    write_tennis_labels(folder / "Label.csv", table)
    return clip_summary(table)


def clip_summary(table: pd.DataFrame) -> SyntheticSummary:
    visibility = np.bincount(table["visibility"], minlength=4)
    status = np.bincount(table.loc[table["visibility"] > 0, "status"], minlength=3)
    return SyntheticSummary(frames=len(table), clips=1,
                            visibility={code: int(n) for code, n in enumerate(visibility)},
                            status={code: int(n) for code, n in enumerate(status)})


def check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DataError(f"synthetic data: workers must be a positive whole number, got {workers!r}")


def render_into(summary: Result, render: Callable[..., Result], jobs: list[tuple], workers: int,
                progress: Progress | None, units: Callable[[Result], int]) -> Result:
    """Every job's result added into `summary` (see `render_all`), with the seconds it all took."""
    started = time.perf_counter()
    for result in render_all(render, jobs, workers, progress, units):
        summary.add(result)
    summary.seconds = time.perf_counter() - started
    return summary


def render_all(render: Callable[..., Result], jobs: list[tuple], workers: int, progress: Progress | None,
               units: Callable[[Result], int]) -> Iterator[Result]:
    """`render(*job)` for every job: in this process, passing `progress` on, or in a pool of
    `workers`, telling `progress` the `units` of each result as it comes."""
    if workers == 1:
        for job in jobs:
            yield render(*job, progress=progress)
        return
    for result in render_in_pool(render, jobs, min(workers, len(jobs))):
        if progress is not None:
            progress(units(result))
        yield result


def render_in_pool(render: Callable[..., Result], jobs: list[tuple],
                   workers: int) -> Iterator[Result]:
    """Yield `render(*job)` for each job as its worker finishes; on an error, skip jobs not yet
    started. Results come in the order workers finish: the jobs must write disjoint files.

    Workers are spawned, not forked: a fresh interpreter (about a second to start) cannot inherit
    the caller's threads or locks (a progress bar's, a deep learning library's).
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_single_threaded_cv2) as pool:
        futures = [pool.submit(render, *job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()  # does nothing to finished or running jobs


def _single_threaded_cv2() -> None:
    """One job per process already fills the cores; cv2's own threads would only contend."""
    cv2.setNumThreads(1)


def _open_video(path: Path, fps: float, spec: SyntheticSpec) -> cv2.VideoWriter:
    """An mp4 at the clip's frame rate (the realworld renderer draws one per game)."""
    video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                            (spec.width, spec.height))
    if not video.isOpened():
        raise DataError(f"could not open {path} for writing an mp4v video (is OpenCV built with "
                        "FFmpeg?)")
    return video


def clear_output(out: Path, overwrite: bool, dataset_parts: Callable[[Path], list[Path]]) -> None:
    """Make sure `out` is a folder without a dataset in it (`dataset_parts(out)` lists what one
    left there), deleting those parts, and nothing else, if `overwrite`."""
    if not out.exists():
        out.mkdir(parents=True)
        return
    if not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    found = dataset_parts(out)
    if found and not overwrite:
        raise DataError(f"{out} already holds a dataset ({', '.join(p.name for p in found[:3])}"
                        f"{', ...' if len(found) > 3 else ''}); pass overwrite (--overwrite) to "
                        "replace it, or choose another folder")
    for part in found:
        if part.is_dir():
            shutil.rmtree(part)
        else:
            part.unlink()


def game_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and GAME_FOLDER.match(p.name))
