"""Reading frames from image files, resized to the model's input size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tracknet_cli.errors import DataError
from tracknet_cli.model_input import resize_rgb


def read_frame(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Decode an image to RGB uint8 [H, W, 3] at `size` = (W, H) (`model_input.resize_rgb`)."""
    path = Path(path)
    data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    if data is None:
        raise DataError(f"frame {path} does not exist")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"frame {path} cannot be decoded (corrupt or not an image)")
    return resize_rgb(image, size)


class JpegFrameSource:
    """Frames decoded from the dataset's own image files on every read."""

    def __init__(self, root: str | Path, size: tuple[int, int]):
        self.root = Path(root)
        self.size = size

    def load(self, clip_id: str, rows: list[int], files: list[str]) -> np.ndarray:
        """[T, H, W, 3] uint8 RGB for the named files of one clip."""
        del rows  # the cache's addressing; image files are found by name
        return np.stack([read_frame(self.root / clip_id / name, self.size) for name in files])
