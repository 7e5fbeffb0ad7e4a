"""What a model reads, and the one path from an image to it.

Every place that feeds a model (training and evaluation datasets, the video predictor, the
reference-based detector) goes through these functions, so a frame is resized and normalised the
same way whether it trains the model or is tracked by it:

    rgb = resize_rgb(bgr, (W, H))                 # uint8 [H, W, 3]: the one resize rule
    x = normalize(to_chw(rgb), mean, std)         # float32 [3, H, W], (value - mean) / std
    x = image_input(bgr, (W, H), mean, std)       # both steps, for one image
    box = Letterbox.fit(video_size, (W, H))       # a video frame of another aspect, undistorted

`SampleSpec` says what a heatmap model expects of a sample (window length, sizes, target sigma,
mean and std); it is read off the model's config.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import torch

from tracknet_cli.errors import ConfigError
from tracknet_cli.geometry import rescale_points

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# the coarsest stride a backbone downsamples by: crops of a model input (training patches) start on
# its multiples, so every level of the backbone sees the same pixels as in the whole image
BACKBONE_STRIDE = 32

cv2.setNumThreads(1)  # loaders run one process per core; OpenCV's own threads would oversubscribe


@dataclass(frozen=True)
class SampleSpec:
    """What a heatmap model expects of a sample: window length, sizes, normalisation."""

    frames: int = 3  # T
    output_frames: int = 1  # T_out: 1 (last frame) or T
    input_size: tuple[int, int] = (512, 288)  # (W, H)
    heatmap_size: tuple[int, int] = (256, 144)  # (W, H)
    sigma: float = 2.0  # heatmap pixels
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def from_model_config(cls, model: Any) -> SampleSpec:
        """From a heatmap model's config section (`model.frames`, `model.input_size`, ...)."""
        return cls(
            frames=int(model.frames),
            output_frames=int(model.output_frames),
            input_size=tuple(model.input_size),
            heatmap_size=tuple(model.heatmap.size),
            sigma=float(model.heatmap.sigma),
            mean=tuple(model.mean),
            std=tuple(model.std),
        )

    def at_input_size(self, size: tuple[int, int]) -> SampleSpec:
        """The same model run on inputs of `size` (W, H), its heatmap scaled alike: a fully
        convolutional model sees a small far ball over more pixels at a larger size, at the cost
        of the pixels. Each side must be a whole number of heatmap pixels."""
        stride = self.input_size[0] // self.heatmap_size[0]  # model-input pixels per heatmap pixel
        if any(side % stride for side in size):
            raise ConfigError(f"input size {size[0]}x{size[1]}: each side must be a multiple of {stride} "
                             f"(the model's heatmap stride)")
        return replace(self, input_size=tuple(size), heatmap_size=(size[0] // stride, size[1] // stride))


def resize_rgb(image_bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """BGR image of any size -> RGB uint8 [H, W, 3] at `size` = (W, H).

    Shrinking uses area averaging, as a camera at the smaller size would see the scene: a 3 px ball
    is averaged into the smaller frame rather than dropped between samples. Enlarging is bilinear.
    """
    width, height = size
    if image_bgr.shape[1] != width or image_bgr.shape[0] != height:
        shrinking = image_bgr.shape[1] > width and image_bgr.shape[0] > height
        image_bgr = cv2.resize(image_bgr, (width, height),
                               interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def to_chw(rgb: np.ndarray) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> uint8 tensor [..., 3, H, W] (a view, no copy)."""
    return torch.from_numpy(rgb).movedim(-1, -3)


def normalize(frames: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 RGB [..., 3, H, W] -> float32 (value - mean) / std, with mean and std in 0-1 units.

    Loaders hand over uint8 (4x fewer bytes between processes) and this runs on the batch, on the
    model's device."""
    mean = torch.tensor(mean, device=frames.device).view(3, 1, 1) * 255
    std = torch.tensor(std, device=frames.device).view(3, 1, 1) * 255
    return frames.float().sub_(mean).div_(std)


def image_input(image_bgr: np.ndarray, size: tuple[int, int], mean, std) -> torch.Tensor:
    """One BGR image -> float32 [3, H, W] at `size` (W, H), normalised: a refdet template or search image."""
    return normalize(to_chw(resize_rgb(image_bgr, size)), mean, std)


@dataclass(frozen=True)
class Letterbox:
    """A video frame of another aspect ratio than the model's, scaled to fit and centred on a black
    canvas; positions found on the canvas map back to the frame. Pixel i covers [i - 0.5, i + 0.5]
    (the convention of `geometry`)."""

    frame_size: tuple[int, int]  # (W, H) of the video
    input_size: tuple[int, int]  # (W, H) of the model
    scale: float
    offset: tuple[int, int]  # (x, y) of the scaled frame's top-left pixel on the canvas
    scaled_size: tuple[int, int]  # (W, H) of the scaled frame

    @classmethod
    def fit(cls, frame_size: tuple[int, int], input_size: tuple[int, int]) -> Letterbox:
        scale = min(input_size[0] / frame_size[0], input_size[1] / frame_size[1])
        scaled = (min(input_size[0], round(frame_size[0] * scale)), min(input_size[1], round(frame_size[1] * scale)))
        offset = ((input_size[0] - scaled[0]) // 2, (input_size[1] - scaled[1]) // 2)
        return cls(tuple(frame_size), tuple(input_size), scale, offset, scaled)

    def apply(self, frame_bgr: np.ndarray) -> np.ndarray:
        """BGR video frame [H, W, 3] -> RGB model input [h, w, 3] uint8."""
        scaled = resize_rgb(frame_bgr, self.scaled_size)
        if self.scaled_size == self.input_size:
            return scaled
        canvas = np.zeros((self.input_size[1], self.input_size[0], 3), dtype=np.uint8)
        x, y = self.offset
        canvas[y:y + self.scaled_size[1], x:x + self.scaled_size[0]] = scaled
        return canvas

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Model-input pixels [..., 2] -> video-frame pixels; NaN stays NaN."""
        on_scaled = np.asarray(points, dtype=np.float64) - np.array(self.offset)
        return rescale_points(on_scaled, self.scaled_size, self.frame_size)

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Video-frame pixels [..., 2] -> model-input pixels (`to_frame`'s inverse); NaN stays NaN."""
        on_scaled = rescale_points(np.asarray(points, dtype=np.float64), self.frame_size, self.scaled_size)
        return on_scaled + np.array(self.offset)
