"""Ball metrics: per-frame outcomes under a stated protocol, and their summary.

Published ball-tracking numbers differ in tolerance, resolution and which visibility codes count
as "ball present", so the protocol travels with every result. Everything here is a pure function
of per-frame arrays: a distributed evaluation concatenates the arrays of all workers and
summarises once, and per-frame outcomes can be written next to the predictions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

OUTCOMES = ("TP", "FP1", "FP2", "FN", "TN")
IGNORED = "IGNORED"


@dataclass(frozen=True)
class Protocol:
    """How frames are judged; `describe()` is the line every report carries."""

    tolerance: float = 4.0  # pixels, in the frame the points are given in (original by default)
    visibility: tuple[int, ...] = (1, 2, 3)  # codes that count as "ball present" (WASB: (1, 2))
    pck_radii: tuple[float, ...] = (5.0, 10.0)
    resolution: str = "original"  # text for the report

    def __post_init__(self) -> None:
        # Configs hand over lists; tuples keep the protocol hashable and its text stable.
        object.__setattr__(self, "visibility", tuple(int(code) for code in self.visibility))
        object.__setattr__(self, "pck_radii", tuple(float(radius) for radius in self.pck_radii))
        if 0 in self.visibility:
            raise ValueError("visibility 0 means no ball; it cannot count as ball present")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 pixels, got {self.tolerance}")

    def describe(self) -> str:
        codes = ",".join(str(code) for code in self.visibility)
        radii = ",".join(f"{radius:g}" for radius in self.pck_radii)
        return (f"tolerance {self.tolerance:g} px at {self.resolution} resolution, "
                f"ball present = visibility {codes}, PCK@{radii}")


def classify_frames(
    predicted: np.ndarray, label: np.ndarray, visibility: np.ndarray, protocol: Protocol
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: outcome strings (one of OUTCOMES, or "IGNORED") and L2 error (NaN elsewhere).

    `predicted` and `label` are (x, y) [N, 2] in the same pixels as the tolerance, NaN for no
    prediction; `visibility` [N] holds the label codes. The error is defined exactly on TP and
    FP1 frames. A frame whose visibility is neither 0 nor a "present" code (occluded balls under
    WASB's protocol) is IGNORED: its label is neither a ball to find nor an empty frame.
    """
    predicted, label = np.asarray(predicted, np.float64), np.asarray(label, np.float64)
    visibility = np.asarray(visibility)
    expected = (visibility.shape[0] if visibility.ndim == 1 else -1, 2)
    if predicted.shape != expected or label.shape != expected:
        raise ValueError(f"expected predicted and label [N, 2] and visibility [N], got "
                         f"{predicted.shape}, {label.shape} and {visibility.shape}")
    present = np.isin(visibility, protocol.visibility)
    absent = visibility == 0
    _check_present_labels(label, present, visibility)
    has_prediction = ~np.isnan(predicted).any(axis=1)
    measured = present & has_prediction
    error = np.full(len(visibility), np.nan)
    error[measured] = np.hypot(*(predicted[measured] - label[measured]).T)
    with np.errstate(invalid="ignore"):
        hit = error <= protocol.tolerance
    outcomes = np.select(
        [present & hit, measured, present, absent & has_prediction, absent],
        ["TP", "FP1", "FN", "FP2", "TN"],
        default=IGNORED,
    )
    return outcomes, error


def _check_present_labels(label: np.ndarray, present: np.ndarray, visibility: np.ndarray) -> None:
    """A ball marked present without coordinates cannot be scored; name the frames to fix."""
    broken = np.flatnonzero(present & np.isnan(label).any(axis=1))
    if broken.size:
        noun = "frame" if broken.size == 1 else "frames"
        shown = ", ".join(str(index) for index in broken[:5])
        more = f" and {broken.size - 5} more" if broken.size > 5 else ""
        raise ValueError(f"{noun} {shown}{more}: visibility {visibility[broken[0]]} marks a ball "
                         f"present but its label has no coordinates")


@dataclass
class BallMetrics:
    """Summary of a set of frames. Ratios with a zero denominator are 0.0, not NaN, so an
    empty split or a model that never fires reads as "nothing found" and stays JSON-clean."""

    counts: dict[str, int]
    accuracy: float
    precision: float
    recall: float
    f1: float
    mean_l2: float  # NaN when no present frame has a prediction
    median_l2: float
    pck: dict[float, float]
    frames: int  # frames counted (IGNORED ones excluded)

    def as_dict(self) -> dict:
        """JSON-friendly: counts nested under "counts", "pck@5"-style keys, None for NaN."""
        values = {"frames": self.frames, "counts": dict(self.counts), "accuracy": self.accuracy,
                  "precision": self.precision, "recall": self.recall, "f1": self.f1,
                  "mean_l2": self.mean_l2, "median_l2": self.median_l2}
        values.update({f"pck@{radius:g}": share for radius, share in self.pck.items()})
        return {key: None if isinstance(v, float) and math.isnan(v) else v
                for key, v in values.items()}


def summarize(outcomes: np.ndarray, errors: np.ndarray, protocol: Protocol) -> BallMetrics:
    """Counts, detection ratios, L2 statistics and PCK from the arrays of `classify_frames`."""
    outcomes, errors = np.asarray(outcomes), np.asarray(errors, np.float64)
    counts = {name: int(np.count_nonzero(outcomes == name)) for name in OUTCOMES}
    tp, fp1, fp2, fn, tn = (counts[name] for name in OUTCOMES)
    precision, recall = _ratio(tp, tp + fp1 + fp2), _ratio(tp, tp + fn)
    measured = errors[np.isin(outcomes, ("TP", "FP1"))]
    return BallMetrics(
        counts=counts,
        accuracy=_ratio(tp + tn, sum(counts.values())),
        precision=precision,
        recall=recall,
        f1=_ratio(2 * precision * recall, precision + recall),
        mean_l2=float(measured.mean()) if measured.size else math.nan,
        median_l2=float(np.median(measured)) if measured.size else math.nan,
        pck={radius: _ratio(int(np.count_nonzero(measured <= radius)), tp + fp1 + fn)
             for radius in protocol.pck_radii},
        frames=sum(counts.values()),
    )


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, with 0/0 defined as 0.0 (see BallMetrics)."""
    return float(numerator / denominator) if denominator else 0.0
