"""Frame and sequence datasets over TrackNet-layout folders (`game*/Clip*/` + `Label.csv`).

A sample is T consecutive frames of one clip (windows never cross clips, nor gaps where a frame
was left out of the index for a defect) with the heatmap task's targets; `model_input.SampleSpec`
says what a model expects of one:

    frames      float32 [T, 3, H, W]   normalised with the backbone's mean and std (uint8 RGB
                                       with normalize=False: 4x fewer bytes from loader workers,
                                       `model_input.normalize` then runs on the batch, on the device)
    heatmaps    float32 [T_out, Hh, Wh] Gaussian targets (zeros where there is no ball)
    coords      float32 [T_out, 2]     ball in original-frame pixels, NaN where there is none
    visibility  int64   [T_out]        0-3; 0 also where augmentation pushed the ball off the frame
    mask        bool    [T_out]        the label may be used by the loss
    meta        clip id, frame numbers [T], original size (W, H)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset

from tracknet_cli.config import AugmentConfig, PatchConfig
from tracknet_cli.datasets.augment import sample_transform
from tracknet_cli.datasets.frame_cache import CachedFrameSource
from tracknet_cli.datasets.frames import JpegFrameSource
from tracknet_cli.datasets.heatmap import gaussian_heatmap
from tracknet_cli.datasets.index import INDEX_CSV, DatasetIndex
from tracknet_cli.errors import ConfigError, DataError
from tracknet_cli.geometry import inside_frame, patch_origin, rescale_points
from tracknet_cli.model_input import SampleSpec, normalize


@dataclass
class _Clip:
    """One clip's labels as arrays, so `__getitem__` touches no pandas."""

    clip_id: str
    files: list[str]
    frames: np.ndarray  # [N] frame numbers
    points: np.ndarray  # [N, 2] original pixels, NaN without a ball
    visibility: np.ndarray  # [N]
    sizes: np.ndarray  # [N, 2] original (W, H)
    status: np.ndarray  # [N] 0 flying, 1 hit, 2 bounce, -1 unknown (labels without it)


class TrackNetSequenceDataset(Dataset):
    """Windows of `spec.frames` consecutive frames, one every `stride` frames, within clips."""

    def __init__(
        self,
        index: DatasetIndex,
        spec: SampleSpec,
        clips: list[str] | None = None,
        stride: int = 1,
        augment: AugmentConfig | None = None,
        negatives: bool = True,
        use_cache: bool = True,
        normalize: bool = True,
        seed: int = 0,
        patch: PatchConfig | None = None,
    ):
        self.spec = spec
        # a plain dataclass: OmegaConf's attribute access would cost more than the augmentation
        if isinstance(augment, DictConfig):
            augment = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(AugmentConfig), augment))
        self.augment = augment
        if isinstance(patch, DictConfig):
            patch = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PatchConfig), patch))
        self.patch = patch if patch is not None and patch.size is not None else None
        self.heatmap_stride = spec.input_size[0] // spec.heatmap_size[0]
        self.negatives = negatives
        self.normalize = normalize
        self.seed = seed
        self.epoch = 0
        self.clips = _clip_arrays(index, clips)
        self.windows = _windows(self.clips, spec.frames, stride)
        cache_dir = index.cache_dir(spec.input_size) if use_cache else None
        self.source = (CachedFrameSource(cache_dir, spec.input_size) if cache_dir
                       else JpegFrameSource(index.root, spec.input_size))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, item: int) -> dict:
        clip_index, start = self.windows[item]
        clip = self.clips[clip_index]
        rows = list(range(start, start + self.spec.frames))
        frames = self.source.load(clip.clip_id, rows, [clip.files[r] for r in rows])  # [T, H, W, 3]

        out_rows = rows[-self.spec.output_frames:]
        original_size = tuple(int(v) for v in clip.sizes[out_rows[-1]])
        points = rescale_points(clip.points[out_rows], original_size, self.spec.input_size)
        visibility = clip.visibility[out_rows].copy()
        rng = self._sample_rng(item)
        if self.augment is not None:
            transform = sample_transform(self.augment, self.spec.input_size, rng)
            frames = transform.apply(frames)
            points = transform.map_points(points)
        origin = np.zeros(2)
        if self.patch is not None:
            origin = self._patch_origin(points, visibility, rng)
            (x0, y0), (width, height) = origin.astype(int), self.patch.size
            frames = frames[:, y0:y0 + height, x0:x0 + width]
            points = points - origin
        return self._sample(clip, rows, frames, points, visibility, original_size, origin)

    def set_epoch(self, epoch: int) -> None:
        """Augmentation is a function of (seed, epoch, sample): new every epoch, yet the same
        whichever worker or process loads the sample, so resumed and multi-process training
        repeat a single-process run exactly."""
        self.epoch = epoch

    def _sample_rng(self, item: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, item])

    def _patch_origin(self, points: np.ndarray, visibility: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
        """Top-left (x, y) of a training patch, a multiple of the heatmap stride so the patch's
        heatmap is an exact crop of the frame's. With probability `ball_fraction` the patch holds
        a visible ball of the window, anywhere in it but 4 pixels from the edge; else anywhere."""
        balls = np.flatnonzero((visibility > 0) & inside_frame(points, self.spec.input_size))
        target = None
        if len(balls) and rng.random() < self.patch.ball_fraction:
            target = points[rng.choice(balls)]
        margin = np.minimum(4, np.array(self.patch.size) // 2)
        return patch_origin(self.patch.size, self.spec.input_size, self.heatmap_stride, rng, target, margin)

    def _sample(self, clip: _Clip, rows: list[int], frames: np.ndarray, points: np.ndarray,
                visibility: np.ndarray, original_size: tuple[int, int], origin: np.ndarray) -> dict:
        """`frames` [T, h, w, 3] are the whole input frame, or a patch of it whose top-left corner
        is `origin`; `points` are in the frames' pixels."""
        frame_size = (frames.shape[2], frames.shape[1])
        heatmap_size = (frame_size[0] // self.heatmap_stride, frame_size[1] // self.heatmap_stride)
        off_frame = (visibility > 0) & ~inside_frame(points, frame_size)
        visibility[off_frame] = 0
        points[visibility == 0] = np.nan
        heatmap_points = rescale_points(points, frame_size, heatmap_size)
        heatmaps = np.stack([gaussian_heatmap(p, heatmap_size, self.spec.sigma) for p in heatmap_points])
        mask = visibility > 0 if not self.negatives else np.ones(len(visibility), dtype=bool)
        frames = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()  # [T, 3, H, W] uint8
        return {
            "frames": normalize(frames, self.spec.mean, self.spec.std) if self.normalize else frames,
            "heatmaps": torch.from_numpy(heatmaps),
            "coords": torch.from_numpy(
                rescale_points(points + origin, self.spec.input_size, original_size)).float(),
            "visibility": torch.from_numpy(visibility).long(),
            "mask": torch.from_numpy(mask),
            "meta": {
                "clip": clip.clip_id,
                "frames": torch.from_numpy(clip.frames[rows]).long(),
                "size": torch.tensor(original_size),
            },
        }


class TrackNetFrameDataset(TrackNetSequenceDataset):
    """Single frames (T = 1): the sequence dataset with one-frame windows."""

    def __init__(self, index: DatasetIndex, spec: SampleSpec, **kwargs):
        super().__init__(index, SampleSpec(**{**spec.__dict__, "frames": 1, "output_frames": 1}), **kwargs)


def _clip_arrays(index: DatasetIndex, clips: list[str] | None) -> list[_Clip]:
    frames = index.frames
    known = index.clip_ids()
    wanted = known if clips is None else clips
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise DataError(f"clips {unknown} are not in the index of {index.root}")
    out = []
    for clip_id, rows in frames[frames["clip"].isin(wanted)].groupby("clip", sort=False):
        rows = rows.sort_values("frame")
        out.append(_Clip(
            clip_id=clip_id,
            files=rows["file"].tolist(),
            frames=rows["frame"].to_numpy(np.int64),
            points=rows[["x", "y"]].to_numpy(np.float64),
            visibility=rows["visibility"].to_numpy(np.int64),
            sizes=rows[["width", "height"]].to_numpy(np.int64),
            status=rows["status"].fillna(-1).to_numpy(np.int64),
        ))
    return out


def _windows(clips: list[_Clip], length: int, stride: int) -> list[tuple[int, int]]:
    """(clip, first row) of every window of `length` consecutive frame numbers.

    Windows start every `stride` rows within each unbroken run of frames; the last window of a run
    is added when the stride skips it, so every frame is inside at least one window.
    """
    windows = []
    for clip_index, clip in enumerate(clips):
        breaks = np.flatnonzero(np.diff(clip.frames) != 1) + 1
        for run_start, run_end in zip(np.r_[0, breaks], np.r_[breaks, len(clip.frames)]):
            last = run_end - length
            if last < run_start:
                continue
            starts = list(range(run_start, last + 1, stride))
            if starts[-1] != last:
                starts.append(last)
            windows += [(clip_index, int(s)) for s in starts]
    return windows


def select_clips(index: DatasetIndex, splits: DictConfig, split: str) -> list[str]:
    """Clip ids of `split`: its games' clips plus its named clips, minus clips named elsewhere."""
    if split not in splits:
        raise ConfigError(f"data.splits has no split {split!r}; it has {', '.join(splits) or 'none'}")
    games = dict(zip(index.frames["clip"], index.frames["game"]))
    chosen = splits[split]
    named_elsewhere = {c for name, s in splits.items() if name != split for c in s.clips}
    wanted_games = set(chosen.games)
    if chosen.rest:
        wanted_games |= set(games.values()) - {g for name, s in splits.items() if name != split for g in s.games}
    missing = sorted(set(chosen.clips) - set(games))
    if missing:
        raise DataError(f"data.splits.{split}.clips names clips not in {index.root}: {missing}")
    selected = [clip for clip in index.clip_ids()
                if clip in chosen.clips or (games[clip] in wanted_games and clip not in named_elsewhere)]
    if not selected:
        raise DataError(
            f"data.splits.{split} selects no clips of {index.root} (games {list(chosen.games)}, "
            f"clips {list(chosen.clips)}; the dataset has games {sorted(set(games.values()))})"
        )
    return selected


def load_index(root: str | Path) -> DatasetIndex:
    """The prepared index of `root`, building it on first use like `tracknet prepare tracknet`."""
    root = Path(root)
    if (root / INDEX_CSV).exists():
        return DatasetIndex.load(root)
    from tracknet_cli.datasets.validate import validate_tracknet  # imports the image checker

    report = validate_tracknet(root, workers=1)
    if report.defects:
        warnings.warn(
            f"{root}: {len(report.defects)} defective labels or frames left out (first: "
            f"{report.defects[0]}); `tracknet prepare tracknet --root {root}` lists them all",
            stacklevel=2,
        )
    return report.index


def build_dataset(cfg: DictConfig, split: str, train: bool | None = None,
                  normalize: bool = True) -> TrackNetSequenceDataset:
    """The dataset of `split` from a resolved config; augmented and strided for training."""
    train = (split == "train") if train is None else train
    index = load_index(cfg.data.root)
    return TrackNetSequenceDataset(
        index,
        SampleSpec.from_model_config(cfg.model),
        clips=select_clips(index, cfg.data.splits, split),
        stride=cfg.data.stride if train else (cfg.data.eval_stride or cfg.model.output_frames),
        augment=cfg.data.augment if train else None,
        negatives=cfg.data.negatives,
        use_cache=cfg.data.cache == "auto",
        normalize=normalize,
        seed=cfg.training.seed,
        patch=cfg.training.patch if train else None,
    )
