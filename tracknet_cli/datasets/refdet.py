"""Samples of reference-based detection: an object's three templates and one search image.

    sample = RefdetDataset(report, "train")[0]
    sample["templates"]  float32 [3, 3, th, tw]   the object's three views, normalised
    sample["search"]     float32 [3, H, W]        the search image resized to the model's size
    sample["box"]        float32 [4]              x1, y1, x2, y2 in search-size pixels, NaN when absent
    sample["present"]    bool                     the object is in the image
    sample["meta"]       object id, image path, original (W, H)

Images are read from the layout `scan_refdet` checked (defective samples are already left out).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from tracknet_cli.config import IMAGENET_MEAN, IMAGENET_STD
from tracknet_cli.datasets.refdet_layout import RefdetReport
from tracknet_cli.errors import DataError


class RefdetDataset(Dataset):
    def __init__(self, report: RefdetReport, split: str, search_size: tuple[int, int] = (1024, 576),
                 template_size: tuple[int, int] = (256, 256), mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.samples = [s for s in report.samples if s.split == split]
        if not self.samples:
            raise DataError(f"{report.root} has no usable {split} samples (see `tracknet prepare refdet`)")
        self.templates = report.objects
        self.search_size, self.template_size = tuple(search_size), tuple(template_size)
        self.mean = np.array(mean, dtype=np.float32) * 255
        self.std = np.array(std, dtype=np.float32) * 255

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, item: int) -> dict:
        sample = self.samples[item]
        templates = np.stack([self._image(path, self.template_size) for path in self.templates[sample.object_id]])
        box = np.full(4, np.nan, dtype=np.float32)
        if sample.box is not None:  # corners as pixel-edge coordinates: scale by the size ratio
            scale = np.array(self.search_size * 2, dtype=np.float64) / np.array(sample.size * 2)
            box = (sample.box * scale).astype(np.float32)
        return {
            "templates": torch.from_numpy(templates),
            "search": torch.from_numpy(self._image(sample.image, self.search_size)),
            "box": torch.from_numpy(box),
            "present": sample.box is not None,
            "meta": {"object": sample.object_id, "image": str(sample.image), "size": torch.tensor(sample.size)},
        }

    def _image(self, path: Path, size: tuple[int, int]) -> np.ndarray:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{path} could not be read (changed since `tracknet prepare refdet`?)")
        return model_input(bgr, size, self.mean, self.std)


def model_input(bgr: np.ndarray, size: tuple[int, int], mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """BGR image [H, W, 3] uint8 -> [3, h, w] float32 RGB at `size` (W, H), normalised with mean and
    std given in 0-255 units: what the refdet model reads, in training and prediction alike."""
    rgb = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return ((rgb.astype(np.float32) - mean) / std).transpose(2, 0, 1).copy()
