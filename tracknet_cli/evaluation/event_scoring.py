"""The hits and bounces of an eval split, found in the model's per-frame predictions and scored.

    scores = score_clip_events(predictions, dataset, method="learned")  # None: no event labelled

Each clip's predictions become a track as predict-video makes one (the ball-in-play tracker with
the model's own detection noise), its events are detected as predict-video detects them, and they
are scored against the clip's `status` labels (`event_metrics`). A clip's frame rate is its video's
(`<clip>.mp4` beside the clip folder, as `prepare synthetic` and `prepare video` write it), else
TrackNet's 30 fps.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.errors import DataError
from tracknet_cli.evaluation.event_metrics import EventScores, EventSet
from tracknet_cli.inference.events import EVENT_NAMES, EventDetector, detect_events
from tracknet_cli.inference.trajectory import TrajectoryConfig, candidates_from_points, postprocess
from tracknet_cli.inference.video_prediction import detection_noise
from tracknet_cli.model_input import Letterbox, SampleSpec

DEFAULT_FPS = 30.0  # the TrackNet datasets' frame rate, for clips without a video
TOLERANCES = (1, 2)  # frames


def has_events(clips) -> bool:
    return any(np.isin(clip.status, list(EVENT_NAMES)).any() for clip in clips)


def clip_fps(clip_folder: Path) -> float:
    """The frame rate of the clip's video beside its folder, else DEFAULT_FPS."""
    video = clip_folder.with_suffix(".mp4")
    if not video.is_file():
        return DEFAULT_FPS
    try:
        with VideoReader(video) as reader:
            return reader.info.fps
    except DataError:
        return DEFAULT_FPS


def score_clip_events(predictions: pd.DataFrame, clips, root: str | Path, spec: SampleSpec,
                      method: str = "learned") -> EventScores | None:
    """Events of every clip of `clips` (the dataset's) from `predictions` (clip, frame, pred_x,
    pred_y, confidence), scored against the labels; None when no clip has a labelled event."""
    if not has_events(clips):
        return None
    detector = EventDetector.load() if method == "learned" else None
    scores = EventScores(TOLERANCES)
    by_clip = dict(tuple(predictions.groupby("clip", sort=False)))
    for clip in clips:
        rows = by_clip.get(clip.clip_id)
        if rows is None:
            continue
        first = int(clip.frames.min())
        count = int(clip.frames.max()) - first + 1
        points = np.full((count, 2), np.nan)  # [N, 2] a row per frame of the clip's span
        confidence = np.zeros(count)
        at = rows["frame"].to_numpy(int) - first
        points[at] = rows[["pred_x", "pred_y"]].to_numpy(float)
        confidence[at] = rows["confidence"].to_numpy(float)
        size = tuple(int(v) for v in clip.sizes[0])
        fps = clip_fps(Path(root) / clip.clip_id)
        noise = detection_noise(spec, Letterbox.fit(size, spec.input_size))
        track = postprocess(candidates_from_points(points, confidence), fps, size, TrajectoryConfig(noise=noise))
        events = detect_events(track, fps, size, method, detector)
        scores.add(replace(events, frame=events.frame + first),
                   EventSet.from_status(clip.frames, clip.status, clip.points))
    return scores
