"""The adaptation dataset: the user's own frames with pseudo-labels, and synthetic flights rendered
into the user's own shots, in the TrackNet layout the trainer reads.

    DATA/frames/v<k>/<frame>.jpg           the model's input of the frames kept (as predict-video sees them)
    DATA/game<g>/Clip<c>/...               pseudo-labelled stretches: hard links to those frames
    DATA/game<g>/Clip<c>/...               the same real frames with the ball painted out: no ball
    DATA/game<g>/Clip<c>/...               composites (`real_backgrounds.render_backdrops`)
    DATA/data.yaml                         the data config: train and val clips, and each val part

Frames are stored at the model's input size, letterboxed exactly as predict-video letterboxes them,
so training sees what prediction will. A video is cut into blocks (BLOCK_SECONDS, at least
MIN_BLOCKS of them): every HOLDOUT_EVERY-th block, from the middle of the first ones, is held
out for validation, the rest trains, so the held-out frames are never neighbours of trained ones.
A long video keeps every k-th block, at most `max_frames` frames in all, and memory stays flat:
frames go to disk as they are decoded.

Real frames without a ball are rare in a rally, and the pseudo-labels trust few of them. So every
frame with a pseudo-labelled ball is also stored with that ball painted out (the median of the
nearest stored frames whose ball is elsewhere, over a capsule along its streak): the real players,
their hands and shoes, the court and the crowd, labelled as no ball, which a model nudged towards
finding more of this footage's ball must still leave alone.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from tracknet_cli.adaptation.pseudo_labels import BALL, UNKNOWN, PseudoLabels
from tracknet_cli.datasets.index import INDEX_CSV, INDEX_JSON, find_clips
from tracknet_cli.datasets.labels import LABEL_COLUMNS, write_tennis_labels
from tracknet_cli.errors import DataError
from tracknet_cli.fileio import atomic_write_text
from tracknet_cli.model_input import Letterbox

BLOCK_SECONDS = 4.0
MIN_BLOCKS = 5
HOLDOUT_EVERY = 5  # one block in five is held out: 20 % of the frames
HOLDOUT_PHASE = 2  # ... the third of each five: the middle of a clip of five blocks
JPEG_QUALITY = 95  # of the stored model inputs: near-lossless, the video's own compression stays
PAINT_RADIUS = 4  # model-input px painted either side of a ball's streak (a ball is 2-4 px at 512 wide)
PAINT_SOURCES = 6  # stored frames a painted patch is the median of (at least half of them needed)
PAINT_REACH = 2.0  # seconds: the farthest a source frame may be (the camera moves)
VAL_PARTS = ("val_real", "val_composite")  # the held-out checks, each a split of data.yaml


@dataclass(frozen=True)
class BlockPlan:
    """Which frames of a video are kept, in blocks, and which blocks are held out."""

    length: int  # frames per block
    every: int  # one block in `every` is kept
    limit: int  # frames kept at most

    @classmethod
    def of(cls, frames: int, fps: float, shortest: int, max_frames: int) -> BlockPlan:
        """For a video of `frames` (0: unknown) at `fps`; a block holds at least `shortest` frames."""
        length = max(1, round(BLOCK_SECONDS * fps))
        if frames:
            length = min(length, math.ceil(frames / MIN_BLOCKS))
        length = max(length, shortest)
        every = max(1, math.ceil(frames / max_frames)) if frames else 1
        return cls(length, every, max_frames)

    def block(self, frame: int) -> int:
        return frame // self.length

    def kept(self, frame: int) -> bool:
        return self.block(frame) % self.every == 0

    def held_out(self, frame: int) -> bool:
        return (self.block(frame) // self.every) % HOLDOUT_EVERY == HOLDOUT_PHASE


class FrameStore:
    """Writes the model inputs of a video's kept frames as they are decoded (predict's `on_frame`)."""

    def __init__(self, folder: Path, plan: BlockPlan):
        self.folder, self.plan, self.written = folder, plan, 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, index: int, model_input: np.ndarray) -> None:
        if not self.plan.kept(index) or self.written >= self.plan.limit:
            return
        path = self.path(index)
        if not cv2.imwrite(str(path), cv2.cvtColor(model_input, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise DataError(f"could not write {path} (disk full?)")
        self.written += 1

    def path(self, index: int) -> Path:
        return self.folder / f"{index:06d}.jpg"


def write_pseudo_clips(root: Path, game: int, store: FrameStore, labels: PseudoLabels, letterbox: Letterbox,
                       held_out: bool, shortest: int) -> list[str]:
    """The labelled stretches of one video's stored frames (held-out blocks or the others) as
    clips of game `game`, replacing what that game held; returns their clip ids. A stretch is a
    run of labelled frames inside one block, at least `shortest` long (a model's window)."""
    game_dir = root / f"game{game}"
    shutil.rmtree(game_dir, ignore_errors=True)
    clips = []
    for frames in _stretches(labels, store, held_out, shortest):
        clip_dir = game_dir / f"Clip{len(clips) + 1}"
        clip_dir.mkdir(parents=True)
        points = letterbox.to_input(labels.xy[frames])  # [n, 2] model-input pixels
        ball = labels.state[frames] == BALL
        for frame in frames:
            _link(store.path(frame), clip_dir / store.path(frame).name)
        write_tennis_labels(clip_dir / "Label.csv", pd.DataFrame({
            "frame": frames, "file": [store.path(frame).name for frame in frames],
            "visibility": ball.astype(int), "x": np.where(ball, points[:, 0], np.nan),
            "y": np.where(ball, points[:, 1], np.nan), "status": -1}, columns=LABEL_COLUMNS))
        clips.append(f"game{game}/{clip_dir.name}")
    return clips


def _stretches(labels: PseudoLabels, store: FrameStore, held_out: bool, shortest: int) -> list[np.ndarray]:
    """Runs of consecutive labelled, stored frames of one block each, in the asked part."""
    plan = store.plan
    frames = [f for f in np.flatnonzero(labels.state != UNKNOWN)
              if plan.held_out(f) == held_out and store.path(f).is_file()]
    return _runs_in_blocks(frames, plan, shortest)


def _runs_in_blocks(frames: list[int], plan: BlockPlan, shortest: int) -> list[np.ndarray]:
    """The runs of consecutive `frames` (ascending) that lie in one block, `shortest` or longer:
    the windows of a clip never cross a gap or reach from a held-out block into a trained one."""
    frames = np.asarray(frames, dtype=int)
    if len(frames) == 0:
        return []
    breaks = np.flatnonzero((np.diff(frames) != 1) | (np.diff(frames // plan.length) != 0)) + 1
    return [run for run in np.split(frames, breaks) if len(run) >= shortest]


def write_ball_removed_clips(root: Path, game: int, store: FrameStore, labels: PseudoLabels,
                             letterbox: Letterbox, fps: float, held_out: bool, shortest: int) -> list[str]:
    """The stored frames with a pseudo-labelled ball (held-out blocks or the others), the ball
    painted out, as no-ball clips of game `game`; returns their clip ids."""
    game_dir = root / f"game{game}"
    shutil.rmtree(game_dir, ignore_errors=True)
    known = np.array([f for f in np.flatnonzero(labels.state != UNKNOWN) if store.path(f).is_file()], dtype=int)
    points = letterbox.to_input(labels.xy)  # [N, 2], NaN without a ball
    reach = round(PAINT_REACH * fps)
    painted: dict[int, np.ndarray] = {}
    for frame in known:
        if labels.state[frame] != BALL or store.plan.held_out(frame) != held_out:
            continue
        near = known[np.argsort(np.abs(known - frame), kind="stable")]
        elsewhere = [f for f in near if f != frame and abs(f - frame) <= reach
                     and not (np.linalg.norm(points[f] - points[frame]) <= 4 * PAINT_RADIUS)]  # NaN: no ball
        if len(elsewhere) >= PAINT_SOURCES // 2:
            painted[frame] = _painted(store, frame, points, elsewhere[:PAINT_SOURCES])
    clips = []
    for run in _runs_in_blocks(sorted(painted), store.plan, shortest):
        clip_dir = game_dir / f"Clip{len(clips) + 1}"
        clip_dir.mkdir(parents=True)
        for frame in run:
            path = clip_dir / store.path(frame).name
            cv2.imwrite(str(path), painted[frame], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        write_tennis_labels(clip_dir / "Label.csv", pd.DataFrame({
            "frame": run, "file": [store.path(frame).name for frame in run], "visibility": 0, "x": np.nan,
            "y": np.nan, "status": -1}, columns=LABEL_COLUMNS))
        clips.append(f"game{game}/{clip_dir.name}")
    return clips


def _painted(store: FrameStore, frame: int, points: np.ndarray, sources: list[int]) -> np.ndarray:
    """Stored `frame` (BGR) with its ball painted over with the per-pixel median of the `sources`."""
    background = np.median(np.stack([cv2.imread(str(store.path(s))) for s in sources]), axis=0).astype(np.uint8)
    return paint_out(cv2.imread(str(store.path(frame))), points, frame, background, 2 * PAINT_RADIUS + 1)


def paint_out(image: np.ndarray, points: np.ndarray, frame: int, background: np.ndarray, width: int) -> np.ndarray:
    """`image` (frame `frame` of a video whose ball is at `points` [N, 2], NaN where none) with its
    ball replaced by `background`: a capsule `width` px wide along its streak, from halfway to its
    position in the frame before to halfway to the next."""
    ends = [(points[frame] + points[s]) / 2 if 0 <= s < len(points) and np.isfinite(points[s]).all()
            else points[frame] for s in (frame - 1, frame + 1)]
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.line(mask, tuple(int(v) for v in np.round(ends[0])), tuple(int(v) for v in np.round(ends[1])), 255, width)
    painted = image.copy()
    painted[mask > 0] = background[mask > 0]
    return painted


def _link(source: Path, target: Path) -> None:
    """A hard link (no copy of the frame), or a copy where the file system has none."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def composite_clips(root: Path, first_game: int) -> tuple[list[str], list[str]]:
    """(train, val) clip ids of the composite games from `first_game` on: the last clip of each
    shot's game is held out."""
    clips = [clip for clip in find_clips(root) if clip.game >= first_game]
    last = {clip.game: clip.clip_id for clip in clips}  # clips come in order: the last one stays
    val = list(last.values())
    return [clip.clip_id for clip in clips if clip.clip_id not in val], val


def write_data_config(root: Path, train: list[str], val_real: list[str], val_composite: list[str]) -> Path:
    """`root/data.yaml`: the trainer's data config over the clips (`val` is both held-out parts)
    and a split per part, so each can be scored alone. Removes a stale index (the labels change
    from round to round)."""
    if not train:
        raise DataError(f"{root}: nothing to train on: no confident flight, no frame without a ball "
                        "and no composite clip")
    for name in (INDEX_CSV, INDEX_JSON):
        (root / name).unlink(missing_ok=True)
    splits = {"train": {"clips": train}, "val": {"clips": val_real + val_composite},
              VAL_PARTS[0]: {"clips": val_real}, VAL_PARTS[1]: {"clips": val_composite}}
    config = {"name": "adapt", "format": "tracknet", "root": str(root.resolve()), "cache": "off",
              "splits": {name: clips for name, clips in splits.items() if clips["clips"]}}
    path = root / "data.yaml"
    atomic_write_text(path, OmegaConf.to_yaml(OmegaConf.create(config)))
    return path
