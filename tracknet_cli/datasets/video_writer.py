"""Writing MP4 video that browsers, phones and editors play: H.264 (yuv420p, `faststart`) encoded
by ffmpeg in its own process, so the encoder works on other cores while the model runs; OpenCV's
MPEG-4 Part 2 (mp4v), which browsers do not play, only where no ffmpeg can be found.

ffmpeg comes with the `imageio-ffmpeg` wheel (a static build with libx264), else from PATH. It runs
as a separate program fed raw frames on a pipe; nothing links against it, so its GPL licence does
not extend to tracknet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from tracknet_cli.datasets.video import quiet_opencv
from tracknet_cli.errors import TracknetError
from tracknet_cli.fileio import atomic_path

H264 = "H.264"
MP4V = "mp4v"
MP4V_NOTE = "mp4v: no ffmpeg found, so browsers and phones will not play it; `pip install imageio-ffmpeg`"
FFMPEG_ENV = "TRACKNET_FFMPEG"  # a path to use instead; "none" forces the mp4v fallback


def overlay_label(codec: str | None) -> str:
    """How a run's summary names its overlay: plainly when it plays everywhere, with the reason
    when it does not."""
    return "overlay" if codec in (None, H264) else f"overlay ({MP4V_NOTE})"


def find_ffmpeg() -> str | None:
    """The ffmpeg to encode with: $TRACKNET_FFMPEG, imageio-ffmpeg's bundled binary, or ffmpeg on
    PATH; None when there is none."""
    chosen = os.environ.get(FFMPEG_ENV)
    if chosen:
        return None if chosen.lower() == "none" else chosen
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):  # not installed, or no binary for this platform
        return shutil.which("ffmpeg")


class FfmpegWriter:
    """BGR frames in, an H.264 MP4 out: `write(frame)` per frame, then `release()`, which waits for
    the encoder and raises with its message if it failed."""

    codec = H264

    def __init__(self, path: Path, fps: float, size: tuple[int, int], ffmpeg: str, name: Path | None = None):
        self.size, self.name = size, name or path  # the file to name in messages
        rate = Fraction(fps).limit_denominator(1001)  # 29.97 stays 30000/1001, exactly
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "bgr24", "-video_size", f"{size[0]}x{size[1]}",
                   "-framerate", f"{rate.numerator}/{rate.denominator}", "-i", "pipe:0",
                   "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",  # 4:2:0 chroma needs even sides; a no-op for most videos
                   # ultrafast: the overlay shares 2 CPU cores with the model; its 11 ms of encoder CPU
                   # a 1080p frame (veryfast: 18) buys 1.4x end-to-end speed for ~3 Mbit/s files
                   "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
                   "-movflags", "+faststart", "-f", "mp4", str(path)]
        self.log = tempfile.TemporaryFile()  # not a pipe: a chatty encoder must never block on it
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=self.log)
        except OSError as exc:
            self.log.close()
            raise TracknetError(f"cannot run ffmpeg {ffmpeg!r} to write {self.name}: {exc}") from exc

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.size[1], self.size[0], 3):
            raise TracknetError(f"{self.name}: frame of shape {frame.shape}, expected "
                                f"{(self.size[1], self.size[0], 3)}")
        try:
            self.process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).data)
        except BrokenPipeError:
            self.release()  # raises with the encoder's own message
            raise TracknetError(f"ffmpeg stopped while writing {self.name}") from None

    def release(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        code = self.process.wait()
        if not self.log.closed:
            self.log.seek(0)
            message = self.log.read().decode(errors="replace").strip()
            self.log.close()
            if code != 0:
                raise TracknetError(f"ffmpeg could not write {self.name} (exit {code}): {message[-500:]}")


class OpenCVWriter:
    """The fallback: OpenCV's mp4v writer under the same interface."""

    codec = MP4V

    def __init__(self, path: Path, fps: float, size: tuple[int, int], name: Path | None = None):
        with quiet_opencv():
            self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise TracknetError(f"cannot write {name or path}: no ffmpeg found and OpenCV cannot encode mp4v here")

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def release(self) -> None:
        self.writer.release()


def open_writer(path: Path, fps: float, size: tuple[int, int], name: Path | None = None) -> FfmpegWriter | OpenCVWriter:
    """An MP4 writer at `fps` and `size` (W, H): H.264 through ffmpeg, else mp4v (its `codec`
    says which); messages name `name`, the file being written, where `path` is a temporary."""
    ffmpeg = find_ffmpeg()
    return FfmpegWriter(path, fps, size, ffmpeg, name) if ffmpeg else OpenCVWriter(path, fps, size, name)


@contextmanager
def video_writer(path: Path, fps: float, size: tuple[int, int]) -> Iterator[FfmpegWriter | OpenCVWriter]:
    """`open_writer` onto a temporary sibling of `path`, renamed onto it when the block completes
    and the encoder has finished; on an error nothing is left behind."""
    with atomic_path(path) as partial:
        writer = open_writer(partial, fps, size, name=path)
        try:
            yield writer
        except BaseException:
            try:
                writer.release()
            except TracknetError:
                pass  # the error that interrupted writing is the one to report
            raise
        writer.release()
