"""Per-frame ball candidates to one clean trajectory: pick a track, fill short gaps, smooth.

    track = postprocess(candidates, fps=30.0, frame_size=(1280, 720))
    # candidates: per frame a float array [K_i, 3] of rows (x, y, score), video pixels, K_i >= 0
    # track.xy [N, 2] (NaN: no ball), track.confidence [N], track.interpolated [N]
    # track.table(): Frame, Visibility, X, Y, Confidence, Interpolated (the badminton format plus two)

Steps, each switched by `TrajectoryConfig`:
    pick_track  one candidate or none per frame, chosen for the whole video at once by dynamic
                programming: continuity wins over a higher score, jumps faster than the ball can fly
                are impossible, and a track needs two consistent detections to start
    fill_gaps   short gaps between detections bridged by a low-degree polynomial in time (flight)
    smooth      a local quadratic fit (Savitzky-Golay-like) inside each run, never across a gap
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from numbers import Real

import numpy as np
import pandas as pd

from tracknet_cli.errors import TracknetError

# A smashed shuttle or a serve crosses a broadcast frame in about 0.3-0.5 s, so no real ball moves
# faster than about 3 frame lengths (the longer side) per second. The real shuttlecock labels peak
# near 2.2 widths per second, so the limit leaves a margin without admitting cross-frame jumps.
FRAME_LENGTHS_PER_SECOND = 3.0

# The tracker's costs are negative log-likelihoods: keeping a candidate costs -log(score).
MISS_COST = -math.log(0.05)  # a frame without a ball costs as much as keeping a 5% candidate
BIRTH_COST = MISS_COST  # so a lone detection never pays for itself; two consistent ones do
MOTION_WEIGHT = 1.0  # a jump at the speed limit costs as much as a candidate of score 1/e
MIN_SCORE = 1e-6  # keeps -log(score) finite for a zero score

ANCHORS_PER_SIDE = 3  # known positions on each side of a gap that its interpolation fits
MOVING_PX, STILL_SHARE = 4.0, 0.25  # a repeated frame: the ball all but still for a frame amid motion
MIN_REPEATS, REPEAT_SHARE, SEEN_SHARE = 4, 0.8, 0.5  # what makes a cadence of repeats (frame_times)

COLUMNS = ["Frame", "Visibility", "X", "Y", "Confidence", "Interpolated"]


@dataclass
class TrajectoryConfig:
    """What `postprocess` does.

    track          pick by continuity (`pick_track`); off: the top candidate of every frame
    max_speed      fastest plausible ball in pixels per second; None: 3 frame lengths per second
    fill_gaps      interpolate gaps of at most `max_gap` frames between detections
    max_gap        longest gap (frames) that is filled
    smooth         smooth each run of positions (off by default: detections are already sub-pixel)
    smooth_window  frames in the local quadratic fit, odd, at least 3
    """

    track: bool = True
    max_speed: float | None = None
    fill_gaps: bool = True
    max_gap: int = 5
    smooth: bool = False
    smooth_window: int = 5

    def __post_init__(self):
        if self.max_speed is not None:
            _check_positive("max_speed", self.max_speed)
        _check_max_gap(self.max_gap)
        _check_window(self.smooth_window)


@dataclass(frozen=True)
class Track:
    """The ball's track, a row per frame: the one representation everything after the tracker
    (CSV, overlay, plot, counts) reads."""

    xy: np.ndarray  # [N, 2] video pixels, NaN where there is no ball
    confidence: np.ndarray  # [N] the kept candidate's score; 0 where interpolated or no ball
    interpolated: np.ndarray  # [N] bool: `fill_gaps` made the position

    def __len__(self) -> int:
        return len(self.xy)

    @cached_property
    def visible(self) -> np.ndarray:
        """[N] bool: a position, detected or interpolated."""
        return np.isfinite(self.xy).all(axis=1)

    def table(self) -> pd.DataFrame:
        """`Frame, Visibility, X, Y, Confidence, Interpolated`: Visibility 1 where there is a
        position; X and Y 0.0 where there is none, as in the badminton dataset's
        `Frame,Visibility,X,Y` files, so the table can be written as it is."""
        visible = self.visible
        return pd.DataFrame({
            "Frame": np.arange(len(self)),
            "Visibility": visible.astype(int),
            "X": np.where(visible, self.xy[:, 0], 0.0),
            "Y": np.where(visible, self.xy[:, 1], 0.0),
            "Confidence": self.confidence,
            "Interpolated": self.interpolated.astype(int),
        }, columns=COLUMNS)


def postprocess(candidates: Sequence[np.ndarray], fps: float, frame_size: tuple[int, int],
                cfg: TrajectoryConfig | None = None) -> Track:
    """The track of per-frame candidates [K_i, 3] (x, y, score) in video pixels."""
    cfg = cfg or TrajectoryConfig()
    _check_positive("fps", fps)
    extent = _frame_extent(frame_size)
    if cfg.track:
        max_speed = FRAME_LENGTHS_PER_SECOND * extent if cfg.max_speed is None else cfg.max_speed
        xy, score = pick_track(candidates, fps, max_speed, coast_frames(fps, extent, max_speed))
    else:
        xy, score = top_candidates(candidates)
    interpolated = np.zeros(len(xy), dtype=bool)
    if cfg.fill_gaps:
        xy, interpolated = fill_gaps(xy, cfg.max_gap)
    if cfg.smooth:
        xy = smooth(xy, cfg.smooth_window)
    visible = np.isfinite(xy).all(axis=1)
    return Track(xy, np.where(visible & ~interpolated, score, 0.0), interpolated)


def coast_frames(fps: float, extent: float, max_speed: float) -> int:
    """How many unseen frames a track survives: until the ball could be anywhere in the frame.

    After that many frames at top speed the speed limit excludes nothing, so continuity says
    nothing and restarting the track loses nothing. Capped at one second (the ball has surely been
    hit or has bounced by then), which also bounds the tracker's work per frame.
    """
    return max(1, min(math.ceil(extent * fps / max_speed), math.ceil(fps)))


def pick_track(candidates: Sequence[np.ndarray], fps: float, max_speed: float,
               max_skip: int) -> tuple[np.ndarray, np.ndarray]:
    """The most likely candidate per frame, or none: positions [N, 2] (NaN: none) and scores [N].

    A Viterbi-style search over all candidates of all frames, minimising
        sum of -log(score) over kept candidates
        + MISS_COST per frame without one
        + MOTION_WEIGHT * (distance / limit)^2 per link between consecutive kept candidates
        + BIRTH_COST per track start.
    A link spans at most `max_skip` unseen frames and is impossible beyond
    limit = max_speed * frames_elapsed / fps, so the allowance grows across missed frames. A
    high-scoring detection that no neighbour can reach (a false peak on a shoe) would have to start
    a track of its own, which costs more than a missed frame: it is dropped, and a reachable
    lower-scoring candidate of the same frame is kept instead. A new track may begin right after
    another ends (a camera cut). Work: O(N * max_skip * K^2).
    """
    frames = _check_candidates(candidates)
    _check_positive("fps", fps)
    _check_positive("max_speed", max_speed)
    if max_skip < 0:
        raise TracknetError(f"max_skip must be at least 0, got {max_skip}")
    xy = np.full((len(frames), 2), np.nan)
    score = np.zeros(len(frames))
    if not frames:
        return xy, score
    for t, k in _best_path(frames, max_speed / fps, max_skip):
        xy[t] = frames[t][k, :2]
        score[t] = frames[t][k, 2]
    return xy, score


def _best_path(frames: list[np.ndarray], step: float, max_skip: int) -> list[tuple[int, int]]:
    """(frame, candidate) pairs of the cheapest labelling; `step` is the speed limit per frame.

    cost[t][k] is the cheapest labelling of frames 0..t that keeps candidate k at t: a link from a
    candidate of one of the max_skip + 1 frames before, or a new track after any labelling of
    0..t-1. settled[t] is the cheapest labelling of 0..t-1 whatever it ends with.
    """
    cost: list[np.ndarray] = []  # [K_t]
    link: list[np.ndarray] = []  # [K_t, 2] (frame, candidate) linked from; (-1, -1): a new track
    settled = np.zeros(len(frames) + 1)
    settled_link = np.full(len(frames) + 1, -1)  # candidate kept at t - 1, or -1: no ball there
    for t, points in enumerate(frames):
        best = np.full(len(points), settled[t] + BIRTH_COST)
        before = np.full((len(points), 2), -1)
        for s in range(max(0, t - max_skip - 1), t):
            through, j = _links(frames[s][:, :2], cost[s], points[:, :2], t - s, step)
            better = through < best
            best[better] = through[better]
            before[better, 0] = s
            before[better, 1] = j[better]
        cost.append(best - np.log(np.clip(points[:, 2], MIN_SCORE, 1.0)))
        link.append(before)
        settled[t + 1] = settled[t] + MISS_COST
        if cost[t].size and cost[t].min() < settled[t + 1]:
            settled[t + 1] = cost[t].min()
            settled_link[t + 1] = int(cost[t].argmin())
    return _backtrack(link, settled_link)


def _links(origin: np.ndarray, origin_cost: np.ndarray, target: np.ndarray, elapsed: int,
           step: float) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest way into each target [K_t, 2] from origins [K_s, 2] `elapsed` frames earlier.

    Returns the cost [K_t] (inf where no origin is within the speed limit) and the origin [K_t].
    """
    if origin.size == 0 or target.size == 0:
        return np.full(len(target), np.inf), np.zeros(len(target), dtype=int)
    limit = step * elapsed
    distance = np.linalg.norm(origin[:, None, :] - target[None, :, :], axis=-1)  # [K_s, K_t]
    motion = MOTION_WEIGHT * (distance / limit) ** 2
    through = origin_cost[:, None] + MISS_COST * (elapsed - 1) + motion
    through[distance > limit] = np.inf
    j = through.argmin(axis=0)
    return through[j, np.arange(len(target))], j


def _backtrack(link: list[np.ndarray], settled_link: np.ndarray) -> list[tuple[int, int]]:
    """The kept (frame, candidate) pairs, following the links back from the cheapest end."""
    kept = []
    t, state = len(link) - 1, settled_link[-1]
    while t >= 0:
        if state >= 0:
            kept.append((t, int(state)))
            s, j = link[t][state]
            if s >= 0:  # a link within a track: jump to the candidate it came from
                t, state = int(s), j
                continue
        # no ball at t, or a track starting at t: whatever labelling of 0..t-1 was cheapest
        t, state = t - 1, settled_link[t]
    return kept[::-1]


def top_candidates(candidates: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The highest-scoring candidate of every frame: positions [N, 2] (NaN: none) and scores [N]."""
    frames = _check_candidates(candidates)
    xy = np.full((len(frames), 2), np.nan)
    score = np.zeros(len(frames))
    for t, points in enumerate(frames):
        if len(points):
            top = points[points[:, 2].argmax()]
            xy[t], score[t] = top[:2], top[2]
    return xy, score


def fill_gaps(xy: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions [N, 2] with gaps of at most `max_gap` frames filled, and which were [N] bool.

    Only gaps with a position on both sides are filled; ends and longer gaps stay NaN. A gap with k
    consecutive positions on each side (k at most ANCHORS_PER_SIDE) is bridged by the least-squares
    polynomial of degree k in time through those 2k positions:
        k = 3  a cubic: gravity makes a parabola, and drag, strong on a shuttlecock, slows the ball
               along the way, which a cubic follows and a parabola cannot
        k = 2  a parabola, the flight under gravity alone
        k = 1  a straight line, all that two positions can tell
    Twice as many points as the degree leaves k - 1 spare, which averages out detection noise
    instead of threading every point. On held-out points of real shuttlecock tracks (gaps of 1-5
    frames) the cubic errs a quarter to a third less than a line, a tenth less than a parabola
    through two points a side.
    Time is `frame_times(xy)`: the frame number, less the repeated frames of a video converted
    from a lower frame rate (25 fps shown at 30 repeats every sixth frame), which would bend the fit.
    """
    xy = _check_xy(xy)
    _check_max_gap(max_gap)
    times = frame_times(xy)
    known = np.isfinite(xy).all(axis=1)
    filled = xy.copy()
    interpolated = np.zeros(len(xy), dtype=bool)
    for start, stop in _runs(~known):
        if start == 0 or stop == len(xy) or stop - start > max_gap:
            continue
        side = _anchors_per_side(known, start, stop)
        anchors = np.concatenate([np.arange(start - side, start), np.arange(stop, stop + side)])
        filled[start:stop] = _poly_fit(times[anchors] - times[start], xy[anchors],
                                       times[start:stop] - times[start], side)
        interpolated[start:stop] = True
    return filled, interpolated


def frame_times(xy: np.ndarray) -> np.ndarray:
    """[N] time of each frame in steps of the source footage: the frame number, minus one for each
    frame before it that repeats its predecessor, when the repeats come in a regular cadence.

    A repeat shows as a moving ball (over MOVING_PX per frame on both sides) that all but stands
    still for one frame (under STILL_SHARE of those steps: labels and detections jitter). A cadence
    is a period of 2-12 frames and a phase that hold at least MIN_REPEATS repeats, REPEAT_SHARE of
    all of them, where at least SEEN_SHARE of the frames at that phase that could show a repeat do
    (so every second frame is not taken for every sixth). Every frame at that phase is then a
    repeat, also inside gaps.
    """
    n = len(xy)
    step = np.linalg.norm(np.diff(xy, axis=0), axis=1)  # [N-1], NaN next to a gap
    with np.errstate(invalid="ignore"):
        around = np.minimum(step[:-2], step[2:])  # the steps before and after each inner step
        moving = around > MOVING_PX
        still = step[1:-1] < STILL_SHARE * around
    frame = np.arange(2, n - 1)  # the frame each entry of `still` and `moving` is about
    seen, repeats = frame[moving], frame[still & moving]
    times = np.arange(n, dtype=np.float64)
    if len(repeats) < MIN_REPEATS:
        return times
    for period in range(12, 1, -1):  # the longest cadence first: a period's multiples fit too
        phase = int(np.bincount(repeats % period, minlength=period).argmax())
        held = np.sum(repeats % period == phase)
        if (held >= REPEAT_SHARE * len(repeats)
                and held >= SEEN_SHARE * np.sum(seen % period == phase)):
            is_repeat = (np.arange(n) % period == phase) & (np.arange(n) > 0)
            return times - np.cumsum(is_repeat)
    return times


def _anchors_per_side(known: np.ndarray, start: int, stop: int) -> int:
    """Consecutive known frames next to the gap [start, stop) on its poorer side, capped."""
    left = known[max(0, start - ANCHORS_PER_SIDE):start][::-1]
    right = known[stop:stop + ANCHORS_PER_SIDE]
    return min(_leading_true(left), _leading_true(right))


def _leading_true(mask: np.ndarray) -> int:
    return len(mask) if mask.all() else int(mask.argmin())


def _poly_fit(times: np.ndarray, values: np.ndarray, at: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares polynomial of `degree` through values [M, 2] at times [M], evaluated at [T]."""
    basis = np.vander(times.astype(np.float64), degree + 1, increasing=True)  # [M, degree + 1]
    coefficients, *_ = np.linalg.lstsq(basis, values, rcond=None)  # [degree + 1, 2]
    return np.vander(at.astype(np.float64), degree + 1, increasing=True) @ coefficients  # [T, 2]


def smooth(xy: np.ndarray, window: int) -> np.ndarray:
    """Positions [N, 2] smoothed by a local quadratic fit over `window` frames within each run.

    Every position is replaced by the value at its frame of a least-squares quadratic through the
    `window` positions around it (Savitzky-Golay). Windows never reach across a NaN, so the ends of
    a run use a window shifted inwards, and runs of up to 3 positions are left as they are: a
    quadratic passes through them exactly. A quadratic keeps the curvature of the flight that a
    moving average would flatten at the apex.
    """
    xy = _check_xy(xy)
    _check_window(window)
    known = np.isfinite(xy).all(axis=1)
    smoothed = xy.copy()
    for start, stop in _runs(known):
        width = min(window, stop - start)
        if width <= 3:
            continue
        frames = np.arange(start, stop)
        first = np.clip(frames - window // 2, start, stop - width)  # [L] window start per frame
        weights = _quadratic_hat(width)[frames - first]  # [L, width] weights of each window
        windows = xy[first[:, None] + np.arange(width)]  # [L, width, 2]
        smoothed[start:stop] = np.einsum("lw,lwc->lc", weights, windows)
    return smoothed


def _quadratic_hat(width: int) -> np.ndarray:
    """[width, width]: row p maps `width` samples to their least-squares quadratic at sample p."""
    basis = np.vander(np.arange(width, dtype=np.float64), 3, increasing=True)  # [width, 3]
    return basis @ np.linalg.pinv(basis)


def candidates_from_points(xy: np.ndarray, score: float | np.ndarray = 1.0) -> list[np.ndarray]:
    """One candidate [1, 3] per frame of positions [N, 2], none [0, 3] where the row is NaN."""
    xy = _check_xy(xy)
    scores = np.broadcast_to(np.asarray(score, dtype=np.float64), (len(xy),))
    return [np.array([[x, y, s]]) if np.isfinite([x, y]).all() else np.empty((0, 3))
            for (x, y), s in zip(xy, scores)]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open (start, stop) of every run of True in a [N] bool mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _check_candidates(candidates: Sequence[np.ndarray]) -> list[np.ndarray]:
    frames = []
    for t, points in enumerate(candidates):
        points = np.asarray(points, dtype=np.float64)
        if points.size == 0:
            points = points.reshape(0, 3)
        if points.ndim != 2 or points.shape[1] != 3:
            raise TracknetError(f"candidates of frame {t} have shape {list(points.shape)}; "
                                "expected [K, 3] rows of (x, y, score)")
        if not np.isfinite(points).all():
            raise TracknetError(f"candidates of frame {t} contain NaN or infinite values")
        frames.append(points)
    return frames


def _check_xy(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise TracknetError(f"positions have shape {list(xy.shape)}; expected [N, 2] (x, y)")
    return xy


def _frame_extent(frame_size: tuple[int, int]) -> float:
    """The longer side of a (width, height) frame, in pixels."""
    if len(frame_size) != 2 or min(frame_size) <= 0:
        raise TracknetError(f"frame size must be (width, height) in pixels, got {frame_size}")
    return float(max(frame_size))


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, Real) and math.isfinite(value) and value > 0):
        raise TracknetError(f"{name} must be a positive number, got {value!r}")


def _check_max_gap(max_gap: int) -> None:
    if max_gap < 0:
        raise TracknetError(f"max_gap must be at least 0 frames, got {max_gap}")


def _check_window(window: int) -> None:
    if window < 3 or window % 2 == 0:
        raise TracknetError(
            f"smooth window must be an odd number of frames, at least 3, got {window}")
