"""Fitting any video frame into the model's input size without distorting it.

A frame of another aspect ratio than the model's is scaled to fit and centred on a black canvas;
positions found on the canvas are mapped back to the frame. The pixel-centre convention is the
one of `datasets.geometry`: pixel i covers [i - 0.5, i + 0.5].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.datasets.geometry import rescale_points


@dataclass(frozen=True)
class Letterbox:
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
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        scaled = cv2.resize(rgb, self.scaled_size, interpolation=cv2.INTER_AREA)
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
