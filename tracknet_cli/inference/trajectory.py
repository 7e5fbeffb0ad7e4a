"""Per-frame ball candidates to the track of the ball in play: pick, keep flights, fill, smooth.

    track = postprocess(candidates, fps=30.0, frame_size=(1280, 720))
    # candidates: per frame a float array [K_i, 3] of rows (x, y, score), video pixels, K_i >= 0
    # track.xy [N, 2] (NaN: no ball), track.confidence [N], track.interpolated [N], track.flight [N]
    # track.table(): Frame, Visibility, X, Y, Confidence, Interpolated (the badminton format plus two)

Steps, each switched by `TrajectoryConfig`:
    still       candidates that stay put or drift with the camera are no ball in play
                (`ball_in_play.still_candidates`)
    pick_track  one candidate or none per frame, chosen for the whole video at once by dynamic
                programming: continuity wins over a higher score, jumps faster than the ball can fly
                are impossible, and a track needs two consistent detections to start
                (`track_picking`)
    flights     the picked track cut at jumps, hits and bounces into smooth pieces; only the pieces
                that are plausible flights are kept, the rest of the video has no ball
                (`ball_in_play.flight_segments`)
    fill_gaps   short gaps inside one flight bridged by a low-degree polynomial in time, never
                across a cut
    smooth      a local quadratic fit (Savitzky-Golay-like) inside each run of one flight
Without tracking (`--no-track`) every frame keeps its top candidate, the raw detector.
Work: O(N K^2) times the frames the tracker looks back over and the still test's offsets; an hour
at 60 fps (216,000 frames, 3 candidates each) takes about 6 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from tracknet_cli.errors import TracknetError
from tracknet_cli.inference.ball_in_play import NOISE, flight_segments, still_candidates
from tracknet_cli.inference.track_picking import check_positive, padded, pick_padded, top_candidates

# A smashed shuttle or a serve crosses a broadcast frame in about 0.3-0.5 s, so no real ball moves
# faster than about 3 frame lengths (the longer side) per second. The real shuttlecock labels peak
# near 2.2 widths per second, so the limit leaves a margin without admitting cross-frame jumps.
FRAME_LENGTHS_PER_SECOND = 3.0

ANCHORS_PER_SIDE = 3  # known positions on each side of a gap that its interpolation fits
MOVING_PX, STILL_SHARE = 4.0, 0.25  # a repeated frame: the ball all but still for a frame amid motion
MIN_REPEATS, REPEAT_SHARE, SEEN_SHARE = 4, 0.8, 0.5  # what makes a cadence of repeats (frame_times)

COLUMNS = ["Frame", "Visibility", "X", "Y", "Confidence", "Interpolated"]


@dataclass
class TrajectoryConfig:
    """What `postprocess` does.

    track          pick by continuity (`pick_track`); off: the top candidate of every frame
    in_play        with `track`: only the ball in play, in plausible flights (`ball_in_play`); off:
                   whatever the continuity picks, still balls included
    max_speed      fastest plausible ball in pixels per second; None: 3 frame lengths per second
    noise          how far a detection sits from the ball, in frame lengths (the longer side);
                   None: `ball_in_play.NOISE` (predict-video sets the model's own)
    fill_gaps      interpolate gaps of at most `max_gap` frames (inside one flight when tracking)
    max_gap        longest gap (frames) that is filled
    smooth         smooth each run of positions (off by default: detections are already sub-pixel)
    smooth_window  frames in the local quadratic fit, odd, at least 3
    """

    track: bool = True
    in_play: bool = True
    max_speed: float | None = None
    noise: float | None = None
    fill_gaps: bool = True
    max_gap: int = 5
    smooth: bool = False
    smooth_window: int = 5

    def __post_init__(self):
        if self.max_speed is not None:
            check_positive("max_speed", self.max_speed)
        if self.noise is not None:
            check_positive("noise", self.noise)
        _check_max_gap(self.max_gap)
        _check_window(self.smooth_window)


@dataclass(frozen=True)
class Track:
    """The ball's track, a row per frame: the one representation everything after the tracker
    (CSV, overlay, plot, counts) reads."""

    xy: np.ndarray  # [N, 2] video pixels, NaN where there is no ball
    confidence: np.ndarray  # [N] the kept candidate's score; 0 where interpolated or no ball
    interpolated: np.ndarray  # [N] bool: `fill_gaps` made the position
    flight: np.ndarray  # [N] int: the flight (hit to hit or bounce) each position belongs to, -1: none

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
                cfg: TrajectoryConfig | None = None, repeats: np.ndarray | None = None) -> Track:
    """The track of per-frame candidates [K_i, 3] (x, y, score) in video pixels.

    `repeats` [N] bool: the frames that show the picture before them again (a video converted to
    a higher frame rate), whose time does not advance; None: found from the track (`frame_times`).
    """
    cfg = cfg or TrajectoryConfig()
    check_positive("fps", fps)
    extent = _frame_extent(frame_size)
    times = None if repeats is None else footage_times(repeats, len(candidates))
    if cfg.track:
        max_speed = FRAME_LENGTHS_PER_SECOND * extent if cfg.max_speed is None else cfg.max_speed
        noise = NOISE if cfg.noise is None else cfg.noise
        xy, score, segment = track_ball(candidates, fps, extent, max_speed, noise, cfg.in_play,
                                        times)
    else:
        xy, score = top_candidates(candidates)
        segment = np.where(np.isfinite(xy).all(axis=1), 0, -1)  # the raw detector: one stretch
    interpolated = np.zeros(len(xy), dtype=bool)
    if cfg.fill_gaps:
        xy, interpolated = fill_gaps(xy, cfg.max_gap, segment, times)
    if cfg.smooth:
        xy = smooth(xy, cfg.smooth_window, segment)
    visible = np.isfinite(xy).all(axis=1)
    flight = np.where(visible, _filled_segments(segment, interpolated), -1)
    return Track(xy, np.where(visible & ~interpolated, score, 0.0), interpolated, flight)


def track_ball(candidates: Sequence[np.ndarray], fps: float, extent: float, max_speed: float,
               noise: float = NOISE, in_play: bool = True,
               times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The picked positions [N, 2] (NaN: no ball), their scores [N] and the flight of each
    frame [N] (-1: none): still candidates left out and only flights kept, when `in_play`;
    otherwise every position in one flight. `extent`: the frame's longer side (px);
    `max_speed`: px per second; `noise`: frame lengths; `times` [N]: each frame's time in frames
    of the source footage (None: `frame_times` of the picked track)."""
    xy, score = padded(candidates)
    if in_play:
        xy[still_candidates(xy / extent, fps, noise)] = np.nan
    coast = coast_frames(fps, extent, max_speed)
    picked, picked_score = pick_padded(xy, score, fps, max_speed, coast)
    known = np.flatnonzero(np.isfinite(picked).all(axis=1))
    segment = np.full(len(picked), -1)
    if in_play:
        times = frame_times(picked) if times is None else times
        # frames of footage a second: fewer than the video's where frames repeat
        footage_fps = fps * (times[-1] + 1) / len(times) if len(times) else fps
        segment[known] = flight_segments(known, times[known] / footage_fps, picked[known] / extent,
                                         fps, max_speed / extent, coast, noise)
    else:
        segment[known] = 0
    picked[segment < 0] = np.nan
    return picked, np.where(segment >= 0, picked_score, 0.0), segment


def coast_frames(fps: float, extent: float, max_speed: float) -> int:
    """How many unseen frames a track survives: until the ball could be anywhere in the frame.

    After that many frames at top speed the speed limit excludes nothing, so continuity says
    nothing and restarting the track loses nothing. Capped at one second (the ball has surely been
    hit or has bounced by then), which also bounds the tracker's work per frame.
    """
    return max(1, min(math.ceil(extent * fps / max_speed), math.ceil(fps)))


def fill_gaps(xy: np.ndarray, max_gap: int, segment: np.ndarray | None = None,
              times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions [N, 2] with gaps of at most `max_gap` frames filled, and which were [N] bool.

    Only gaps with a position of the same segment on both sides are filled (`segment` [N]: the
    flight of each frame, -1 or NaN position: none; None: all positions one segment); ends, longer
    gaps and gaps between two flights stay NaN. A gap with k consecutive positions of its segment
    on each side (k at most ANCHORS_PER_SIDE) is bridged by the least-squares
    polynomial of degree k in time through those 2k positions:
        k = 3  a cubic: gravity makes a parabola, and drag, strong on a shuttlecock, slows the ball
               along the way, which a cubic follows and a parabola cannot
        k = 2  a parabola, the flight under gravity alone
        k = 1  a straight line, all that two positions can tell
    Twice as many points as the degree leaves k - 1 spare, which averages out detection noise
    instead of threading every point. On held-out points of real shuttlecock tracks (gaps of 1-5
    frames) the cubic errs a quarter to a third less than a line, a tenth less than a parabola
    through two points a side.
    Time is `times` [N] (None: `frame_times(xy)`): the frame number, less the repeated frames of a
    video converted from a lower frame rate (25 fps shown at 30 repeats every sixth frame), which
    would bend the fit.
    """
    xy = _check_xy(xy)
    _check_max_gap(max_gap)
    segment = _segments(xy, segment)
    times = frame_times(xy) if times is None else times
    filled = xy.copy()
    interpolated = np.zeros(len(xy), dtype=bool)
    for start, stop in true_runs(segment < 0):
        if (start == 0 or stop == len(xy) or stop - start > max_gap
                or segment[start - 1] != segment[stop]):  # an end, too long, or between two flights
            continue
        side = _anchors_per_side(segment == segment[stop], start, stop)
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


def footage_times(repeats: np.ndarray, frames: int) -> np.ndarray:
    """[N] each frame's time in frames of the source footage: the frame number, less one for each
    frame up to it that `repeats` [N] (bool) marks as showing the picture before it again."""
    repeats = np.asarray(repeats, dtype=bool)
    if repeats.shape != (frames,):
        raise TracknetError(f"repeats have shape {list(repeats.shape)}; expected [{frames}]")
    return np.arange(frames, dtype=np.float64) - np.cumsum(repeats)


def _filled_segments(segment: np.ndarray, interpolated: np.ndarray) -> np.ndarray:
    """[N] `segment` with each filled gap given the segment it was filled inside (its next one)."""
    following = np.where(segment >= 0, np.arange(len(segment)), len(segment))
    following = np.minimum.accumulate(following[::-1])[::-1]  # [N] the next frame with a segment
    ahead = segment[np.minimum(following, len(segment) - 1)] if len(segment) else segment
    return np.where(interpolated, ahead, segment)


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


def smooth(xy: np.ndarray, window: int, segment: np.ndarray | None = None) -> np.ndarray:
    """Positions [N, 2] smoothed by a local quadratic fit over `window` frames within each run.

    A run is consecutive positions of one segment (`segment` as in `fill_gaps`). Every position is
    replaced by the value at its frame of a least-squares quadratic through the `window` positions
    around it (Savitzky-Golay). Windows never reach across a NaN or from one flight into the next
    (a hit's corner stays sharp), so the ends of a run use a window shifted inwards, and runs of up
    to 3 positions are left as they are: a quadratic passes through them exactly. A quadratic
    keeps the curvature of the flight that a moving average would flatten at the apex.
    """
    xy = _check_xy(xy)
    _check_window(window)
    smoothed = xy.copy()
    for start, stop in _stretches(_segments(xy, segment)):
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


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open (start, stop) of every run of True in a [N] bool mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _stretches(segment: np.ndarray) -> list[tuple[int, int]]:
    """Half-open (start, stop) of every run of one segment (>= 0) in a [N] int array."""
    change = np.flatnonzero(np.diff(segment) != 0) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(segment)]])
    return [(int(a), int(b)) for a, b in zip(starts, stops) if len(segment) and segment[a] >= 0]


def _segments(xy: np.ndarray, segment: np.ndarray | None) -> np.ndarray:
    """[N] the segment of each frame, -1 where it has no position."""
    known = np.isfinite(xy).all(axis=1)
    if segment is None:
        return np.where(known, 0, -1)
    if np.shape(segment) != (len(xy),):
        raise TracknetError(f"segments have shape {list(np.shape(segment))}; expected [{len(xy)}]")
    return np.where(known, segment, -1)


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


def _check_max_gap(max_gap: int) -> None:
    if max_gap < 0:
        raise TracknetError(f"max_gap must be at least 0 frames, got {max_gap}")


def _check_window(window: int) -> None:
    if window < 3 or window % 2 == 0:
        raise TracknetError(
            f"smooth window must be an odd number of frames, at least 3, got {window}")
