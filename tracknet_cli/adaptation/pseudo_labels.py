"""Pseudo-labels: the stretches of a video's track sure enough to train on, and the frames surely
without a ball in play. Everything else is left unlabelled, so it teaches nothing either way.

    labels = select_pseudo_labels(track, candidates, times, fps, extent, noise, usable)
    # labels.xy [N, 2] video pixels (NaN: none); labels.state [N]: BALL, NO_BALL or UNKNOWN

A ball label comes from a flight of the ball-in-play tracker (`Track.flight`: a smooth piece
between hits and bounces, still objects already out) that is

    long       MIN_FLIGHT_SECONDS and MIN_DETECTIONS detections: a short piece can be a shoe and
               a head that happened to line up
    confident  the median score of its detections at least MIN_SCORE
    smooth     the RMS residual of a cubic in time through its detections, piece by piece of at
               most FIT_SECONDS, within MAX_RESIDUAL times the detection noise: one wrong
               detection (a candidate next to the ball) spoils it
    moving     its detections span at least MIN_TRAVEL frame lengths: the ball in play travels
    in view    inside a shot that shows a court (`usable`): replays of the crowd teach nothing

(the speed limit is the tracker's: a flight never jumps faster than a ball flies). The frames the
tracker filled inside such a flight, at most MAX_FILL in a row, are ball labels too: the ball the
model missed, where its own flight says it was, is what adaptation teaches. The EDGE_SECONDS at
each end of a flight stay unlabelled: there the ball meets a racket, a hand or the court, and a
flight's first frames may be the ball still in the server's hand, which is not in play.

A frame is NO_BALL when it is in view, belongs to no flight, and no candidate that moves (one that
`still_candidates` does not call still) was detected within QUIET_SECONDS of it: between points,
the ball lying on the court, players walking. A rally the model only half sees still shows
moving candidates and stays unlabelled, so its missed ball never becomes a negative.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tracknet_cli.inference.ball_in_play import still_candidates
from tracknet_cli.inference.track_picking import padded
from tracknet_cli.inference.trajectory import Track, true_runs

BALL, NO_BALL, UNKNOWN = 1, 0, -1

MIN_FLIGHT_SECONDS = 0.25
MIN_DETECTIONS = 6
MIN_SCORE = 0.6
FIT_SECONDS = 0.5
MAX_RESIDUAL = 1.5
MIN_TRAVEL = 0.03  # frame lengths: 58 px at 1080p
MAX_FILL = 3
EDGE_SECONDS = 0.07  # two frames at 30 fps
QUIET_SECONDS = 2.0


@dataclass(frozen=True)
class FlightVerdict:
    """One flight of the track and whether its positions became labels."""

    first: int  # frames
    last: int
    detections: int
    score: float  # median detection score
    residual: float  # RMS misfit, in detection noises
    travel: float  # frame lengths
    rejected: str = ""  # why not ('' when kept): short, unsure, rough, still or out of view


@dataclass
class PseudoLabels:
    xy: np.ndarray  # [N, 2] video pixels, NaN unless BALL
    state: np.ndarray  # [N] int8: BALL, NO_BALL or UNKNOWN
    filled: np.ndarray  # [N] bool: a BALL label the tracker filled in (the model missed it)
    flights: list[FlightVerdict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        rejected = Counter(flight.rejected for flight in self.flights if flight.rejected)
        return {"ball": int(np.sum(self.state == BALL)), "filled": int(self.filled.sum()),
                "no_ball": int(np.sum(self.state == NO_BALL)), "unknown": int(np.sum(self.state == UNKNOWN)),
                "flights_kept": sum(not flight.rejected for flight in self.flights),
                **{f"flights_{why}": n for why, n in sorted(rejected.items())}}


def select_pseudo_labels(track: Track, candidates: list[np.ndarray], times: np.ndarray, fps: float,
                         extent: float, noise: float, usable: np.ndarray | None = None) -> PseudoLabels:
    """The pseudo-labels of a video from its `track` and per-frame `candidates` [K_i, 3] (x, y,
    score, video pixels); `times` [N] each frame's time in frames of the source footage
    (`trajectory.footage_times`), `extent` the frame's longer side (px), `noise` the detection
    noise in frame lengths, `usable` [N] bool the frames in a shot with a court (None: all)."""
    n = len(track)
    usable = np.ones(n, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    state = np.full(n, UNKNOWN, dtype=np.int8)
    xy = np.full((n, 2), np.nan)
    filled = np.zeros(n, dtype=bool)
    verdicts = []
    for flight in np.unique(track.flight[track.flight >= 0]):
        frames = np.flatnonzero(track.flight == flight)
        verdict = _judge(track, frames, times, fps, extent, noise, usable)
        verdicts.append(verdict)
        if verdict.rejected:
            continue
        inner = slice(round(EDGE_SECONDS * fps), len(frames) - round(EDGE_SECONDS * fps))
        labelled = frames[inner][~track.interpolated[frames[inner]] | _short_gaps(track.interpolated, frames)[inner]]
        state[labelled], xy[labelled] = BALL, track.xy[labelled]
        filled[labelled] = track.interpolated[labelled]
    quiet = ~_near(_moving_candidates(candidates, fps, extent, noise), round(QUIET_SECONDS * fps))
    state[quiet & usable & (track.flight < 0)] = NO_BALL
    return PseudoLabels(xy, state, filled, verdicts)


def _judge(track: Track, frames: np.ndarray, times: np.ndarray, fps: float, extent: float, noise: float,
           usable: np.ndarray) -> FlightVerdict:
    """The verdict on one flight (its frames, filled ones included)."""
    seen = frames[~track.interpolated[frames]]
    points = track.xy[seen] / extent  # [n, 2] frame lengths
    seconds = times[seen] / fps
    score = float(np.median(track.confidence[seen]))
    residual = _cubic_misfit(seconds, points) / noise
    travel = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    duration = (times[frames[-1]] - times[frames[0]] + 1) / fps
    why = ("short" if len(seen) < MIN_DETECTIONS or duration < MIN_FLIGHT_SECONDS - 1e-9
           else "unsure" if score < MIN_SCORE
           else "rough" if residual > MAX_RESIDUAL
           else "still" if travel < MIN_TRAVEL
           else "out_of_view" if not usable[frames].all()
           else "")
    return FlightVerdict(int(frames[0]), int(frames[-1]), len(seen), round(score, 3), round(float(residual), 2),
                         round(travel, 4), why)


def _cubic_misfit(seconds: np.ndarray, points: np.ndarray) -> float:
    """RMS distance of `points` [n, 2] from least-squares cubics in time, one per piece of at most
    FIT_SECONDS (drag and perspective bend a long flight past any one cubic)."""
    pieces = np.floor((seconds - seconds[0]) / FIT_SECONDS).astype(int)
    squares, count = 0.0, 0
    for piece in np.unique(pieces):
        t, p = seconds[pieces == piece], points[pieces == piece]
        if len(t) <= 4:  # a cubic passes through 4 points: no evidence, neither way
            continue
        basis = np.vander(t - t.mean(), 4, increasing=True)  # [m, 4]
        coefficients, *_ = np.linalg.lstsq(basis, p, rcond=None)
        squares += float(((basis @ coefficients - p) ** 2).sum())
        count += len(t)
    return float(np.sqrt(squares / count)) if count else 0.0


def _short_gaps(interpolated: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """[len(frames)] bool: which of a flight's frames lie in a filled run of at most MAX_FILL."""
    short = np.zeros(len(frames), dtype=bool)
    for start, stop in true_runs(interpolated[frames]):
        short[start:stop] = stop - start <= MAX_FILL
    return short


def _moving_candidates(candidates: list[np.ndarray], fps: float, extent: float, noise: float) -> np.ndarray:
    """[N] bool: the frame has a candidate that is not still."""
    xy, _ = padded(candidates)  # [N, K, 2], NaN where a frame has fewer
    if xy.shape[1] == 0:
        return np.zeros(len(candidates), dtype=bool)
    still = still_candidates(xy / extent, fps, noise)
    return (np.isfinite(xy).all(axis=-1) & ~still).any(axis=1)


def _near(flags: np.ndarray, reach: int) -> np.ndarray:
    """[N] bool: a flag within `reach` frames either way."""
    total = np.concatenate([[0], np.cumsum(flags)])  # [N + 1] flags before each frame
    index = np.arange(len(flags))
    after, before = np.minimum(index + reach + 1, len(flags)), np.maximum(index - reach, 0)
    return total[after] - total[before] > 0
