"""Hits and bounces scored against labelled ones: precision, recall and F1 within ±k frames.

    scores = score_events(predicted, truth, tolerances=(1, 2))  # Events (found) or EventSet (labelled)
    scores.as_dict()["bounce"]["2"]["f1"], scores.bounce_errors

Protocol: per kind (hit, bounce) separately, a predicted event matches a labelled one of the same
kind within the tolerance (frames), each used at most once, nearest pairs first. A predicted event
of the wrong kind is a false alarm of its kind and leaves a miss of the other. The bounce position
error is the distance (px) between the matched bounces at the loosest tolerance: where the ball
touched the court, as the line calls of a user need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tracknet_cli.inference.events import EVENT_NAMES, Events


@dataclass(frozen=True)
class EventSet:
    """Labelled events of one clip: frames [E] int, kinds [E] (1 hit, 2 bounce), positions [E, 2]
    px; what scoring reads of found `Events` too."""

    frame: np.ndarray
    kind: np.ndarray
    xy: np.ndarray

    @classmethod
    def from_status(cls, frames: np.ndarray, status: np.ndarray, xy: np.ndarray) -> EventSet:
        """The labelled events of a clip: the frames whose status is a hit or a bounce."""
        marked = np.isin(status, list(EVENT_NAMES))
        return cls(np.asarray(frames)[marked].astype(int), np.asarray(status)[marked].astype(int),
                   np.asarray(xy, dtype=np.float64)[marked])


def match(predicted: np.ndarray, truth: np.ndarray, tolerance: int) -> list[tuple[int, int]]:
    """(predicted index, true index) pairs of frames within `tolerance` of each other, each index
    used once, the nearest pairs taken first."""
    gaps = np.abs(np.asarray(predicted)[:, None] - np.asarray(truth)[None, :])  # [P, T]
    pairs = sorted(zip(*np.nonzero(gaps <= tolerance)), key=lambda pair: gaps[pair])
    used_p, used_t, matched = set(), set(), []
    for p, t in pairs:
        if p not in used_p and t not in used_t:
            used_p.add(p)
            used_t.add(t)
            matched.append((int(p), int(t)))
    return matched


@dataclass
class EventCounts:
    labelled: int = 0
    predicted: int = 0
    matched: int = 0

    def add(self, other: EventCounts) -> None:
        self.labelled += other.labelled
        self.predicted += other.predicted
        self.matched += other.matched

    def as_dict(self) -> dict:
        precision = self.matched / self.predicted if self.predicted else math.nan
        recall = self.matched / self.labelled if self.labelled else math.nan
        f1 = (2 * self.matched / (self.predicted + self.labelled)
              if self.predicted + self.labelled else math.nan)
        return {"labelled": self.labelled, "predicted": self.predicted, "matched": self.matched,
                "precision": precision, "recall": recall, "f1": f1}


@dataclass
class EventScores:
    """Counts per kind and tolerance, added up over clips, and the matched bounces' errors."""

    tolerances: tuple[int, ...] = (1, 2)
    counts: dict = field(default_factory=dict)  # (kind name, tolerance) -> EventCounts
    bounce_errors: list = field(default_factory=list)  # px

    def add(self, predicted: Events | EventSet, truth: Events | EventSet) -> None:
        """One clip's events."""
        for code, name in EVENT_NAMES.items():
            mine, theirs = predicted.kind == code, truth.kind == code
            for tolerance in self.tolerances:
                pairs = match(predicted.frame[mine], truth.frame[theirs], tolerance)
                counts = EventCounts(int(theirs.sum()), int(mine.sum()), len(pairs))
                self.counts.setdefault((name, tolerance), EventCounts()).add(counts)
                if name == "bounce" and tolerance == max(self.tolerances):
                    for p, t in pairs:
                        self.bounce_errors.append(
                            float(np.linalg.norm(predicted.xy[mine][p] - truth.xy[theirs][t])))

    def f1(self, kind: str, tolerance: int) -> float:
        """NaN where nothing was labelled or predicted."""
        return self.counts.get((kind, tolerance), EventCounts()).as_dict()["f1"]

    def as_dict(self) -> dict:
        """{kind: {tolerance: {labelled, predicted, matched, precision, recall, f1}}, and the
        bounce position error's median and mean (px) over the matched bounces}; None where a
        ratio has nothing to count."""
        out: dict = {name: {str(t): self.counts.get((name, t), EventCounts()).as_dict()
                            for t in self.tolerances} for name in EVENT_NAMES.values()}
        errors = np.array(self.bounce_errors)
        out["bounce_error_px"] = {"median": float(np.median(errors)) if len(errors) else math.nan,
                                  "mean": float(errors.mean()) if len(errors) else math.nan,
                                  "matched": len(errors)}
        return _without_nan(out)


def _without_nan(values):
    """None for every NaN in nested dicts: JSON has no NaN (an undefined ratio: nothing to count)."""
    if isinstance(values, dict):
        return {key: _without_nan(value) for key, value in values.items()}
    return None if isinstance(values, float) and math.isnan(values) else values


def score_events(predicted: Events | EventSet, truth: Events | EventSet,
                 tolerances: tuple[int, ...] = (1, 2)) -> EventScores:
    """One clip's events scored (add more clips with `EventScores.add`)."""
    scores = EventScores(tuple(tolerances))
    scores.add(predicted, truth)
    return scores
