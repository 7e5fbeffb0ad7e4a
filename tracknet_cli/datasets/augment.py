"""Training augmentation that moves the ball label with the image.

One `FrameTransform` is drawn per sample and applied identically to its T frames, because the
model reads motion across them: flipping or shifting one frame but not the others would invent a
movement. The geometric steps (random crop, zoom, shift) are all axis-aligned, so together they
are one source window, in whole pixels and possibly reaching past the frame, resized onto the
frame, then an optional horizontal flip. Each frame is resampled once (a crop and `cv2.resize`,
about 3x cheaper than a general warp) and the label is mapped with the exact matrix of what was
applied. Photometric steps (colour jitter, motion blur) leave coordinates alone; the blur kernel
is centred, so it spreads the ball without moving its centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.config import AugmentConfig
from tracknet_cli.geometry import map_points

IDENTITY = np.eye(3)


@dataclass(frozen=True)
class Window:
    """A source region in whole pixels (it may reach past the frame, which reads as black)."""

    x: int
    y: int
    width: int
    height: int


@dataclass
class ColorJitter:
    brightness: float  # multiplicative factors, 1 = unchanged
    contrast: float
    saturation: float
    hue: float  # shift as a fraction of the hue circle


@dataclass
class FrameTransform:
    size: tuple[int, int]  # (W, H) of the frames, in and out
    window: Window | None = None  # resized onto the whole frame; None keeps the frame
    flip: bool = False  # horizontal, after the window
    color: ColorJitter | None = None
    blur_kernel: np.ndarray | None = None

    @property
    def matrix(self) -> np.ndarray:
        """3x3 map of pixel centres, input frame -> augmented frame."""
        matrix = IDENTITY
        if self.window is not None:
            w = self.window
            sx, sy = self.size[0] / w.width, self.size[1] / w.height
            matrix = np.array([[sx, 0.0, (0.5 - w.x) * sx - 0.5],
                               [0.0, sy, (0.5 - w.y) * sy - 0.5],
                               [0.0, 0.0, 1.0]])
        if self.flip:
            matrix = np.array([[-1.0, 0.0, self.size[0] - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ matrix
        return matrix

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """Transform uint8 RGB frames [T, H, W, 3]."""
        if self.window is not None:
            frames = np.stack([_crop_resize(frame, self.window, self.size) for frame in frames])
        if self.flip:
            frames = np.stack([cv2.flip(frame, 1) for frame in frames])  # a strided copy is 10x slower
        if self.color is not None:
            matrix = color_matrix(self.color, mean=float(frames[-1].mean()))  # one for all T frames
            frames = np.stack([cv2.transform(frame, matrix) for frame in frames])
        if self.blur_kernel is not None:
            frames = np.stack([cv2.filter2D(frame, -1, self.blur_kernel) for frame in frames])
        return frames

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Where points [..., 2] of the input frames land in the augmented frames."""
        return map_points(self.matrix, points)


def _crop_resize(frame: np.ndarray, window: Window, size: tuple[int, int]) -> np.ndarray:
    """The window of `frame` (black beyond its edges) resized to `size`."""
    height, width = frame.shape[:2]
    pad = (max(0, -window.y), max(0, window.y + window.height - height),
           max(0, -window.x), max(0, window.x + window.width - width))
    if any(pad):
        frame = cv2.copyMakeBorder(frame, *pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    top, left = window.y + pad[0], window.x + pad[2]
    region = frame[top:top + window.height, left:left + window.width]
    return cv2.resize(region, size, interpolation=cv2.INTER_LINEAR)


def sample_transform(cfg: AugmentConfig, size: tuple[int, int], rng: np.random.Generator) -> FrameTransform:
    """Draw one sample's augmentation for frames of `size` = (W, H)."""
    flip = rng.random() < cfg.hflip
    matrix = _random_crop(size, cfg.crop.min_size, rng) if rng.random() < cfg.crop.p else IDENTITY
    matrix = _random_zoom_shift(size, cfg.scale, cfg.translate, rng) @ matrix

    color = None
    jitter = cfg.color_jitter
    if rng.random() < jitter.p:
        color = ColorJitter(
            brightness=rng.uniform(1 - jitter.brightness, 1 + jitter.brightness),
            contrast=rng.uniform(1 - jitter.contrast, 1 + jitter.contrast),
            saturation=rng.uniform(1 - jitter.saturation, 1 + jitter.saturation),
            hue=rng.uniform(-jitter.hue, jitter.hue),
        )
    blur = None
    if rng.random() < cfg.motion_blur.p:
        length = int(rng.integers(1, cfg.motion_blur.max_kernel // 2 + 1)) * 2 + 1  # odd, >= 3
        blur = motion_blur_kernel(length, angle=rng.uniform(0, np.pi))
    return FrameTransform(size, _source_window(matrix, size), flip, color, blur)


def _source_window(matrix: np.ndarray, size: tuple[int, int]) -> Window | None:
    """The whole-pixel source window whose resize comes closest to an axis-aligned `matrix`."""
    if np.allclose(matrix, IDENTITY):
        return None
    corners = []
    for axis in (0, 1):
        scale, shift = matrix[axis, axis], matrix[axis, 2]
        edge_shift = shift + 0.5 - 0.5 * scale  # the same map on edge coordinates (centre + 0.5)
        corners.append((round(-edge_shift / scale), max(1, round(size[axis] / scale))))
    (x, width), (y, height) = corners
    return Window(x, y, width, height)


def _random_crop(size: tuple[int, int], min_size: float, rng: np.random.Generator) -> np.ndarray:
    """Blow a random window (aspect kept, side >= min_size of the frame) up to the full frame."""
    width, height = size
    side = rng.uniform(min_size, 1.0)
    left = rng.uniform(0, width * (1 - side))  # window edges in continuous coordinates
    top = rng.uniform(0, height * (1 - side))
    scale = 1.0 / side
    # pixel centre x -> continuous x + 0.5 -> shift by the window -> scale -> back to centres
    return np.array([
        [scale, 0.0, (0.5 - left) * scale - 0.5],
        [0.0, scale, (0.5 - top) * scale - 0.5],
        [0.0, 0.0, 1.0],
    ])


def _random_zoom_shift(size: tuple[int, int], scale: list[float], translate: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Zoom about the frame centre, then shift by up to `translate` of the frame size."""
    width, height = size
    zoom = rng.uniform(scale[0], scale[1])
    shift_x = rng.uniform(-translate, translate) * width
    shift_y = rng.uniform(-translate, translate) * height
    cx, cy = (width - 1) / 2, (height - 1) / 2
    return np.array([
        [zoom, 0.0, cx - zoom * cx + shift_x],
        [0.0, zoom, cy - zoom * cy + shift_y],
        [0.0, 0.0, 1.0],
    ])


def motion_blur_kernel(length: int, angle: float) -> np.ndarray:
    """A centred line of `length` pixels at `angle` radians, normalised to sum 1."""
    kernel = np.zeros((length, length), dtype=np.float32)
    centre = (length - 1) / 2
    dx, dy = np.cos(angle) * centre, np.sin(angle) * centre
    # draw in 8x sub-pixel precision so the line stays symmetric about the centre
    start = (round((centre - dx) * 8), round((centre - dy) * 8))
    end = (round((centre + dx) * 8), round((centre + dy) * 8))
    cv2.line(kernel, start, end, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=3)
    kernel = (kernel + kernel[::-1, ::-1]) / 2  # exact point symmetry: the centroid cannot move
    return kernel / kernel.sum()


# RGB -> YIQ: Y is brightness, (I, Q) the chroma plane; gray pixels have I = Q = 0
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def color_matrix(color: ColorJitter, mean: float) -> np.ndarray:
    """The whole jitter as one 3x4 affine colour map [M | offset] on RGB values.

    Saturation scales and hue rotates the chroma plane of YIQ (gray stays gray); brightness
    scales; contrast scales about the frame's mean level. All four are linear, so they compose
    into one matrix that OpenCV applies in a single pass.
    """
    angle = color.hue * 2 * np.pi
    cos, sin = np.cos(angle) * color.saturation, np.sin(angle) * color.saturation
    chroma = _YIQ_TO_RGB @ np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]]) @ _RGB_TO_YIQ
    gain = color.brightness * color.contrast
    offset = color.brightness * mean * (1.0 - color.contrast)
    return np.hstack([gain * chroma, np.full((3, 1), offset)]).astype(np.float32)
