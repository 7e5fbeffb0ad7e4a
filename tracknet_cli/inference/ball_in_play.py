"""The ball in play, not "a ball": still candidates out, the picked track cut into flights.

    still = still_candidates(xy, fps)  # xy [N, K, 2] candidates in frame lengths (NaN: none)
    segment = flight_segments(frames, seconds, points, fps, max_speed, max_unseen)  # [n] detections

A ball in play flies: between two hits or bounces it follows a smooth path, close to a parabola in
the image (gravity; drag and perspective bend it slowly), and it does not stay in one place. A
ball lying on the court, a court mark, a logo or a head standing still stays where it is, or
drifts in a straight line while the camera pans.

still_candidates  A candidate is still when the candidates around it over STILL_SECONDS either way
                  line up with it on one slow straight line: for each of STILL_PAIRS offsets d,
                  the candidates nearest to it d frames before and after make a pair, and a still
                  object's pairs all fit one drift velocity (at most MAX_DRIFT). The ball at the
                  apex of a toss or a lob is as slow, but gravity curves its path: its positions d
                  before and after both lie a * d^2 / 2 below the line, which shows from d of a
                  few tenths of a second on.
flight_segments   The picked detections are cut into pieces where the motion breaks:
                  a jump    farther than the speed limit allows, or after longer unseen than
                            the tracker coasts
                  a hit     a detection off the parabola through the HISTORY before it while the
                            one before it is off the parabola through those after (or a vertex
                            between two such, the ball on the racket)
                  a kink    a softer bounce or hit: two parabolas, one a side, fit the detections
                            around a cut far better than one smooth curve (KINK_GAIN)
                  a gap     missed frames that one smooth curve through the detections on both
                            sides does not bridge, over which the ball turns back (a hit the
                            racket hid), or after which a lone detection stands too far out to
                            be checked
                  Before that, outliers go: a detection off the parabolas on both sides (a shoe
                  picked while the ball was missed). A piece is a flight when it holds
                  MIN_DETECTIONS over MIN_FLIGHT_SECONDS and is no still object (a straight line
                  within the noise, at most MAX_DRIFT fast). Pieces that are no flight are dropped
                  and the rest cut again, so a flight joins up across what lay between.

Units are the frame and the second, so the parameters hold from 720p to 4K and from 25 to 60 fps:
positions in frame lengths (the longer side), speeds in frame lengths per second. Every test
compares a misfit with the detection noise, NOISE unless the caller knows the detector's own.

    NOISE            0.002 frame lengths (4 px at 1080p): how far a detection sits from the ball,
                     half a pixel of the default model's 256-wide heatmap
    SIGNIFICANCE     4: a misfit beyond 4 standard deviations of the noise is real (a chance of
                     3e-4 per point when it is noise)
    MAX_DRIFT        0.1 frame lengths per second (6 px per frame at 1080p and 30 fps): the
                     fastest a still object seems to move under a pan; the pans of the broadcast
                     clips reach 0.09, a shuttle at its terminal speed far away 0.15
    STILL_SECONDS    0.6 s and STILL_SHARE 2/3: a still candidate lines up with pairs of 2/3 of
                     the offsets up to 0.6 s away; the curvature of a slow apex under gravity of
                     0.1 frame lengths per s^2 or more (0.2 at a broadcast's far baseline) spoils
                     more than a third of them
    HISTORY_SECONDS  0.13 s, at least 4 detections: the parabola a detection must continue, with
                     a point to spare over its 3 coefficients
    KINK_GAIN        18.5: the drop in squared residuals, in noise variances, that two parabolas
                     (6 coefficients an axis) may win over one cubic (4) by chance once in 1000
                     cuts (chi-square of 4 degrees of freedom); a cubic, as drag slows the ball
    LONE_GAP_SECONDS 0.05 s (a frame at 25-30 fps): the longest a single detection bridges a gap
                     to a flight. Any curve bends through a lone point, so only the flight's own
                     course can vouch for it, and only while an acceleration of 1 frame length
                     per s^2 (gravity near the camera) moves the ball less than the noise
                     (a * t^2 / 2 = 0.6 NOISE)
    MIN_DETECTIONS   4 over MIN_FLIGHT_SECONDS 0.1 s: the least a flight is made of (3 points fit
                     any parabola)
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tracknet_cli.inference.local_fits import hat, residuals, velocity

NOISE = 0.002
SIGNIFICANCE = 4.0
MAX_DRIFT = 0.1
STILL_SECONDS = 0.6
STILL_SHARE = 2 / 3
STILL_PAIRS = 8  # offsets d looked at, spread over (0, STILL_SECONDS]: the work stays fps-free
STILL_CHUNK = 8192  # frames tested together: [STILL_PAIRS, 2, STILL_CHUNK, K, 2] floats at a time
HISTORY_SECONDS = 0.13
CURVE_DEGREE = 3  # the smooth curve of a flight: a cubic, as in `trajectory.fill_gaps`
KINK_GAIN = 18.5
LONE_GAP_SECONDS = 0.05
MIN_DETECTIONS = 4
MIN_FLIGHT_SECONDS = 0.1
MAX_PASSES = 4  # cut, drop what is no flight, cut again: a pass or two settle real tracks
MAX_OUTLIER_PASSES = 4  # outliers a few frames apart, each dropped in a pass of its own


def still_candidates(xy: np.ndarray, fps: float, noise: float = NOISE) -> np.ndarray:
    """[N, K] bool: which candidates xy [N, K, 2] (frame lengths, NaN: none) are still.

    For each offset d, the candidates nearest to each one d frames before and d after it, among
    those a pan could have brought there (within the noise plus MAX_DRIFT * d), make a pair; near
    the ends of the video, where one side is missing, those d / 2 and d frames away on the other
    side. A still object has one drift velocity v: v is the median of its pairs' velocities, and
    a pair lines up when both lie within the noise of the candidate moved by v over their offsets.
    A rally going back and forth puts the ball at symmetric places now and then; their velocities
    disagree. Work: O(N K^2) per offset, a chunk of frames at a time.
    """
    reach = max(1, round(STILL_SECONDS * fps))
    offsets = np.unique(np.linspace(1, reach, STILL_PAIRS).round().astype(int))
    still = np.zeros(xy.shape[:2], dtype=bool)
    if xy.size == 0:
        return still
    for start in range(0, len(xy), STILL_CHUNK):
        frames = np.arange(start, min(len(xy), start + STILL_CHUNK))
        lined_up = _lined_up(xy, frames, offsets, fps, noise)
        still[frames] = lined_up >= STILL_SHARE * len(offsets)
    return still


def _lined_up(xy: np.ndarray, frames: np.ndarray, offsets: np.ndarray, fps: float,
              noise: float) -> np.ndarray:
    """[F, K] how many of the `offsets` give each candidate of xy[frames] a pair on its line."""
    tolerance = SIGNIFICANCE * noise * np.sqrt(2)  # a partner less the candidate: two detections
    spans, partners = [], []
    for d in offsets:
        near, far = max(1, d // 2), max(2, d)  # a one-sided pair where the video ends on one side
        before, after = frames - d >= 0, frames + d < len(xy)
        first = np.where(before & after, -d, np.where(before, -far, near))
        second = np.where(before & after, d, np.where(before, -near, far))
        spans.append([first, second])
        partners.append([_nearest(xy[frames], _at(xy, frames + span),
                                  tolerance + MAX_DRIFT * np.abs(span)[:, None] / fps)
                         for span in (first, second)])
    span = np.array(spans, dtype=np.float64)[..., None, None]  # [D, 2, F, 1, 1] frames
    partner = np.array(partners)  # [D, 2, F, K, 2]
    drift = _median((partner[:, 1] - partner[:, 0]) / (span[:, 1] - span[:, 0]))  # [F, K, 2]
    miss = np.linalg.norm(partner - (xy[frames] + drift * span), axis=-1).max(axis=1)  # [D, F, K]
    return (miss <= tolerance).sum(axis=0)  # NaN (no partner) compares False


def _median(values: np.ndarray) -> np.ndarray:
    """The median over axis 0 of the values that are not NaN; NaN where none is."""
    ordered = np.sort(values, axis=0)  # NaN last
    count = np.isfinite(ordered).sum(axis=0)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _at(xy: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """xy [N, K, 2] of `frames` [F]; NaN for frames outside the video."""
    inside = (frames >= 0) & (frames < len(xy))
    return np.where(inside[:, None, None], xy[np.clip(frames, 0, len(xy) - 1)], np.nan)


def _nearest(xy: np.ndarray, others: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """[F, K, 2] per candidate of xy [F, K, 2] the nearest of the same row's `others` within
    `gate` [F, 1], else NaN."""
    squared = ((xy[:, :, None, :] - others[:, None, :, :]) ** 2).sum(axis=-1)  # [F, K, K]
    squared = np.where(np.isnan(squared), np.inf, squared)
    nearest = squared.argmin(axis=2)
    found = np.take_along_axis(squared, nearest[..., None], axis=2)[..., 0] <= gate**2
    partner = np.take_along_axis(others, nearest[..., None].repeat(2, axis=-1), axis=1)
    return np.where(found[..., None], partner, np.nan)


def flight_segments(frames: np.ndarray, seconds: np.ndarray, points: np.ndarray, fps: float,
                    max_speed: float, max_unseen: int, noise: float = NOISE) -> np.ndarray:
    """[n] the flight each detection belongs to (0, 1, ... in order), -1: none.

    frames [n] the video frames of the detections, increasing; seconds [n] their times in the
    source footage (a repeated frame shares its twin's time); points [n, 2] positions in frame
    lengths; fps the video's frame rate; max_speed in frame lengths per second; max_unseen: the
    most frames in a row a flight goes unseen (as the tracker coasts); noise in frame lengths.
    """
    fit = _Fit(seconds, points, fps, noise)
    kept = _without_outliers(fit)
    piece = np.zeros(0, dtype=int)
    for _ in range(MAX_PASSES):
        piece = _pieces(frames[kept], fit.of(kept), max_speed / fps, max_unseen)
        flight = _flights(seconds[kept], points[kept], piece, fps, noise)
        kept, piece = kept[flight[piece]], piece[flight[piece]]
        if flight.all():
            break
    segment = np.full(len(frames), -1)
    segment[kept] = np.unique(piece, return_inverse=True)[1]
    return segment


class _Fit:
    """Detections (times [n] in seconds, points [n, 2] in frame lengths) and how their local fits
    are judged in a video of `fps`: `history` detections a side, residuals in units of `noise`."""

    def __init__(self, times: np.ndarray, points: np.ndarray, fps: float, noise: float):
        self.times, self.points, self.fps, self.noise = times, points, fps, noise
        self.history = max(4, round(HISTORY_SECONDS * fps))  # 3 coefficients and one to spare

    def of(self, kept: np.ndarray) -> _Fit:
        return _Fit(self.times[kept], self.points[kept], self.fps, self.noise)

    def misfit(self, ahead: bool = True) -> np.ndarray:
        """[n] how far each detection lies from the parabola through the (up to) `history`
        detections before it (`ahead`) or after it, in standard deviations of that difference
        under the noise; inf with fewer than 3 of them.

        The difference has the noise of the detection plus that of the extrapolation, which grows
        with the distance from the fitted ones: noise * sqrt(1 + g), g = e0' (B'B)^-1 e0.
        """
        times, points = self.times, self.points
        if not ahead:  # the detections after, as those before in reversed time
            times, points = -times[::-1], points[::-1]
        n = len(times)
        before = np.arange(n)[:, None] - np.arange(self.history, 0, -1)  # [n, history]
        used = before >= 0
        before = np.maximum(before, 0)
        at_zero = hat(times[before] - times[:, None], used)[:, :1, :]  # [n, 1, history]: fit at 0
        predicted = (at_zero @ points[before])[:, 0]
        spread = self.noise * np.sqrt(1 + (at_zero**2).sum(axis=(1, 2)))
        misfit = np.linalg.norm(points - predicted, axis=1) / spread
        misfit = np.where(used.sum(axis=1) >= 3, misfit, np.inf)
        return misfit if ahead else misfit[::-1]

    def sides(self, cut: np.ndarray,
              at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The (up to) `history` detections on each side of the cuts `at` [M] (after detection
        `at`) that no `cut` [n - 1] separates from it: their indices [M, 2 history], their times
        relative to the cut's left detection, and which are used on the left and on the right."""
        n = len(self.times)
        piece = np.concatenate([[0], np.cumsum(cut)])  # [n] the pieces the given cuts make
        around = at[:, None] + np.arange(1 - self.history, self.history + 1)
        inside = (around >= 0) & (around < n)
        around = np.clip(around, 0, n - 1)
        side = np.arange(2 * self.history) < self.history
        left = inside & side & (piece[around] == piece[at, None])
        right = inside & ~side & (piece[around] == piece[at + 1, None])
        return around, self.times[around] - self.times[at, None], left, right

    def gain(self, cut: np.ndarray) -> np.ndarray:
        """[n - 1] at each cut, how much better two parabolas, one a side, fit the detections of
        `sides` than one smooth curve: the drop in the sum of squared residuals, in noise
        variances; 0 with fewer than 3 a side."""
        around, local, left, right = self.sides(cut, np.arange(len(cut)))
        points = self.points[around]
        joint = residuals(local, points, left | right, CURVE_DEGREE)
        split = residuals(local, points, left) + residuals(local, points, right)
        gain = ((joint**2).sum(axis=1) - (split**2).sum(axis=1)) / self.noise**2
        return np.where((left.sum(axis=1) >= 3) & (right.sum(axis=1) >= 3), gain, 0.0)

    def bridged(self, cut: np.ndarray, at: np.ndarray) -> np.ndarray:
        """[M] whether the detections of `sides` of each cut `at` [M] make one flight across it:
        - one smooth curve passes within SIGNIFICANCE * noise of them all: a cubic with a point to
          spare (a parabola when there are 4); not with fewer, too few to tell a curve from a corner
        - the ball does not turn back: the two sides' own parabolas (or lines) do not move more
          than a right angle apart at the cut while both are faster than MAX_DRIFT. Only a hit or
          a bounce turns a moving ball round; a curve through short arms either side of a hidden
          hit can pass for a turn under gravity, far stronger than any real one.
        - no side is a lone detection more than LONE_GAP_SECONDS away: any curve bends to pass
          through it."""
        around, local, left, right = self.sides(cut, at)
        used = left | right
        count = used.sum(axis=1)
        joint = residuals(local, self.points[around], used, np.clip(count - 2, 0, CURVE_DEGREE))
        span = self.times[at + 1] - self.times[at]  # [M] seconds
        middle = span[:, None] / 2  # seconds after the left detection
        before = velocity(local, self.points[around], left, middle)
        after = velocity(local, self.points[around], right, middle)
        speeds = np.minimum(np.linalg.norm(before, axis=1), np.linalg.norm(after, axis=1))
        turned = (speeds > MAX_DRIFT) & ((before * after).sum(axis=1) < 0)
        lone = np.minimum(left.sum(axis=1), right.sum(axis=1)) < 2
        unseen = span - 1 / self.fps  # seconds of missed frames
        return ((joint.max(axis=1) <= SIGNIFICANCE * self.noise) & (count >= 4) & ~turned
                & ~(lone & (unseen > LONE_GAP_SECONDS)))


def _without_outliers(fit: _Fit) -> np.ndarray:
    """The indices of the detections that are no outliers: an outlier continues neither the
    parabola of the detections before it nor that of the ones after it. Its neighbours' fits reach
    over it and miss too, but by less: each pass drops the worst misfit within `history`
    detections either way, until none is left."""
    kept = np.arange(len(fit.times))
    for _ in range(MAX_OUTLIER_PASSES):
        misfit = np.minimum(fit.of(kept).misfit(), fit.of(kept).misfit(ahead=False))
        worst = (misfit > SIGNIFICANCE) & (misfit >= _local_max(misfit, fit.history))
        if not worst.any():
            break
        kept = kept[~worst]
    return kept


def _pieces(frames: np.ndarray, fit: _Fit, step: float, max_unseen: int) -> np.ndarray:
    """[n] the piece of each detection: a new one after every cut (`flight_segments`); `step`:
    the speed limit in frame lengths per frame; `max_unseen` as in `flight_segments`.

    The cuts come in order of how local their evidence is, and each later test looks only at the
    detections that the cuts before it leave on each side: a window reaching over a hit would
    misread the flight next to it.
    """
    if len(frames) == 0:
        return np.zeros(0, dtype=int)
    late = fit.misfit() > SIGNIFICANCE  # off the parabola of the detections before
    early = fit.misfit(ahead=False) > SIGNIFICANCE  # off the parabola of the ones after
    # a vertex fits both the flight before it and the one after it (the ball on the racket), its
    # neighbours only their own: it starts the flight it leaves in
    vertex = np.concatenate([early[:-2] & late[2:] & ~late[1:-1] & ~early[1:-1], [False]])
    elapsed = np.diff(frames)
    jump = ((np.linalg.norm(np.diff(fit.points, axis=0), axis=1) > step * elapsed)
            | (elapsed > max_unseen + 1))
    hard = jump | (early[:-1] & late[1:]) | vertex
    cut = hard | _kinks(fit.gain(hard), hard, fit.history)
    gaps = np.flatnonzero((elapsed > 1) & ~cut)
    cut[gaps] = ~fit.bridged(cut, gaps)
    return np.concatenate([[0], np.cumsum(cut)])


def _kinks(gain: np.ndarray, cut: np.ndarray, history: int) -> np.ndarray:
    """[n - 1] the hits and bounces too soft for the one-step tests: cuts whose `gain` is beyond
    KINK_GAIN and the largest within `history` - 1 cuts either way, with no `cut` that near. Cuts
    near a kink gain too, as their windows reach over it, and after a hard hit the largest gain
    can lie a cut or two late: the one-step tests place that one."""
    reach = history - 1
    alone = _local_max(cut.astype(np.float64), reach) == 0
    return (gain > KINK_GAIN) & (gain >= _local_max(gain, reach)) & alone


def _local_max(values: np.ndarray, reach: int) -> np.ndarray:
    """[n] the largest of `values` [n] within `reach` places either way."""
    if values.size == 0:
        return values
    padded = np.concatenate([np.full(reach, -np.inf), values, np.full(reach, -np.inf)])
    return sliding_window_view(padded, 2 * reach + 1).max(axis=1)


def _flights(seconds: np.ndarray, points: np.ndarray, piece: np.ndarray, fps: float,
             noise: float) -> np.ndarray:
    """[pieces] bool: which pieces are flights: MIN_DETECTIONS over MIN_FLIGHT_SECONDS, and not
    still: the least-squares straight line through a still piece moves at most MAX_DRIFT and
    passes within SIGNIFICANCE * noise of every detection."""
    if len(piece) == 0:
        return np.zeros(0, dtype=bool)
    count = np.bincount(piece)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    duration = seconds[first + count - 1] - seconds[first] + 1 / fps  # a detection: a frame's
    long_enough = duration >= MIN_FLIGHT_SECONDS - 1e-9  # seconds add up with rounding
    centred = seconds - (np.bincount(piece, seconds) / count)[piece]
    spread = np.bincount(piece, centred**2)
    centre = np.stack([np.bincount(piece, points[:, c]) for c in range(2)], axis=1) / count[:, None]
    moment = np.stack([np.bincount(piece, centred * points[:, c]) for c in range(2)], axis=1)
    drift = np.divide(moment, spread[:, None], out=np.zeros_like(moment), where=spread[:, None] > 0)
    residual = np.linalg.norm(points - centre[piece] - drift[piece] * centred[:, None], axis=1)
    straight = np.maximum.reduceat(residual, first) <= SIGNIFICANCE * noise
    still = straight & (np.linalg.norm(drift, axis=1) <= MAX_DRIFT)
    return (count >= MIN_DETECTIONS) & long_enough & ~still
