import numpy as np
import pytest

from tracknet_cli.datasets.heatmap import gaussian_heatmap
from tracknet_cli.geometry import inside_frame, patch_origin, rescale_points


def test_resize_maps_pixel_centres_and_edges():
    points = np.array([[-0.5, -0.5], [1279.5, 719.5], [0.0, 0.0], [639.5, 359.5]])
    out = rescale_points(points, (1280, 720), (512, 288))
    np.testing.assert_allclose(out[0], [-0.5, -0.5])  # frame edges line up
    np.testing.assert_allclose(out[1], [511.5, 287.5])
    np.testing.assert_allclose(out[2], [0.5 * 0.4 - 0.5, 0.5 * 0.4 - 0.5])
    np.testing.assert_allclose(out[3], [255.5, 143.5])  # the centre stays the centre
    np.testing.assert_allclose(rescale_points(out, (512, 288), (1280, 720)), points, atol=1e-9)


def test_inside_frame_edges_and_nan():
    points = np.array([[-0.5, 0], [-0.51, 0], [9.5, 4.5], [np.nan, 1]])
    assert inside_frame(points, (10, 5)).tolist() == [True, False, True, False]


@pytest.mark.parametrize("x,y", [(100.0, 50.0), (37.3, 91.8), (0.2, 143.0)])
def test_heatmap_peak_sits_at_the_label(x, y):
    heatmap = gaussian_heatmap((x, y), (256, 144), sigma=2.0)
    assert heatmap.shape == (144, 256) and heatmap.dtype == np.float32
    row, col = np.unravel_index(heatmap.argmax(), heatmap.shape)
    assert (col, row) == (round(x), round(y))
    ys, xs = np.indices(heatmap.shape)
    window = (abs(xs - x) < 8) & (abs(ys - y) < 8)  # away from edges the centroid is the centre
    weights = heatmap * window
    if 8 < x < 248 and 8 < y < 136:
        assert (xs * weights).sum() / weights.sum() == pytest.approx(x, abs=1e-3)
        assert (ys * weights).sum() / weights.sum() == pytest.approx(y, abs=1e-3)
    assert heatmap.max() <= 1.0 and heatmap.max() > 0.85


def test_no_ball_gives_an_empty_heatmap():
    assert not gaussian_heatmap((np.nan, np.nan), (64, 36), 2.0).any()


def test_patch_origins_are_on_the_grid_inside_the_frame_and_hold_the_target():
    rng = np.random.default_rng(0)
    size, frame, grid = (64, 32), (160, 96), 16
    anywhere = {tuple(patch_origin(size, frame, grid, rng)) for _ in range(400)}
    # every multiple of 16 with the patch inside the frame, and nothing else
    assert anywhere == {(x, y) for x in range(0, 97, 16) for y in range(0, 65, 16)}
    target = np.array([100.0, 40.0])
    for _ in range(200):
        x, y = patch_origin(size, frame, grid, rng, target, margin=4)
        assert x % grid == 0 and y % grid == 0
        assert 4 <= target[0] - x <= size[0] - 1 - 4 and 4 <= target[1] - y <= size[1] - 1 - 4
    # a target at the frame's corner: the nearest origin on the grid, still inside the frame
    np.testing.assert_array_equal(patch_origin(size, frame, grid, rng, np.array([159.0, 95.0]), 4), [96, 64])
