"""Samples of reference-based detection: an object's three templates and one search image.

    sample = RefdetDataset(report, "train")[0]
    sample["templates"]  float32 [3, 3, th, tw]   the object's three views, normalised
    sample["search"]     float32 [3, H, W]        the search image resized to the model's size
    sample["box"]        float32 [4]              x1, y1, x2, y2 in search-size pixels, NaN when absent
    sample["present"]    bool                     the object is in the image
    sample["meta"]       object id, image path, original (W, H)

Images are read from the layout `scan_refdet` checked (defective samples are already left out).
Training samples get the heatmap task's augmentation (`data.augment`: zoom, shift, crop, flip,
colour, motion blur) on the search image, with the box mapped by the same transform (an object
pushed mostly out of the frame becomes absent); a flip mirrors the templates too, so the object
still looks like them. With `patch`, training samples are then crops of the search image
(`training.patch`). The draws are a function of (seed, epoch, sample).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset

from tracknet_cli.config import AugmentConfig, PatchConfig
from tracknet_cli.datasets.augment import FrameTransform, Window, sample_transform
from tracknet_cli.datasets.refdet_layout import RefdetReport, scan_refdet
from tracknet_cli.errors import DataError
from tracknet_cli.geometry import patch_origin
from tracknet_cli.model_input import (
    BACKBONE_STRIDE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    normalize,
    resize_rgb,
    to_chw,
)

MIN_VISIBLE = 0.25  # share of an augmented box that must stay in the frame for the object to count


class RefdetDataset(Dataset):
    def __init__(self, report: RefdetReport, split: str, search_size: tuple[int, int] = (1024, 576),
                 template_size: tuple[int, int] = (256, 256), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 augment: AugmentConfig | None = None, patch: PatchConfig | None = None, seed: int = 0):
        self.samples = [s for s in report.samples if s.split == split]
        if not self.samples:
            raise DataError(f"{report.root} has no usable {split} samples (see `tracknet prepare refdet`)")
        self.templates = report.objects
        self._resized_templates: dict[str, list[np.ndarray]] = {}  # object id -> its 3 views at template_size
        self.search_size, self.template_size = tuple(search_size), tuple(template_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.patch = patch if patch is not None and patch.size is not None else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, item: int) -> dict:
        sample = self.samples[item]
        box = None
        if sample.box is not None:  # corners as pixel-edge coordinates: scale by the size ratio
            box = sample.box * np.array(self.search_size * 2, dtype=np.float64) / np.array(sample.size * 2)
        search = resize_rgb(_read(sample.image), self.search_size)  # uint8 [H, W, 3]
        flip = False
        rng = np.random.default_rng([self.seed, self.epoch, item])
        if self.augment is not None:
            transform = sample_transform(self.augment, self.search_size, rng)
            search, box, flip = transform.apply(search[None])[0], _mapped_box(transform, box), transform.flip
        if self.patch is not None:
            search, box = _patch(search, box, self.patch, rng)
        templates = self._object_templates(sample.object_id)
        if flip:
            templates = [cv2.flip(template, 1) for template in templates]
        return {
            "templates": normalize(to_chw(np.stack(templates)), self.mean, self.std),  # [3, 3, th, tw]
            "search": normalize(to_chw(search), self.mean, self.std),
            "box": torch.from_numpy(box.astype(np.float32) if box is not None else np.full(4, np.nan, np.float32)),
            "present": box is not None,
            "meta": {"object": sample.object_id, "image": str(sample.image), "size": torch.tensor(sample.size)},
        }

    def _object_templates(self, object_id: str) -> list[np.ndarray]:
        """An object's three templates, read and resized once per process: every one of its
        search images would otherwise decode the same three files again."""
        if object_id not in self._resized_templates:
            self._resized_templates[object_id] = [resize_rgb(_read(path), self.template_size)
                                                  for path in self.templates[object_id]]
        return self._resized_templates[object_id]


def _read(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"{path} could not be read (changed since `tracknet prepare refdet`?)")
    return bgr


def _patch(search: np.ndarray, box: np.ndarray | None, patch: PatchConfig,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """A `patch.size` crop of the search image [H, W, 3] and the box in it: over the object with
    probability `ball_fraction` (its centre anywhere in the patch), else anywhere; origins on
    multiples of BACKBONE_STRIDE."""
    (pw, ph), (height, width) = patch.size, search.shape[:2]
    target = None
    if box is not None and rng.random() < patch.ball_fraction:
        target = (box[:2] + box[2:]) / 2 - 0.5  # the centre; box corners are pixel edges, points centres
    x, y = patch_origin((pw, ph), (width, height), BACKBONE_STRIDE, rng, target).astype(int)
    crop = np.ascontiguousarray(search[y:y + ph, x:x + pw])
    return crop, _mapped_box(FrameTransform((pw, ph), Window(x, y, pw, ph)), box)  # a shift, no resize


def _mapped_box(transform: FrameTransform, box: np.ndarray | None) -> np.ndarray | None:
    """The box after the transform, clipped to the frame; None when less than MIN_VISIBLE of it
    stays inside. Corners are pixel edges, so they are mapped as the centres half a pixel in."""
    if box is None:
        return None
    corners = transform.map_points(box.reshape(2, 2) - 0.5) + 0.5  # [[x1, y1], [x2, y2]], maybe swapped
    low, high = corners.min(axis=0), corners.max(axis=0)
    area = np.prod(high - low)
    low, high = np.maximum(low, 0), np.minimum(high, transform.size)
    if np.any(high <= low) or np.prod(high - low) < MIN_VISIBLE * area:
        return None
    return np.concatenate([low, high])


def build_refdet_dataset(cfg: DictConfig, split: str, report: RefdetReport | None = None,
                         train: bool = False) -> RefdetDataset:
    """Split `split` of `cfg.data.root` (scanned unless `report` is given) at the model's sizes;
    with `train`, augmented as `cfg.data.augment` says."""
    report = report if report is not None else scan_refdet(cfg.data.root)
    model = cfg.model
    return RefdetDataset(report, split, tuple(model.search_size), tuple(model.template_size),
                         mean=tuple(model.mean), std=tuple(model.std),
                         augment=OmegaConf.to_object(cfg.data.augment) if train else None,
                         patch=OmegaConf.to_object(cfg.training.patch) if train else None, seed=cfg.training.seed)
