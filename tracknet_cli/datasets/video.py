"""Reading match videos frame by frame, with errors that name the file and the frame."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from tracknet_cli.errors import DataError

# FFmpeg's own log lines (codec probing, stream warnings) would break into the progress bars; the
# errors that matter are raised here, naming the file and the frame. Read when FFmpeg first starts.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

Item = TypeVar("Item")


VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")


def video_files(paths: Iterable[str | Path], option: str = "") -> list[Path]:
    """The videos named, a folder standing for the videos in it (sorted by name); a folder holding
    none is an error naming it (and `option`, the flag it came from)."""
    videos = []
    for path in map(Path, paths):
        inside = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if path.is_dir() else [path]
        if not inside:
            raise DataError(f"{option + ' ' if option else ''}{path}: a folder without videos "
                            f"({', '.join(VIDEO_SUFFIXES)})")
        videos += inside
    return videos


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    frame_count: int  # what the container's header claims; a truncated file holds fewer


class VideoReader:
    """Decoded BGR frames of a video, in order; use as a context manager and iterate."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise DataError(f"{self.path} is a folder, not a video file")
        if not self.path.is_file():
            raise DataError(f"video {self.path} does not exist")
        # FFmpeg only: OpenCV's fallback parsers print their complaints about a broken file
        with quiet_opencv():
            self._capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._capture.isOpened():
            raise DataError(f"{self.path} cannot be opened as a video (not a video, a codec "
                            "OpenCV's FFmpeg lacks, or an MP4 cut off before its index was written)")
        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0:
            self.close()
            raise DataError(f"{self.path} has no video stream")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(self.path, width, height, fps if fps > 0 else 30.0,
                              max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))))
        self.frames_read = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            self.frames_read += 1
            yield frame

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextmanager
def opened(video: str | Path | VideoReader) -> Iterator[VideoReader]:
    """A reader of `video`: the one given (its owner closes it), or one opened on the path and
    closed after the block."""
    if isinstance(video, VideoReader):
        yield video
        return
    with VideoReader(video) as reader:
        yield reader


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV's own log lines off for a block: the errors that matter are raised by name here."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def prefetched(items: Iterable[Item], depth: int = 32) -> Iterator[Item]:
    """`items`, produced by a background thread `depth` ahead of the consumer: decoding (and
    whatever the generator does per frame) overlaps the consumer's work, as OpenCV releases the GIL
    while it decodes, resizes and encodes. The bounded queue keeps memory flat; an exception in
    the producer is raised in the consumer."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put(item)
        except Exception as exc:  # handed to the consumer, which raises it with its traceback
            ready.put(exc)
        ready.put(done)

    thread = threading.Thread(target=produce, name="video-decoder", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
