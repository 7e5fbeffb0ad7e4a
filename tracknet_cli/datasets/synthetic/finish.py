"""A rendered frame's way to the file, in the order a camera and an encoder take it (realworld):

    optics   a fence right in front of the lens (out of focus), the camera's shake and pan (an
             affine warp; the label goes through the same warp), exposure, white balance and
             contrast (one lookup table), vignetting
    (sensor noise, render.SensorNoise)
    encode   the source's encoder (JPEG artefacts at a quality and chroma subsampling drawn per
             game), then, for a source smaller than the output, scaling up to the output size

A low-resolution source is rendered at its own size (its camera, background and noise are that
size) and scaled up last, as a player shows it; the label is scaled with it. Every step is a
handful of full-frame uint8 operations; the tables and maps are made once per clip. Image points
are pixel centres (x = column), as in the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.colours import BGR
from tracknet_cli.datasets.synthetic.lighting import Lighting

CHAIN_LINK = 0.05  # metres between the wires of a chain-link fence
WIRE = 0.003  # metres: a wire's thickness


@dataclass(frozen=True)
class Finish:
    source: tuple[int, int]  # (width, height) the frame is rendered at: the source's
    size: tuple[int, int]  # (width, height) of the output frame, at least the source's
    veil: tuple[np.ndarray, np.ndarray] | None  # source-sized uint8 keep (255: all) and add
    warps: np.ndarray | None  # (frames, 2, 3) affine per frame, in source pixels
    lut: np.ndarray  # (256, 1, 3) uint8: exposure, white balance, contrast
    vignette: np.ndarray | None  # source-sized uint8 gain, 255: unchanged
    quality: int  # JPEG quality of the source's encoder
    subsampling: bool  # the encoder halves the colour resolution (4:2:0), else 4:4:4

    def optics(self, image: np.ndarray, frame: int) -> np.ndarray:
        """The frame as the lens and the camera's processing deliver it (same size)."""
        if self.veil is not None:
            keep, add = self.veil
            cv2.multiply(image, keep, dst=image, scale=1 / 255)
            cv2.add(image, add, dst=image)
        if self.warps is not None:
            image = cv2.warpAffine(image, self.warps[frame], image.shape[1::-1],
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        image = cv2.LUT(image, self.lut)
        if self.vignette is not None:
            cv2.multiply(image, self.vignette, dst=image, scale=1 / 255)
        return image

    def place(self, frame: int, point: np.ndarray) -> np.ndarray:
        """Where a rendered image point (2,) ends up in the output frame: through the frame's
        warp, then the scaling up (cv2.resize maps pixel centres so: (x + 0.5) * scale - 0.5)."""
        if self.warps is not None:
            point = self.warps[frame][:, :2] @ point + self.warps[frame][:, 2]
        return (point + 0.5) * (np.array(self.size) / self.source) - 0.5

    def contains(self, point: np.ndarray) -> bool:
        """Whether an output point lies on the output frame (between the outer pixel centres)."""
        return bool(0 <= point[0] <= self.size[0] - 1 and 0 <= point[1] <= self.size[1] - 1)

    def encode(self, image: np.ndarray, compress: bool = True) -> np.ndarray:
        """The frame after (if `compress`) the source's encoder and the scaling to the output."""
        if compress:
            sampling = (cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420 if self.subsampling
                        else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)
            _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality,
                                                   cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling])
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if self.source == self.size:
            return image
        return cv2.resize(image, self.size, interpolation=cv2.INTER_LINEAR)


def grading_lut(lighting: Lighting) -> np.ndarray:
    """(256, 1, 3) uint8: value v of channel c becomes 255 * gain[c] * (v / 255) ** gamma."""
    levels = (np.arange(256) / 255.0)[:, None] ** lighting.gamma * np.array(lighting.gain)
    return np.clip(np.rint(levels * 255), 0, 255).astype(np.uint8)[:, None, :]


def vignette_map(width: int, height: int, strength: float) -> np.ndarray | None:
    """(H, W, 3) uint8 gain falling off with the squared distance from the centre: the corners
    lose `strength` of their brightness."""
    if strength <= 0:
        return None
    xs = (np.arange(width) - (width - 1) / 2) / ((width - 1) / 2)
    ys = (np.arange(height) - (height - 1) / 2) / ((height - 1) / 2)
    radius_sq = (xs[None, :] ** 2 + ys[:, None] ** 2) / 2  # 1 in the corners
    gain = np.rint(255 * (1 - strength * radius_sq)).astype(np.uint8)
    return np.repeat(gain[..., None], 3, axis=2)


def fence_veil(width: int, height: int, focal: float, distance: float, colour: BGR,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A chain-link fence `distance` metres in front of a lens of `focal` pixels, out of focus:
    the (keep, add) pair Finish.optics lays over the frame."""
    spacing = focal * CHAIN_LINK / distance  # pixels between wires
    wire = max(focal * WIRE / distance, 0.7)
    angle = np.pi / 4 + rng.normal(0.0, 0.05)  # diamonds, rarely quite square to the frame
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cover = np.zeros((height, width), np.float32)
    for direction in (angle, -angle):
        along = xs * np.cos(direction) + ys * np.sin(direction) + rng.uniform(0, spacing)
        gap = np.abs((along + spacing / 2) % spacing - spacing / 2)  # distance to nearest wire
        cover = np.maximum(cover, np.clip(wire / 2 + 0.5 - gap, 0.0, 1.0))
    blur = spacing * rng.uniform(0.05, 0.25)  # defocus grows as the fence nears the lens
    cover = cv2.GaussianBlur(cover, (0, 0), max(blur, 0.5))
    alpha = cover * rng.uniform(0.4, 0.8)
    keep = np.rint(255 * (1 - alpha))[..., None].repeat(3, axis=2).astype(np.uint8)
    add = np.rint(alpha[..., None] * np.array(colour, np.float32)).astype(np.uint8)
    return keep, add
