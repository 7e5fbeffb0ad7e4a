"""One candidate or none per frame, chosen for the whole video at once by dynamic programming.

    xy, score = pick_track(candidates, fps=30.0, max_speed=3840.0, max_skip=10)
    # candidates: per frame a float array [K_i, 3] of rows (x, y, score), video pixels, K_i >= 0
    # xy [N, 2] (NaN: no ball), score [N] (0: no ball)

Continuity wins over a higher score, jumps faster than the ball can fly are impossible, and a track
needs two consistent detections to start. The candidates are held as padded arrays (`padded`):
xy [N, K, 2] NaN where a frame has fewer than K candidates, score [N, K] 0 there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tracknet_cli.errors import TracknetError

# The tracker's costs are negative log-likelihoods: keeping a candidate costs -log(score).
MISS_COST = -math.log(0.05)  # a frame without a ball costs as much as keeping a 5% candidate
BIRTH_COST = MISS_COST  # so a lone detection never pays for itself; two consistent ones do
MOTION_WEIGHT = 1.0  # a jump at the speed limit costs as much as a candidate of score 1/e
MIN_SCORE = 1e-6  # keeps -log(score) finite for a zero score

CHUNK = 4096  # frames whose link costs are computed together: [CHUNK, max_skip + 1, K, K] floats


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
    xy, score = padded(candidates)
    return pick_padded(xy, score, fps, max_speed, max_skip)


def pick_padded(xy: np.ndarray, score: np.ndarray, fps: float, max_speed: float,
                max_skip: int) -> tuple[np.ndarray, np.ndarray]:
    """`pick_track` of padded candidates: xy [N, K, 2] (NaN: no candidate), score [N, K]."""
    check_positive("fps", fps)
    check_positive("max_speed", max_speed)
    if max_skip < 0:
        raise TracknetError(f"max_skip must be at least 0, got {max_skip}")
    n = len(xy)
    picked_xy = np.full((n, 2), np.nan)
    picked_score = np.zeros(n)
    present = np.isfinite(xy[..., 0])
    if not present.any():
        return picked_xy, picked_score
    keep_cost = np.where(present, -np.log(np.clip(score, MIN_SCORE, 1.0)), np.inf)
    frames, slots = _best_path(xy, keep_cost, max_speed / fps, max_skip)
    picked_xy[frames] = xy[frames, slots]
    picked_score[frames] = score[frames, slots]
    return picked_xy, picked_score


def _best_path(xy: np.ndarray, keep_cost: np.ndarray, step: float,
               max_skip: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, slots) of the kept candidates of the cheapest labelling; `step`: the speed limit
    in pixels per frame.

    cost[t][k] is the cheapest labelling of frames 0..t that keeps candidate k at t: a link from a
    candidate of one of the `span` = max_skip + 1 frames before, or a new track after any labelling
    of 0..t-1. settled[t] is the cheapest labelling of 0..t-1 whatever it ends with. The link costs
    are computed a chunk of frames at a time, so the loop over frames does a handful of array
    operations each.
    """
    n, k = keep_cost.shape
    span = max_skip + 1
    cost = np.full((span + n, k), np.inf)  # row span + t: frame t; the rows before: no track
    came_from = np.full((n, k), -1)  # flat index r * k + j of the window [span, k], -1: a new track
    settled = np.zeros(n + 1)
    settled_link = np.full(n + 1, -1)  # candidate kept at t - 1, or -1: no ball there
    occupied = np.isfinite(keep_cost).any(axis=1)
    columns = np.arange(k)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        links = _link_costs(xy, start, stop, span, step)  # [C, span, k, k]
        for t in range(start, stop):
            settled[t + 1] = settled[t] + MISS_COST
            if not occupied[t]:
                continue
            through = (cost[t:t + span, :, None] + links[t - start]).reshape(span * k, k)
            origin = through.argmin(axis=0)
            best = through[origin, columns]
            linked = best < settled[t] + BIRTH_COST  # a tie starts a new track
            total = np.where(linked, best, settled[t] + BIRTH_COST) + keep_cost[t]
            cost[span + t] = total
            came_from[t] = np.where(linked, origin, -1)
            cheapest = int(total.argmin())
            if total[cheapest] < settled[t + 1]:
                settled[t + 1] = total[cheapest]
                settled_link[t + 1] = cheapest
    return _backtrack(came_from, settled_link, span)


def _link_costs(xy: np.ndarray, start: int, stop: int, span: int, step: float) -> np.ndarray:
    """[C, span, K, K] cost of linking candidate j of frame t - span + r (axis 1: r) to candidate k
    of frame t, for t in [start, stop): the frames missed between, plus the motion; inf beyond the
    speed limit or where either candidate is absent."""
    k = xy.shape[1]
    before = np.full((span, k, 2), np.nan)  # the frames before the video have no candidate
    origins = np.concatenate([before, xy])[start:stop - 1 + span]  # frames start - span .. stop - 2
    windows = sliding_window_view(origins, span, axis=0).transpose(0, 3, 1, 2)  # [C, span, K, 2]
    elapsed = np.arange(span, 0, -1)[:, None, None]  # [span, 1, 1] frames from origin to target
    offset = windows[:, :, :, None, :] - xy[start:stop, None, None, :, :]  # [C, span, K, K, 2]
    reach = (offset**2).sum(axis=-1) / (step * elapsed) ** 2  # (distance / limit)^2
    motion = MISS_COST * (elapsed - 1) + MOTION_WEIGHT * reach
    return np.where(reach <= 1, motion, np.inf)  # NaN (no candidate) compares False


def _backtrack(came_from: np.ndarray, settled_link: np.ndarray,
               span: int) -> tuple[np.ndarray, np.ndarray]:
    """The kept (frames, slots), following the links back from the cheapest end."""
    k = came_from.shape[1]
    frames, slots = [], []
    t, slot = len(came_from) - 1, int(settled_link[-1])
    while t >= 0:
        if slot >= 0:
            frames.append(t)
            slots.append(slot)
            origin = int(came_from[t, slot])
            if origin >= 0:  # a link within a track: jump to the candidate it came from
                t, slot = t - span + origin // k, origin % k
                continue
        # no ball at t, or a track starting at t: whatever labelling of 0..t-1 was cheapest
        t, slot = t - 1, int(settled_link[t])
    return np.array(frames[::-1], dtype=int), np.array(slots[::-1], dtype=int)


def top_candidates(candidates: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The highest-scoring candidate of every frame: positions [N, 2] (NaN: none) and scores [N]."""
    xy, score = padded(candidates)
    picked_xy = np.full((len(xy), 2), np.nan)
    picked_score = np.zeros(len(xy))
    if score.size == 0:
        return picked_xy, picked_score
    top = np.where(np.isfinite(xy[..., 0]), score, -np.inf).argmax(axis=1)
    frames = np.flatnonzero(np.isfinite(xy[:, 0, 0]))  # a frame's first slot is filled first
    picked_xy[frames] = xy[frames, top[frames]]
    picked_score[frames] = score[frames, top[frames]]
    return picked_xy, picked_score


def padded(candidates: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame candidates [K_i, 3] as xy [N, K, 2] (NaN past K_i) and score [N, K] (0 past K_i),
    K the most candidates of any frame, each frame's candidates in their order."""
    frames = []
    for t, points in enumerate(candidates):
        points = np.asarray(points, dtype=np.float64)
        if points.size == 0:
            points = points.reshape(0, 3)
        if points.ndim != 2 or points.shape[1] != 3:
            raise TracknetError(f"candidates of frame {t} have shape {list(points.shape)}; "
                                "expected [K, 3] rows of (x, y, score)")
        frames.append(points)
    counts = np.array([len(points) for points in frames], dtype=int)
    rows = np.concatenate(frames) if frames else np.empty((0, 3))
    if not np.isfinite(rows).all():
        t = int(np.repeat(np.arange(len(frames)), counts)[~np.isfinite(rows).all(axis=1)][0])
        raise TracknetError(f"candidates of frame {t} contain NaN or infinite values")
    width = int(counts.max(initial=0))
    xy = np.full((len(frames), width, 2), np.nan)
    score = np.zeros((len(frames), width))
    frame = np.repeat(np.arange(len(frames)), counts)
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    xy[frame, slot] = rows[:, :2]
    score[frame, slot] = rows[:, 2]
    return xy, score


def check_positive(name: str, value: float) -> None:
    if not (isinstance(value, Real) and math.isfinite(value) and value > 0):
        raise TracknetError(f"{name} must be a positive number, got {value!r}")
