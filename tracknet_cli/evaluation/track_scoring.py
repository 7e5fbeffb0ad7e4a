"""A ball track of a whole video (what predict-video writes) scored against hand labels of it.

    score = score_track(read_labels("match_ball.csv"), read_labels("match_labels.csv"), tolerance=20)
    score.recall, score.false_alarm_rate, score.median_error

Three numbers a user of a tracker cares about, on the two kinds of frames a match has:
    recall            ball frames (label visibility 1) whose track point lies within `tolerance` px
    false_alarm_rate  no-ball frames (visibility 0) where the track reports a ball anyway
    median_error      px between track and label on the ball frames it found
Frames labelled 2 or 3 (a blurred or hidden ball whose centre is not pinned) are left out. Both
tables use the canonical label columns (`datasets.labels.read_labels`): frame, visibility, x, y.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from tracknet_cli.errors import DataError
from tracknet_cli.evaluation.metrics import Protocol, classify_frames


@dataclass(frozen=True)
class TrackScore:
    ball_frames: int
    found: int  # ball frames with a track point within the tolerance
    no_ball_frames: int
    false_alarms: int  # no-ball frames with a track point
    median_error: float  # px, over the found frames; NaN when none

    @property
    def recall(self) -> float:
        return self.found / self.ball_frames if self.ball_frames else math.nan

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.no_ball_frames if self.no_ball_frames else math.nan

    def as_dict(self) -> dict:
        return {**asdict(self), "recall": self.recall, "false_alarm_rate": self.false_alarm_rate}

    @staticmethod
    def total(scores: list[TrackScore], errors: np.ndarray) -> TrackScore:
        """Several clips as one: counts add up, the median is over all `errors` of found frames."""
        return TrackScore(sum(s.ball_frames for s in scores), sum(s.found for s in scores),
                          sum(s.no_ball_frames for s in scores), sum(s.false_alarms for s in scores),
                          float(np.median(errors)) if len(errors) else math.nan)


def score_track(predicted: pd.DataFrame, labels: pd.DataFrame,
                tolerance: float = 20.0) -> tuple[TrackScore, np.ndarray]:
    """The score of a track against labels of the same frames, and the errors (px) of the found
    frames. A labelled frame the track lacks counts as "no ball reported"."""
    missing = sorted(set(labels["frame"]) - set(predicted["frame"]))
    if len(missing) > len(labels) // 2:
        raise DataError(f"the track covers only {len(labels) - len(missing)} of the {len(labels)} labelled "
                        f"frames (first missing: {missing[0]}): is it the same video?")
    track = predicted.set_index("frame").reindex(labels["frame"])
    points = track[["x", "y"]].to_numpy(np.float64, copy=True)
    points[~(track["visibility"].to_numpy() > 0)] = np.nan  # frames without a ball, or missing
    outcomes, errors = classify_frames(points, labels[["x", "y"]].to_numpy(np.float64),
                                       labels["visibility"].to_numpy(), Protocol(tolerance, visibility=(1,)))
    found = outcomes == "TP"
    score = TrackScore(ball_frames=int(np.isin(outcomes, ("TP", "FP1", "FN")).sum()), found=int(found.sum()),
                       no_ball_frames=int(np.isin(outcomes, ("FP2", "TN")).sum()),
                       false_alarms=int((outcomes == "FP2").sum()),
                       median_error=float(np.median(errors[found])) if found.any() else math.nan)
    return score, errors[found]
