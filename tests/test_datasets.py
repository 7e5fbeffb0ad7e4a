import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from tests.conftest import TINY_SIZE, ball_track, make_tiny_dataset
from tracknet_cli.config import DataConfig, PatchConfig
from tracknet_cli.datasets.index import DatasetIndex
from tracknet_cli.datasets.tracknet import (
    TrackNetFrameDataset,
    TrackNetSequenceDataset,
    load_index,
    select_clips,
)
from tracknet_cli.datasets.validate import validate_tracknet
from tracknet_cli.errors import ConfigError, DataError
from tracknet_cli.geometry import rescale_points
from tracknet_cli.model_input import SampleSpec, normalize

SPEC = SampleSpec(frames=3, output_frames=1, input_size=(128, 72), heatmap_size=(64, 36), sigma=1.5)


def test_sample_contract(tiny_dataset):
    dataset = TrackNetSequenceDataset(load_index(tiny_dataset), SPEC)
    sample = dataset[0]
    assert sample["frames"].shape == (3, 3, 72, 128) and sample["frames"].dtype == torch.float32
    assert sample["heatmaps"].shape == (1, 36, 64)
    assert sample["coords"].shape == (1, 2) and sample["visibility"].dtype == torch.int64
    assert sample["mask"].dtype == torch.bool
    assert sample["meta"]["clip"] == "game1/Clip1"
    assert sample["meta"]["frames"].tolist() == [0, 1, 2]
    assert sample["meta"]["size"].tolist() == list(TINY_SIZE)
    # normalised with the spec's mean and std: the dark background (40/255) maps to a known value
    expected = (40 / 255 - SPEC.mean[0]) / SPEC.std[0]
    assert sample["frames"][0, 0, 0, 0].item() == pytest.approx(expected, abs=0.05)


def test_targets_sit_at_the_label(tiny_dataset):
    dataset = TrackNetSequenceDataset(load_index(tiny_dataset), SPEC)
    sample = dataset[0]  # frames 0-2 of game1/Clip1: the output frame is 2
    x, y = ball_track(2, 1)
    np.testing.assert_allclose(sample["coords"][0].numpy(), [x, y], atol=1e-4)
    hx, hy = rescale_points(np.array([x, y]), TINY_SIZE, SPEC.heatmap_size)
    heatmap = sample["heatmaps"][0].numpy()
    row, col = np.unravel_index(heatmap.argmax(), heatmap.shape)
    assert (col, row) == (round(hx), round(hy))
    assert sample["visibility"].tolist() == [1] and sample["mask"].tolist() == [True]


def test_ball_less_frames(tiny_dataset):
    index = load_index(tiny_dataset)
    for negatives in (True, False):
        dataset = TrackNetSequenceDataset(index, SPEC, negatives=negatives)
        sample = dataset[1]  # frames 1-3: frame 3 has visibility 0
        assert sample["visibility"].tolist() == [0]
        assert torch.isnan(sample["coords"]).all()
        assert sample["heatmaps"].abs().sum() == 0
        assert sample["mask"].tolist() == [negatives]


def test_all_output_frames(tiny_dataset):
    spec = SampleSpec(**{**SPEC.__dict__, "output_frames": 3})
    sample = TrackNetSequenceDataset(load_index(tiny_dataset), spec)[1]  # frames 1, 2, 3
    assert sample["heatmaps"].shape == (3, 36, 64)
    assert sample["visibility"].tolist() == [1, 1, 0]
    assert sample["heatmaps"][2].abs().sum() == 0 and sample["heatmaps"][:2].amax(dim=(1, 2)).min() > 0.8


def test_windows_never_cross_clips_and_stride(tiny_dataset):
    index = load_index(tiny_dataset)
    dataset = TrackNetSequenceDataset(index, SPEC, stride=1)
    assert len(dataset) == 4 * (10 - 2)  # 4 clips of 10 frames, windows of 3
    for clip_index, start in dataset.windows:
        frames = dataset.clips[clip_index].frames[start:start + 3]
        assert np.array_equal(frames, np.arange(frames[0], frames[0] + 3))
    strided = TrackNetSequenceDataset(index, SPEC, stride=3)
    starts = [s for c, s in strided.windows if c == 0]
    assert starts == [0, 3, 6, 7]  # the last window is added so frame 9 is covered


def test_windows_skip_gaps(tmp_path):
    root = make_tiny_dataset(tmp_path / "gap", games=(1,), clips=1)
    (root / "game1/Clip1/0004.jpg").unlink()
    with pytest.warns(UserWarning, match="1 defective"):
        index = load_index(root)
    dataset = TrackNetSequenceDataset(index, SPEC)
    covered = [dataset.clips[c].frames[s:s + 3].tolist() for c, s in dataset.windows]
    assert all(4 not in window for window in covered)
    assert covered == [[0, 1, 2], [1, 2, 3], [5, 6, 7], [6, 7, 8], [7, 8, 9]]


def test_frame_dataset(tiny_dataset):
    dataset = TrackNetFrameDataset(load_index(tiny_dataset), SPEC)
    assert len(dataset) == 40
    sample = dataset[0]
    assert sample["frames"].shape == (1, 3, 72, 128) and sample["heatmaps"].shape == (1, 36, 64)


def test_augmented_sample_pushed_off_frame_becomes_invisible(tiny_dataset):
    augment = OmegaConf.structured(DataConfig).augment
    augment.hflip, augment.scale, augment.translate = 0.0, [3.0, 3.0], 0.0  # zoom 3x about the centre
    dataset = TrackNetSequenceDataset(load_index(tiny_dataset), SPEC, augment=augment)
    sample = dataset[0]  # ball at (82, 54) of 320x180 lands far outside a 3x zoom of the centre
    assert sample["visibility"].tolist() == [0]
    assert torch.isnan(sample["coords"]).all() and sample["heatmaps"].sum() == 0
    assert sample["mask"].tolist() == [True]


def test_patches_over_the_ball_are_exact_crops(tiny_dataset):
    index = load_index(tiny_dataset)
    whole = TrackNetSequenceDataset(index, SPEC)
    patched = TrackNetSequenceDataset(index, SPEC, patch=PatchConfig(size=[32, 24], ball_fraction=1.0))
    for item in range(0, 30, 3):
        full, patch = whole[item], patched[item]
        assert patch["frames"].shape == (3, 3, 24, 32) and patch["heatmaps"].shape == (1, 12, 16)
        torch.testing.assert_close(patch["coords"], full["coords"], equal_nan=True)  # original pixels
        if full["visibility"].item() == 0:
            continue
        # the patch and its heatmap are the same window of the whole frame and of its heatmap
        row, col = np.unravel_index(patch["heatmaps"][0].argmax().item(), (12, 16))
        assert patch["heatmaps"][0, row, col] > 0.8 and patch["visibility"].equal(full["visibility"])
        full_row, full_col = np.unravel_index(full["heatmaps"][0].argmax().item(), (36, 64))
        y0, x0 = 2 * (full_row - row), 2 * (full_col - col)
        torch.testing.assert_close(patch["frames"], full["frames"][..., y0:y0 + 24, x0:x0 + 32])
        torch.testing.assert_close(patch["heatmaps"][0], full["heatmaps"][0, y0 // 2:y0 // 2 + 12,
                                                                          x0 // 2:x0 // 2 + 16])


def test_patches_anywhere_lose_balls_they_miss(tiny_dataset):
    dataset = TrackNetSequenceDataset(load_index(tiny_dataset), SPEC,
                                      patch=PatchConfig(size=[16, 16], ball_fraction=0.0))
    samples = [dataset[item] for item in range(len(dataset))]
    missed = [s for s in samples if s["visibility"].item() == 0]
    assert missed and all(s["heatmaps"].sum() == 0 and s["mask"].all() for s in missed)
    assert all(s["frames"].shape[-2:] == (16, 16) for s in samples)


def test_cache_gives_the_same_samples(tiny_dataset):
    validate_tracknet(tiny_dataset, cache_size=SPEC.input_size, workers=1)
    index = DatasetIndex.load(tiny_dataset)
    cached = TrackNetSequenceDataset(index, SPEC)
    plain = TrackNetSequenceDataset(index, SPEC, use_cache=False)
    assert type(cached.source).__name__ == "CachedFrameSource"
    assert type(plain.source).__name__ == "JpegFrameSource"
    for item in (0, 9, 31):
        torch.testing.assert_close(cached[item]["frames"], plain[item]["frames"])


def test_loader_collates(tiny_dataset):
    dataset = TrackNetSequenceDataset(load_index(tiny_dataset), SPEC)
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch["frames"].shape == (4, 3, 3, 72, 128)
    assert batch["meta"]["clip"] == ["game1/Clip1"] * 4


def _splits(**splits):
    return OmegaConf.merge(OmegaConf.structured(DataConfig), {"splits": splits}).splits


def test_splits_by_game_and_clip(tiny_dataset):
    index = load_index(tiny_dataset)
    splits = _splits(train={"games": [1, 2]}, val={"clips": ["game1/Clip2"]}, test={"games": [2]})
    assert select_clips(index, splits, "train") == ["game1/Clip1", "game2/Clip1", "game2/Clip2"]
    assert select_clips(index, splits, "val") == ["game1/Clip2"]
    assert select_clips(index, splits, "test") == ["game2/Clip1", "game2/Clip2"]


def test_split_errors(tiny_dataset):
    index = load_index(tiny_dataset)
    with pytest.raises(ConfigError, match="no split 'test'"):
        select_clips(index, _splits(train={"games": [1]}), "test")
    with pytest.raises(DataError, match="selects no clips"):
        select_clips(index, _splits(train={"games": [7]}), "train")
    with pytest.raises(DataError, match="game9/Clip1"):
        select_clips(index, _splits(train={"clips": ["game9/Clip1"]}), "train")


def test_corrupt_frame_is_named(tiny_dataset):
    index = load_index(tiny_dataset)
    (tiny_dataset / "game1/Clip1/0001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="0001.jpg cannot be decoded"):
        TrackNetSequenceDataset(index, SPEC)[0]


def test_uint8_frames_normalise_to_the_contract(tiny_dataset):
    index = load_index(tiny_dataset)
    raw = TrackNetSequenceDataset(index, SPEC, normalize=False)[4]
    assert raw["frames"].dtype == torch.uint8 and raw["frames"].shape == (3, 3, 72, 128)
    torch.testing.assert_close(normalize(raw["frames"], SPEC.mean, SPEC.std),
                               TrackNetSequenceDataset(index, SPEC)[4]["frames"])


def test_a_rest_split_takes_every_game_the_others_do_not(tiny_dataset):
    index = load_index(tiny_dataset)
    splits = OmegaConf.merge(OmegaConf.structured(DataConfig), {"splits": {"train": {"rest": True},
                                                                         "val": {"games": [2]}}}).splits
    assert select_clips(index, splits, "train") == ["game1/Clip1", "game1/Clip2"]
    assert select_clips(index, splits, "val") == ["game2/Clip1", "game2/Clip2"]
