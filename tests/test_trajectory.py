"""Trajectory post-processing: tracking, gap filling and smoothing, on real shuttlecock tracks."""

import itertools

import numpy as np
import pandas as pd
import pytest

from tests.conftest import fixture_path
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.errors import TracknetError
from tracknet_cli.inference.track_picking import BIRTH_COST, MISS_COST, MOTION_WEIGHT, pick_track
from tracknet_cli.inference.trajectory import (
    COLUMNS,
    TrajectoryConfig,
    candidates_from_points,
    fill_gaps,
    footage_times,
    frame_times,
    postprocess,
    smooth,
)

FPS = 30.0  # the shuttlecock dataset's frame rate
SIZE = (1280, 720)  # its frame size (width, height)


def parabola(frames: int) -> np.ndarray:
    """[frames, 2] a ball thrown right and up, falling back under gravity: exactly quadratic."""
    t = np.arange(frames, dtype=np.float64)
    return np.stack([100.0 + 12.0 * t, 500.0 - 30.0 * t + 1.5 * t**2], axis=1)


# --- fill_gaps ---------------------------------------------------------------------------------


def test_fill_gaps_recovers_quadratic_motion_exactly():
    truth = parabola(40)
    xy = truth.copy()
    gaps = [[5], [10, 11, 12], [20, 21, 22, 23, 24], [27, 28], [31]]  # [31]: 2 known on its left
    for gap in gaps:
        xy[gap] = np.nan
    filled, interpolated = fill_gaps(xy, max_gap=5)
    dropped = np.concatenate(gaps)
    np.testing.assert_allclose(filled[dropped], truth[dropped], atol=1e-6)
    assert np.flatnonzero(interpolated).tolist() == sorted(dropped.tolist())
    assert np.array_equal(filled[~interpolated], truth[~interpolated])  # known points untouched


def test_fill_gaps_next_to_a_single_position_is_a_straight_line():
    xy = parabola(10)
    xy[[1, 2, 4]] = np.nan  # frame 3 alone between two gaps: no curvature to fit
    filled, _ = fill_gaps(xy, max_gap=5)
    np.testing.assert_allclose(filled[1], xy[0] + (xy[3] - xy[0]) / 3)
    np.testing.assert_allclose(filled[4], (xy[3] + xy[5]) / 2)


def test_long_gaps_and_open_ends_stay_empty():
    xy = parabola(30)
    xy[[0, 1]] = np.nan  # before the first position: nothing to interpolate from
    xy[10:16] = np.nan  # 6 frames, one more than max_gap
    xy[28:] = np.nan
    filled, interpolated = fill_gaps(xy, max_gap=5)
    assert not interpolated.any()
    assert np.array_equal(np.isnan(filled), np.isnan(xy))
    assert not fill_gaps(parabola(5) * [[1], [np.nan], [1], [1], [1]], max_gap=0)[1].any()


def test_gaps_are_filled_inside_a_segment_only():
    xy = parabola(30)
    xy[[5, 6, 11, 12, 15, 16]] = np.nan
    segment = np.repeat([0, 1, 2], [12, 8, 10])  # hits between frames 11 and 12, 19 and 20
    filled, interpolated = fill_gaps(xy, 5, segment)
    assert np.flatnonzero(interpolated).tolist() == [5, 6, 15, 16]  # not 11-12: from one to the next
    # the anchors are the gap's own segment's: a gap at 17-18 is bridged from 16 to 19 in a line,
    # whatever the next flight does
    xy = parabola(30)
    xy[[17, 18]] = np.nan
    far = xy.copy()
    far[20:] += 500.0
    bridged = fill_gaps(xy, 5, segment)[0]
    np.testing.assert_allclose(fill_gaps(far, 5, segment)[0][[17, 18]], bridged[[17, 18]])
    np.testing.assert_allclose(bridged[17], xy[16] + (xy[19] - xy[16]) / 3)


def test_smoothing_stays_inside_each_segment():
    xy = np.random.default_rng(5).normal(0.0, 2.0, (20, 2))
    xy[10:] += 1000.0  # the next flight starts far away: any leak would show
    segment = np.repeat([0, 1], 10)
    smoothed = smooth(xy, 5, segment)
    np.testing.assert_allclose(smoothed[:10], smooth(xy[:10], 5))
    np.testing.assert_allclose(smoothed[10:], smooth(xy[10:], 5))


def test_footage_times_do_not_advance_on_repeated_frames():
    repeats = np.array([False, False, True, False, False, False, False, False, True, False])
    np.testing.assert_allclose(footage_times(repeats, 10), [0, 1, 1, 2, 3, 4, 5, 6, 6, 7])


# --- pick_track --------------------------------------------------------------------------------


def straight_track(frames: int, score: float = 0.8) -> list[np.ndarray]:
    """A ball moving 10 px per frame to the right: [1, 3] candidates."""
    xy = np.stack([100.0 + 10.0 * np.arange(frames), np.full(frames, 300.0)], axis=1)
    return candidates_from_points(xy, score)


@pytest.mark.parametrize("elapsed,jump,kept", [
    (1, 100.0, False),  # limit 50 px after one frame
    (3, 100.0, True),  # 150 px after three
    (3, 160.0, False),
])
def test_speed_limit_grows_with_frames_elapsed(elapsed, jump, kept):
    # 1500 px/s at 30 fps: 50 px per frame. A lone detection after the track is only kept when the
    # track can reach it; on its own it could not pay for starting a new track.
    frames = straight_track(5) + [np.empty((0, 3))] * (elapsed - 1)
    frames.append(np.array([[140.0 + jump, 300.0, 0.9]]))
    xy, score = pick_track(frames, FPS, max_speed=1500.0, max_skip=5)
    assert np.isfinite(xy[-1]).all() == kept
    assert score[-1] == (0.9 if kept else 0.0)
    assert np.isfinite(xy[:5]).all()


@pytest.mark.parametrize("speed,kept", [(120.0, True), (135.0, False)])
def test_default_speed_limit_is_three_frame_lengths_per_second(speed, kept):
    # 3 x 1280 px/s at 30 fps: 128 px per frame. A ball flying at 120 px per frame is tracked; at
    # 135 no two detections can be linked, so there is no track at all.
    xy = np.stack([50.0 + speed * np.arange(9), np.full(9, 300.0)], axis=1)
    visible = postprocess(candidates_from_points(xy, 0.9), FPS, SIZE).table()["Visibility"]
    assert visible.tolist() == [int(kept)] * 9


def test_top_scoring_outlier_loses_to_a_continuous_candidate():
    frames = straight_track(10, score=0.7)
    true_point = frames[5][0]
    shoe = [1000.0, 650.0, 0.99]  # a confident false peak far from the ball
    frames[5] = np.array([shoe, [true_point[0], true_point[1], 0.6]])
    xy, score = pick_track(frames, FPS, max_speed=3840.0, max_skip=10)
    assert np.array_equal(xy[5], true_point[:2]) and score[5] == 0.6

    frames[5] = np.array([shoe])  # without the ball in that frame, the frame has none
    xy, _ = pick_track(frames, FPS, max_speed=3840.0, max_skip=10)
    assert np.isnan(xy[5]).all() and np.isfinite(np.delete(xy, 5, axis=0)).all()


def test_a_track_starts_on_two_consistent_detections_not_one():
    empty = np.empty((0, 3))
    lone = [empty, np.array([[500.0, 300.0, 0.95]]), empty, empty]
    assert np.isnan(pick_track(lone, FPS, 3840.0, 10)[0]).all()
    pair = [empty, np.array([[500.0, 300.0, 0.95]]), np.array([[510.0, 305.0, 0.9]]), empty]
    xy, _ = pick_track(pair, FPS, 3840.0, 10)
    assert np.isfinite(xy[1:3]).all() and np.isnan(xy[[0, 3]]).all()


def labelling_cost(frames, choice, step, max_skip):
    """The tracker's objective for one labelling (candidate index or None per frame), by hand."""
    total, last = 0.0, None
    for t, k in enumerate(choice):
        if k is None:
            total += MISS_COST
            continue
        x, y, score = frames[t][k]
        total -= np.log(score)
        link = BIRTH_COST
        if last is not None and t - last[0] - 1 <= max_skip:
            distance = np.hypot(x - last[1], y - last[2])
            limit = step * (t - last[0])
            if distance <= limit:
                link = min(link, MOTION_WEIGHT * (distance / limit) ** 2)
        total += link
        last = (t, x, y)
    return total


def test_pick_track_finds_the_cheapest_labelling():
    # Exhaustive search over every labelling of small random inputs agrees with the programme.
    rng = np.random.default_rng(7)
    step, max_skip = 40.0, 1
    for _ in range(15):
        frames = [np.column_stack([rng.uniform(0, 200, (k, 2)), rng.uniform(0.05, 1.0, k)])
                  for k in rng.integers(0, 3, size=6)]
        xy, _ = pick_track(frames, FPS, step * FPS, max_skip)
        picked = [None if np.isnan(p[0]) else int(np.flatnonzero(f[:, 0] == p[0])[0])
                  for p, f in zip(xy, frames)]
        options = [[None, *range(len(f))] for f in frames]
        best = min(labelling_cost(frames, c, step, max_skip) for c in itertools.product(*options))
        assert labelling_cost(frames, picked, step, max_skip) == pytest.approx(best)


# --- smooth ------------------------------------------------------------------------------------


def test_smooth_keeps_quadratic_motion_and_reduces_noise():
    truth = parabola(30)
    np.testing.assert_allclose(smooth(truth, 7), truth, atol=1e-8)
    noisy = truth + np.random.default_rng(3).normal(0.0, 2.0, truth.shape)
    before = np.abs(noisy - truth).mean()
    assert np.abs(smooth(noisy, 7) - truth).mean() < 0.75 * before


def test_smooth_never_reaches_across_a_gap():
    xy = np.random.default_rng(4).normal(0.0, 2.0, (20, 2))
    xy[8] = np.nan
    xy[9:] += 1000.0  # the next run is far away: any leak would show
    smoothed = smooth(xy, 5)
    np.testing.assert_allclose(smoothed[:8], smooth(xy[:8], 5))
    np.testing.assert_allclose(smoothed[9:], smooth(xy[9:], 5))
    assert np.isnan(smoothed[8]).all()
    short = np.array([[0.0, 0.0], [5.0, 1.0], [7.0, -3.0], [np.nan, np.nan]])
    assert np.array_equal(smooth(short, 5), short, equal_nan=True)  # too short to smooth


# --- postprocess -------------------------------------------------------------------------------


def scene() -> list[np.ndarray]:
    """A straight track with a gap (frames 4-5) and a confident outlier alone in frame 8."""
    frames = straight_track(12)
    frames[4] = frames[5] = np.empty((0, 3))
    frames[8] = np.array([[1100.0, 80.0, 0.99]])
    return frames


def test_postprocess_table():
    table = postprocess(scene(), FPS, SIZE).table()
    assert list(table.columns) == COLUMNS
    assert table["Frame"].tolist() == list(range(12))
    assert table["Visibility"].tolist() == [1] * 12
    assert table["Interpolated"].tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0]
    np.testing.assert_allclose(table["X"], 100.0 + 10.0 * np.arange(12))
    np.testing.assert_allclose(table["Y"], 300.0)
    assert table["Confidence"].tolist() == [0.0 if i in (4, 5, 8) else 0.8 for i in range(12)]


@pytest.mark.parametrize("switch", ["track", "fill_gaps", "smooth"])
def test_each_step_switches(switch):
    frames = scene()
    table = postprocess(frames, FPS, SIZE, TrajectoryConfig(**{switch: switch == "smooth"})).table()
    baseline = postprocess(frames, FPS, SIZE).table()
    if switch == "track":  # off: the outlier is taken as it is
        assert (table.loc[8, "X"], table.loc[8, "Y"], table.loc[8, "Interpolated"]) == (1100, 80, 0)
    if switch == "fill_gaps":  # off: the gap and the dropped outlier stay empty, written as 0,0
        assert table.loc[[4, 5, 8], ["Visibility", "X", "Y", "Interpolated"]].eq(0).all().all()
    if switch == "smooth":  # on: a straight track stays where it is
        pd.testing.assert_frame_equal(table, baseline)


def test_smoothing_is_applied_when_on():
    frames = straight_track(12)
    frames[6] = np.array([[163.0, 305.0, 0.8]])  # a 5 px wobble
    wobble = postprocess(frames, FPS, SIZE, TrajectoryConfig(smooth=True)).table()
    assert 0 < abs(wobble.loc[6, "Y"] - 300.0) < 5.0
    assert wobble.loc[6, "Confidence"] == 0.8


def test_empty_inputs():
    table = postprocess([], FPS, SIZE).table()
    assert list(table.columns) == COLUMNS and len(table) == 0
    xy, score = pick_track([], FPS, 3840.0, 10)
    assert xy.shape == (0, 2) and score.shape == (0,)
    nothing = postprocess([np.empty((0, 3))] * 6, FPS, SIZE).table()
    assert nothing[["Visibility", "X", "Y", "Confidence", "Interpolated"]].eq(0).all().all()


def test_single_detection():
    frames = [np.empty((0, 3))] * 3 + [np.array([[640.0, 360.0, 0.9]])] + [np.empty((0, 3))] * 3
    assert postprocess(frames, FPS, SIZE).table()["Visibility"].sum() == 0  # unconfirmed: no track
    untracked = postprocess(frames, FPS, SIZE, TrajectoryConfig(track=False)).table()
    assert untracked["Visibility"].tolist() == [0, 0, 0, 1, 0, 0, 0]
    assert (untracked.loc[3, "X"], untracked.loc[3, "Confidence"]) == (640.0, 0.9)


@pytest.mark.parametrize("call,words", [
    (lambda: postprocess(scene(), 0.0, SIZE).table(), "fps must be a positive number"),
    (lambda: postprocess(scene(), -25.0, SIZE).table(), "fps must be a positive number"),
    (lambda: postprocess(scene(), FPS, (0, 720)).table(), "frame size"),
    (lambda: TrajectoryConfig(max_gap=-1), "max_gap must be at least 0"),
    (lambda: fill_gaps(parabola(5), -2), "max_gap must be at least 0"),
    (lambda: TrajectoryConfig(max_speed=0.0), "max_speed must be a positive number"),
    (lambda: TrajectoryConfig(noise=-0.001), "noise must be a positive number"),
    (lambda: postprocess(scene(), FPS, SIZE, repeats=np.zeros(5, bool)), "repeats have shape"),
    (lambda: fill_gaps(parabola(5), 2, np.zeros(4)), "segments have shape"),
    (lambda: TrajectoryConfig(smooth_window=4), "odd number of frames"),
    (lambda: pick_track([np.zeros((2, 2))], FPS, 3840.0, 10), "expected [K, 3]"),
    (lambda: pick_track([np.array([[1.0, np.nan, 0.5]])], FPS, 3840.0, 10), "NaN"),
    (lambda: smooth(np.zeros(5), 5), "expected [N, 2]"),
])
def test_bad_arguments(call, words):
    with pytest.raises(TracknetError, match=words.replace("[", r"\[")):
        call()


# --- real shuttlecock trajectories -------------------------------------------------------------

BADMINTON = ["match1_1_05_02_ball.csv", "match2_1_11_11_ball.csv", "match3_1_05_02_ball.csv"]
REPEATS = 10  # corruptions per file, pooled: the ~15 gaps of one are too few for a median


def real_track(name: str) -> np.ndarray:
    """[N, 2] labelled positions, NaN without a ball."""
    labels = read_labels(fixture_path(f"labels/badminton/{name}"))
    xy = labels[["x", "y"]].to_numpy(dtype=np.float64)
    xy[(xy == 0).all(axis=1)] = np.nan  # one row of match3 is "visible" at 0,0: a labelling slip
    return xy


def corrupt(truth: np.ndarray, rng: np.random.Generator):
    """Detections from a true track [N, 2], and which frames were spoilt how.

    Of the visible frames: 10% dropped in gaps of 1-5 frames, 5% replaced by a confident outlier
    (the ball absent), 5% with a confident outlier above the ball. Outliers lie anywhere in the
    frame at least 200 px from the ball, beyond the 128 px one frame allows. Every spoilt stretch
    keeps two untouched visible frames on each side, so gaps stay within the length drawn.
    """
    visible = np.isfinite(truth).all(axis=1)
    blocked = ~visible
    count = int(visible.sum())

    def spoil(length: int) -> int:
        while True:
            start = int(rng.integers(2, len(truth) - length - 2))
            if not blocked[start - 2:start + length + 2].any():
                blocked[start:start + length] = True
                return start

    dropped = []
    while len(dropped) < 0.10 * count:
        length = int(rng.integers(1, 6))
        start = spoil(length)
        dropped.extend(range(start, start + length))
    replaced = [spoil(1) for _ in range(round(0.05 * count))]
    crowded = [spoil(1) for _ in range(round(0.05 * count))]

    frames = candidates_from_points(truth, rng.uniform(0.5, 1.0, len(truth)))
    outliers = {}
    for t in replaced + crowded:
        outliers[t] = far_point(truth[t], rng)
        score = rng.uniform(0.8, 1.0)
        frames[t] = np.array([[*outliers[t], score]])
        if t in crowded:
            frames[t] = np.vstack([frames[t], [*truth[t], rng.uniform(0.5, 0.8)]])
    for t in dropped:
        frames[t] = np.empty((0, 3))
    return frames, np.array(dropped), replaced, crowded, outliers


def far_point(ball: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    while True:
        point = rng.uniform((0, 0), SIZE)
        if np.hypot(*(point - ball)) >= 200.0:
            return point


# The labels mark the shuttle visible while the server holds it before the serve and while it
# lies on the floor after the rally: no ball in play, which the tracker leaves out (frames, from
# and to).
NOT_IN_PLAY = {"match1_1_05_02_ball.csv": [(0, 28)],
               "match2_1_11_11_ball.csv": [(0, 13), (683, 717)],
               "match3_1_05_02_ball.csv": [(737, 779)]}


def in_play(name: str, truth: np.ndarray) -> np.ndarray:
    """[N] bool: the labelled frames of the shuttle in play."""
    playing = np.isfinite(truth).all(axis=1)
    for start, stop in NOT_IN_PLAY[name]:
        playing[start:stop] = False
    return playing


def spoil_and_recover(name: str, repeats: int = REPEATS) -> dict[str, np.ndarray]:
    """Post-process `repeats` corruptions of a real track; outcomes in play pooled over them."""
    truth = real_track(name)
    playing = in_play(name, truth)
    fill_errors, filled, kept, gone, found = [], [], [], [], []
    for repeat in range(repeats):
        rng = np.random.default_rng([BADMINTON.index(name), repeat])
        frames, dropped, replaced, crowded, outliers = corrupt(truth, rng)
        table = postprocess(frames, FPS, SIZE).table()
        xy = table[["X", "Y"]].to_numpy()
        seen = table["Visibility"].to_numpy() == 1
        dropped = dropped[playing[dropped]]
        filled.append(seen[dropped])
        fill_errors.append(np.hypot(*(xy[dropped] - truth[dropped]).T)[seen[dropped]])
        detected = playing.copy()
        detected[np.concatenate([dropped, replaced]).astype(int)] = False
        kept.append(seen[detected])
        gone.extend(not seen[t] or np.hypot(*(xy[t] - outliers[t])) > 1.0
                    for t in replaced if playing[t])
        found.extend(np.array_equal(xy[t], truth[t]) for t in crowded if playing[t])
    return {"fill_errors": np.concatenate(fill_errors), "filled": np.concatenate(filled),
            "kept": np.concatenate(kept), "gone": np.array(gone), "found": np.array(found)}


# match3 is 25 fps footage in a 30 fps file: every sixth frame repeats the one before (the labels
# stall there, at frames 3 mod 6). `frame_times` finds that cadence, so the fits run in the
# footage's own time; without it match3's median was 4.5 px.
MEDIAN_FILL_ERROR = 3.0
# Badminton rallies hit the shuttle every half second, and a dropped stretch often lies at a hit:
# such gaps are left open now (a hit is a break between flights), as are gaps beyond a lone
# detection right after a hit, which cannot be checked against its flight. Measured: 64-76% of the
# dropped points in play are filled; 96-98% of the detections in play are kept.
FILLED_SHARE, KEPT_SHARE = 0.6, 0.95


@pytest.mark.parametrize("name", BADMINTON)
def test_real_trajectories_are_recovered(name):
    outcome = spoil_and_recover(name)
    assert np.median(outcome["fill_errors"]) <= MEDIAN_FILL_ERROR
    assert outcome["filled"].mean() >= FILLED_SHARE
    assert outcome["kept"].mean() >= KEPT_SHARE
    assert outcome["gone"].mean() >= 0.9  # outliers with the ball absent: dropped or filled
    assert outcome["found"].mean() >= 0.95  # outliers above the ball: the ball is kept instead


@pytest.mark.parametrize("name", BADMINTON)
def test_a_shuttle_at_rest_is_no_ball_in_play(name):
    truth = real_track(name)
    table = postprocess(candidates_from_points(truth, 0.9), FPS, SIZE).table()
    seen = table["Visibility"].to_numpy() == 1
    playing = in_play(name, truth)
    assert seen[playing].mean() >= 0.98  # match3 opens on a smash leaving the picture: 6 frames
    held_at_the_start = name == "match2_1_11_11_ball.csv"  # 0.4 s, then the serve: joined to it
    rest = np.isfinite(truth).all(axis=1) & ~playing
    assert seen[rest].mean() <= (0.4 if held_at_the_start else 0.0)


def test_frame_times_find_a_cadence_of_repeated_frames():
    t = np.arange(120.0)
    footage = np.stack([100.0 + 9.0 * t, 600.0 - 25.0 * t + 0.4 * t**2], axis=1)  # 25 fps, moving
    shown = footage[np.arange(144) * 25 // 30]  # shown at 30 fps: every sixth frame repeats
    times = frame_times(shown)
    np.testing.assert_allclose(times, np.arange(144) * 25 // 30)
    gappy = shown.copy()
    gappy[40:45] = np.nan  # the cadence holds inside gaps, where no position shows it
    np.testing.assert_allclose(frame_times(gappy), times)
    filled, interpolated = fill_gaps(gappy, 5)
    assert interpolated[40:45].all() and np.abs(filled[40:45] - shown[40:45]).max() < 1e-6
    np.testing.assert_allclose(frame_times(footage), np.arange(120.0))  # no repeats, no cadence
    still = np.tile([[300.0, 200.0]], (60, 1))  # a ball at rest repeats nothing
    np.testing.assert_allclose(frame_times(still), np.arange(60.0))
