"""Coordinates survive every augmentation: map the label forward and find the ball in the image."""

import cv2
import numpy as np
import pytest
from omegaconf import OmegaConf

from tests.conftest import centroid, draw_ball
from tracknet_cli.config import AugmentConfig
from tracknet_cli.datasets.augment import (
    ColorJitter,
    FrameTransform,
    color_matrix,
    motion_blur_kernel,
    sample_transform,
)

SIZE = (256, 144)
BALLS = np.array([[101.3, 60.7], [128.6, 71.2], [150.9, 80.4]])  # one per frame, sub-pixel


def _frames() -> np.ndarray:
    frames = np.zeros((3, SIZE[1], SIZE[0], 3), np.uint8)
    for frame, (x, y) in zip(frames, BALLS):
        draw_ball(frame, x, y, radius=3.0, color=(255, 230, 40))
    return frames


def _only(**changes) -> AugmentConfig:
    """A config with every augmentation off except the ones given."""
    cfg = OmegaConf.structured(AugmentConfig)
    off = {"hflip": 0.0, "scale": [1.0, 1.0], "translate": 0.0, "crop": {"p": 0.0},
           "color_jitter": {"p": 0.0}, "motion_blur": {"p": 0.0}}
    return OmegaConf.merge(cfg, off, changes)


CASES = {
    "flip": _only(hflip=1.0),
    "crop": _only(crop={"p": 1.0, "min_size": 0.6}),
    "zoom_in_shift": _only(scale=[1.3, 1.5], translate=0.08),
    "zoom_out_shift": _only(scale=[0.6, 0.8], translate=0.08),
    "color_jitter": _only(color_jitter={"p": 1.0, "hue": 0.05}),
    "motion_blur": _only(motion_blur={"p": 1.0, "max_kernel": 9}),
    "everything": _only(hflip=0.5, crop={"p": 0.5}, scale=[0.8, 1.2], translate=0.05,
                        color_jitter={"p": 1.0}, motion_blur={"p": 1.0}),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed", range(4))
def test_label_follows_the_ball(name, seed):
    transform = sample_transform(CASES[name], SIZE, np.random.default_rng(seed))
    frames = transform.apply(_frames())
    mapped = transform.map_points(BALLS)
    for frame, point in zip(frames, mapped):
        inside = 4 <= point[0] <= SIZE[0] - 5 and 4 <= point[1] <= SIZE[1] - 5
        if inside:
            found = centroid(frame, threshold=25)
            assert np.hypot(found[0] - point[0], found[1] - point[1]) <= 0.5, (name, found, point)


def test_same_transform_for_every_frame():
    """Frames that were identical stay identical: nothing is drawn per frame."""
    frames = np.repeat(_frames()[:1], 3, axis=0)
    for seed in range(5):
        out = sample_transform(CASES["everything"], SIZE, np.random.default_rng(seed)).apply(frames)
        assert (out == out[0]).all()


def test_flip_maps_exactly():
    transform = sample_transform(CASES["flip"], SIZE, np.random.default_rng(0))
    np.testing.assert_allclose(transform.map_points(np.array([[0.0, 5.0], [255.0, 9.0]])),
                               [[255.0, 5.0], [0.0, 9.0]])
    frame = np.arange(SIZE[0] * SIZE[1] * 3, dtype=np.uint32).reshape(1, SIZE[1], SIZE[0], 3) % 251
    np.testing.assert_array_equal(transform.apply(frame.astype(np.uint8))[0], frame[0, :, ::-1].astype(np.uint8))


def test_identity_when_everything_is_off():
    transform = sample_transform(_only(), SIZE, np.random.default_rng(0))
    frames = _frames()
    assert transform.apply(frames) is frames
    np.testing.assert_allclose(transform.map_points(BALLS), BALLS)
    assert transform.window is None and not transform.flip


@pytest.mark.parametrize("length", [3, 5, 9])
@pytest.mark.parametrize("angle", [0.0, 0.7, 1.5707963, 2.5])
def test_blur_kernel_is_centred(length, angle):
    kernel = motion_blur_kernel(length, angle)
    ys, xs = np.indices(kernel.shape)
    centre = (length - 1) / 2
    assert kernel.sum() == pytest.approx(1.0)
    assert (xs * kernel).sum() == pytest.approx(centre) and (ys * kernel).sum() == pytest.approx(centre)


def test_plain_transform_is_identity():
    assert FrameTransform((4, 4)).map_points(np.array([[1.0, 2.0]])).tolist() == [[1.0, 2.0]]


def test_color_matrix_keeps_gray_and_scales_about_the_mean():
    gray = np.full((2, 2, 3), 100, np.uint8)
    jitter = ColorJitter(brightness=1.2, contrast=0.8, saturation=0.5, hue=0.1)
    assert (cv2.transform(gray, color_matrix(jitter, mean=100.0)) == 120).all()  # 1.2 * 100
    colourful = np.array([[[79, 137, 194]]], np.uint8)
    desaturated = cv2.transform(colourful, color_matrix(ColorJitter(1.0, 1.0, 0.0, 0.0), 100.0))
    assert (desaturated == 126).all()  # its luma: 0.299 R + 0.587 G + 0.114 B
    unchanged = cv2.transform(colourful, color_matrix(ColorJitter(1.0, 1.0, 1.0, 0.0), 100.0))
    assert (unchanged == colourful).all()
