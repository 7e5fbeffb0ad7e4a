"""Shots of a real video and their clean plates: the view with the ball and the players gone.

A broadcast is a run of shots joined by hard cuts. The video is decoded once, in order; RATE
frames a second are sampled and shrunk to a working size (at most MAX_WIDTH wide), so a 4K or
hours-long video costs no more memory than one shot's samples:

- Cuts: the colour histogram of each sample against the previous one. A cut changes the whole
  palette at once; a pan or zoom over 1/RATE s barely moves it.
- Alignment: each kept sample is registered to the segment's first (its reference) by ECC with a
  homography (a broadcast camera pans, tilts and zooms about a fixed point), at a small size. A
  sample that will not register (a fast whip pan, a dissolve, a graphic) ends the segment; the
  next one starts at it.
- Clean plate: the per-pixel median of a segment's aligned samples. Anything that moves (the
  ball, the players most of the time) is in a minority of samples at any pixel and vanishes.
  At most SAMPLES samples are kept per segment: when full, every other one is dropped and the
  segment keeps every second sample from then on.
- Degradation to match: `noise`, the standard deviation of (sample - plate) on flat ground, moving
  things clipped off; `quality`, the JPEG quality whose 8x8 blockiness on the plate matches the
  blockiness of the video's own frames at their own size (a guess at the codec's strength);
  `motion`, how far the camera moves per frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.geometry import resize_matrix

MAX_WIDTH = 1280  # px: plates are made at most this wide
RATE = 10.0  # samples per second looked at for cuts
SAMPLES = 64  # samples kept per segment for its plate (64 at 1280x720: 180 MB)
MIN_SAMPLES = 8  # a segment with fewer aligned samples makes no plate
ALIGN_WIDTH = 480  # px: registration runs at this width
MIN_CORRELATION = 0.9  # ECC correlation below which a sample does not register
MAX_DRIFT = 0.1  # share of the width a frame corner may move from the reference view
CUT_DISTANCE = 0.35  # Bhattacharyya distance of HSV histograms that marks a cut
HISTOGRAM_BINS = [16, 8, 8]  # hue, saturation, value
FLAT_GRADIENT = 8.0  # grey levels per px: a plate pixel below this is flat ground for the noise
NOISE_CLIP = 8.0  # grey levels: residuals up to this may be noise
QUALITIES = range(20, 100, 5)  # JPEG qualities tried to match the video's blockiness
BLOCKINESS_FRAMES = 4  # frames of a segment whose blockiness is measured, at the video's size


@dataclass(frozen=True)
class Shot:
    """One segment of a video seen from one camera set-up, and its clean plate."""

    video: Path
    index: int  # 0-based, in the order of the video
    start: int  # first and last sampled frame, 0-based frame numbers of the video
    end: int
    fps: float
    reference: int  # the frame whose view the plate shows
    scale: float  # working size / the video's size
    plate: np.ndarray | None  # (h, w, 3) BGR uint8 at working size; None when `problem`
    noise: float  # grey levels per colour channel, at working size
    quality: int  # JPEG quality, 1-100
    motion: float  # px per frame at working size, the median camera motion between samples
    samples: int  # aligned samples the plate is the median of
    problem: str = ""  # why this segment has no plate ('' when it has one)

    def describe(self) -> str:
        return f"{self.video.name} shot {self.index + 1} (frames {self.start}-{self.end})"


@dataclass
class _Segment:
    """The samples of the segment being read: frames at working size and their registrations."""

    frames: list[np.ndarray] = field(default_factory=list)  # (h, w, 3) uint8
    numbers: list[int] = field(default_factory=list)  # their frame numbers
    warps: list[np.ndarray] = field(default_factory=list)  # 3x3, reference -> sample, align size
    blockiness: list[float] = field(default_factory=list)
    reference: np.ndarray | None = None  # grey, align size
    first: int = 0
    last: int = 0
    every: int = 1  # keep one sample in `every`
    seen: int = 0  # samples seen since the segment began


def find_shots(video: str | Path, max_width: int = MAX_WIDTH, rate: float = RATE,
               samples: int = SAMPLES) -> Iterator[Shot]:
    """Every segment of `video`, in order, with its clean plate or the reason it has none."""
    with VideoReader(video) as reader:
        info = reader.info
        scale = min(1.0, max_width / info.width)
        size = (int(round(info.width * scale)), int(round(info.height * scale)))
        align_width = min(ALIGN_WIDTH, size[0])
        align = (align_width, int(round(size[1] * align_width / size[0])))
        stride = max(1, int(round(info.fps / rate)))
        count, segment, histogram = 0, None, None
        for number, frame in enumerate(reader):
            if number % stride:
                continue
            small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else frame
            previous, histogram = histogram, _histogram(small)
            cut = previous is not None and cv2.compareHist(
                previous, histogram, cv2.HISTCMP_BHATTACHARYYA) > CUT_DISTANCE
            if segment is not None and (cut or not _add(segment, number, small, frame, align,
                                                       samples)):
                yield _finish(segment, info.path, count, info.fps, scale, align)
                count, segment = count + 1, None
            if segment is None:
                segment = _Segment(first=number)
                _add(segment, number, small, frame, align, samples)
        if segment is not None:
            yield _finish(segment, info.path, count, info.fps, scale, align)


def _histogram(image: np.ndarray) -> np.ndarray:
    tiny = cv2.resize(image, (160, max(1, 160 * image.shape[0] // image.shape[1])),
                      interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(tiny, cv2.COLOR_BGR2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], None, HISTOGRAM_BINS, [0, 180, 0, 256, 0, 256])
    return cv2.normalize(histogram, None, 1.0, 0.0, cv2.NORM_L1)


def _add(segment: _Segment, number: int, small: np.ndarray, frame: np.ndarray,
         align: tuple[int, int], samples: int) -> bool:
    """Add a sample to the segment (registered to its reference); False if it does not register,
    which ends the segment. Samples the segment has no room for are only counted."""
    segment.seen += 1
    if (segment.seen - 1) % segment.every:
        segment.last = number
        return True
    grey = cv2.cvtColor(cv2.resize(small, align, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    if segment.reference is None:
        segment.reference, warp = grey, np.eye(3)
    else:
        warp = _register(segment.reference, grey, segment.warps[-1])
        if warp is None:
            return False
    segment.last = number
    segment.frames.append(small)
    segment.numbers.append(number)
    segment.warps.append(warp)
    if len(segment.blockiness) < BLOCKINESS_FRAMES:
        segment.blockiness.append(blockiness(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
    if len(segment.frames) == samples:  # full: keep every other sample, and take half as many
        for kept in (segment.frames, segment.numbers, segment.warps):
            del kept[1::2]
        segment.every *= 2
    return True


def _register(reference: np.ndarray, grey: np.ndarray, start: np.ndarray) -> np.ndarray | None:
    """The homography (3x3, reference -> sample pixels) that registers `grey` to `reference`,
    searched from `start`; None if ECC fails, correlates poorly, or the view drifted too far."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    try:
        correlation, warp = cv2.findTransformECC(reference, grey, start.astype(np.float32),
                                                 cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
    except cv2.error:  # no convergence
        return None
    height, width = reference.shape
    corners = np.array([[[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]]],
                       np.float64)
    drift = np.abs(cv2.perspectiveTransform(corners, warp.astype(np.float64)) - corners).max()
    if correlation < MIN_CORRELATION or drift > MAX_DRIFT * width:
        return None
    return warp.astype(np.float64)


def _finish(segment: _Segment, video: Path, index: int, fps: float, scale: float,
            align: tuple[int, int]) -> Shot:
    """The segment's plate and measurements, or the reason it has none."""
    frames = len(segment.frames)
    common = dict(video=video, index=index, start=segment.first, end=segment.last, fps=fps,
                  reference=segment.first, scale=scale, samples=frames)
    if frames < MIN_SAMPLES:
        seconds = (segment.last - segment.first + 1) / fps
        return Shot(**common, plate=None, noise=0.0, quality=0, motion=0.0,
                    problem=f"only {frames} steady frames ({seconds:.1f} s): too short or the "
                            "camera moves too fast for a clean plate")
    height, width = segment.frames[0].shape[:2]
    to_work = resize_matrix(align, (width, height))
    warps = [to_work @ warp @ np.linalg.inv(to_work) for warp in segment.warps]
    stack = np.stack([cv2.warpPerspective(frame, warp, (width, height),
                                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                          borderMode=cv2.BORDER_REPLICATE)
                      for frame, warp in zip(segment.frames, warps)])
    plate = _median(stack)
    return Shot(**common, plate=plate, noise=_noise(stack, plate),
                quality=_quality(plate, float(np.median(segment.blockiness))),
                motion=_motion(warps, segment.numbers, (width, height)))


def _median(stack: np.ndarray) -> np.ndarray:
    """Per-pixel median (lower middle value) of a (n, h, w, 3) uint8 stack, a band of rows at a
    time so the partition's copy stays small."""
    middle = (len(stack) - 1) // 2
    plate = np.empty(stack.shape[1:], np.uint8)
    for row in range(0, stack.shape[1], 64):
        plate[row:row + 64] = np.partition(stack[:, row:row + 64], middle, axis=0)[middle]
    return plate


def _noise(stack: np.ndarray, plate: np.ndarray) -> float:
    """Standard deviation of sample - plate per colour channel (as render.SensorNoise adds it) on
    the plate's flat pixels, over up to 8 samples. Residuals beyond a clip are players, the ball
    or misregistration, not noise; the clip is 3 robust deviations (1.4826 x the median absolute
    residual), but at least NOISE_CLIP: a broadcast codec leaves so little noise that most
    residuals are 0 and their median says nothing."""
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) / 8
    flat = cv2.erode((gradient < FLAT_GRADIENT).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    chosen = stack[np.linspace(0, len(stack) - 1, min(8, len(stack))).astype(int)]
    residuals = (chosen[:, flat].astype(np.float32) - plate[flat]).ravel()
    if residuals.size == 0:
        return 0.0
    clip = max(NOISE_CLIP, 3 * 1.4826 * float(np.median(np.abs(residuals))))
    kept = residuals[np.abs(residuals) <= clip]
    return float(np.sqrt(np.mean(kept**2)))


def blockiness(grey: np.ndarray) -> float:
    """How much stronger grey steps are across the 8x8 block grid than elsewhere (1: no blocks).

    Block codecs (JPEG, and H.264/HEVC at 1080p on a 4x4/8x8 grid) quantise each block on its own,
    so their edges show as steps on the grid's lines."""
    grey = grey.astype(np.float32)
    ratios = []
    for steps in (np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0)).T):
        on_grid = (np.arange(steps.shape[1]) % 8) == 7  # between columns 8k+7 and 8k+8
        ratios.append(steps[:, on_grid].mean() / max(float(steps[:, ~on_grid].mean()), 1e-6))
    return float(np.mean(ratios))


def _quality(plate: np.ndarray, target: float) -> int:
    """The JPEG quality at which the plate's blockiness comes nearest `target`."""
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    found = []
    for quality in QUALITIES:
        _, data = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, quality])
        found.append(abs(blockiness(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)) - target))
    return QUALITIES[int(np.argmin(found))]


def _motion(warps: list[np.ndarray], numbers: list[int], size: tuple[int, int]) -> float:
    """Median distance (px per frame) the frame centre moves between consecutive samples."""
    centre = np.array([[[(size[0] - 1) / 2, (size[1] - 1) / 2]]])
    where = np.array([cv2.perspectiveTransform(centre, warp)[0, 0] for warp in warps])
    steps = np.linalg.norm(np.diff(where, axis=0), axis=1) / np.maximum(np.diff(numbers), 1)
    return float(np.median(steps)) if len(steps) else 0.0
