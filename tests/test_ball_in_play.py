"""The tracker reports the ball in play: still candidates out, flights kept whole, no fill across a
jump. Synthetic rallies in image space (hits and bounces, noise, misses, still balls, clutter, a
panning camera) at 720p/25, 1080p/30 and 4K/60, and the hand-labelled real tennis flights."""

from pathlib import Path

import numpy as np
import pytest

from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.inference.ball_in_play import MAX_DRIFT, flight_segments, still_candidates
from tracknet_cli.inference.trajectory import TrajectoryConfig, postprocess, track_ball

GRAVITY = 0.6  # frame lengths per s^2, down the image: a broadcast view's mid-court
FORMATS = [(25.0, (1280, 720)), (30.0, (1920, 1080)), (60.0, (3840, 2160))]
STILL = np.array([0.3, 0.45])  # frame lengths: where a ball lies on the court
REAL_LABELS = Path(__file__).resolve().parents[1] / "benchmarks" / "real"  # held-out tennis labels


def flight(start: np.ndarray, end: np.ndarray, seconds: float, fps: float,
           gravity: float = GRAVITY) -> np.ndarray:
    """[n, 2] frame lengths: the parabola from `start` to `end` in `seconds`, stopping a frame
    before `end`."""
    t = np.arange(round(seconds * fps))[:, None] / fps
    acceleration = np.array([0.0, gravity])
    velocity = (end - start) / seconds - acceleration * seconds / 2
    return start + velocity * t + acceleration * t**2 / 2


def rally(fps: float, shots: int = 4, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """[N, 2] frame lengths of a rally seen from behind the baseline, and its events (the frames
    where a flight starts: a bounce or a hit). Each shot flies 0.7 s to its bounce, then 0.4 s to
    the other player's racket; speeds 0.2-0.6 frame lengths per second."""
    rng = np.random.default_rng(seed)
    points, at, far = [], np.array([0.5, 0.18]), True
    for _ in range(shots):
        bounce = np.array([rng.uniform(0.3, 0.7), 0.42 if far else 0.25])
        hit = np.array([rng.uniform(0.3, 0.7), 0.48 if far else 0.18])
        points += [flight(at, bounce, 0.7, fps), flight(bounce, hit, 0.4, fps)]
        at, far = hit, not far
    events = np.cumsum([len(p) for p in points])[:-1].tolist()
    return np.concatenate(points), events


def candidates(truth: np.ndarray, fps: float, size: tuple[int, int], seed: int = 0,
               miss: float = 0.1, still: bool = True, clutter: float = 0.3,
               pan: float = 0.0) -> list[np.ndarray]:
    """Detections in pixels of a true track [N, 2] (frame lengths, NaN: no ball): the ball with
    noise (a quarter of a pixel of a 256-wide heatmap) and `miss` of its frames missed; a ball
    lying still at STILL, scored above the ball, in every frame; a random confident peak in
    `clutter` of the frames. `pan`: frame lengths per second the camera moves everything by."""
    rng = np.random.default_rng(seed)
    extent = max(size)
    drift = pan * np.arange(len(truth))[:, None] / fps * np.array([0.8, 0.6])
    ball = (truth + drift) * extent + rng.normal(0.0, 0.001 * extent, truth.shape)
    frames = []
    for t, position in enumerate(ball):
        rows = []
        if np.isfinite(position).all() and rng.random() > miss:
            rows.append([*position, rng.uniform(0.6, 0.9)])
        if still:
            lying = (STILL + drift[t]) * extent + rng.normal(0.0, 0.0005 * extent, 2)
            rows.append([*lying, 0.95])
        if rng.random() < clutter:
            rows.append([rng.uniform(0, size[0]), rng.uniform(0, size[1]), rng.uniform(0.5, 1.0)])
        frames.append(np.array(rows).reshape(-1, 3))
    return frames


def quiet(seconds: float, fps: float) -> np.ndarray:
    return np.full((round(seconds * fps), 2), np.nan)


def found(table, truth: np.ndarray, extent: float, pan: float = 0.0,
          fps: float = 1.0) -> np.ndarray:
    """[N] bool: frames reported within 1% of the frame of the true ball."""
    drift = pan * np.arange(len(truth))[:, None] / fps * np.array([0.8, 0.6])
    error = np.hypot(*(table[["X", "Y"]].to_numpy() - (truth + drift) * extent).T)
    return (table["Visibility"].to_numpy() == 1) & (error < 0.01 * extent)


@pytest.mark.parametrize("fps,size", FORMATS)
def test_a_rally_with_bounces_and_hits_is_kept_whole(fps, size):
    truth, events = rally(fps)
    extent = max(size)
    frames = candidates(truth, fps, size, miss=0.0, still=False, clutter=0.0)
    table = postprocess(frames, fps, size).table()
    assert found(table, truth, extent).all()  # every frame, the bounces and hits included
    _, _, flight_of = track_ball(frames, fps, extent, 3 * extent)
    breaks = np.flatnonzero(np.diff(flight_of) != 0) + 1
    near = [np.abs(breaks - event).min() <= 2 for event in events]
    assert np.mean(near) >= 0.5  # the clear bounces and hits cut the track in flights
    assert all(np.abs(np.array(events) - b).min() <= 2 for b in breaks)  # and nothing else does


@pytest.mark.parametrize("fps,size", FORMATS)
def test_a_still_ball_is_no_ball_and_the_ball_in_play_is(fps, size):
    truth = np.concatenate([quiet(3, fps), rally(fps)[0], quiet(3, fps)])
    extent = max(size)
    table = postprocess(candidates(truth, fps, size), fps, size).table()
    ball = np.isfinite(truth).all(axis=1)
    # a flight's first or last detection alone beyond a gap of over 0.05 s cannot be checked
    # against the flight: it is left out, with the gap
    assert found(table, truth, extent)[ball].mean() >= 0.9
    assert table["Visibility"][~ball].sum() == 0  # neither the still ball nor the clutter


def test_a_stretch_of_still_balls_and_clutter_is_no_ball():
    fps, size = 30.0, (1920, 1080)
    frames = candidates(quiet(20, fps), fps, size, clutter=0.6)
    frames = [np.vstack([f, [[500.0, 800.0, 0.7]], [[1500.0 + 30 * np.sin(t / 20), 200.0, 0.8]]])
              for t, f in enumerate(frames)]  # another ball at rest, a head swaying slowly
    table = postprocess(frames, fps, size).table()
    assert table["Visibility"].sum() == 0
    raw = postprocess(frames, fps, size, TrajectoryConfig(track=False)).table()  # --no-track
    assert raw["Visibility"].all()


@pytest.mark.parametrize("fps,size", FORMATS)
def test_a_panning_camera_moves_the_still_ball_along(fps, size):
    pan = 0.7 * MAX_DRIFT  # frame lengths per second: 4 px a frame at 1080p and 30 fps
    truth = np.concatenate([quiet(2, fps), rally(fps, seed=1)[0], quiet(2, fps)])
    extent = max(size)
    table = postprocess(candidates(truth, fps, size, seed=1, pan=pan), fps, size).table()
    ball = np.isfinite(truth).all(axis=1)
    assert found(table, truth, extent, pan, fps)[ball].mean() >= 0.9
    assert table["Visibility"][~ball].sum() == 0


def test_the_slow_apex_of_a_lob_is_in_play():
    # A lob at the far baseline: gravity 0.2 frame lengths per s^2, under 0.05 frame lengths per
    # second (3 px a frame at 1080p) for 0.5 s around the apex; a ball lies still nearby.
    fps, size = 30.0, (1920, 1080)
    lob = flight(np.array([0.4, 0.3]), np.array([0.5, 0.3]), 2.0, fps, gravity=0.2)
    truth = np.concatenate([quiet(1, fps), lob, quiet(1, fps)])
    table = postprocess(candidates(truth, fps, size, miss=0.0, clutter=0.0), fps, size).table()
    ball = np.isfinite(truth).all(axis=1)
    assert found(table, truth, max(size))[ball].all()


def test_gaps_are_filled_inside_a_flight_and_never_across_a_jump():
    fps, size = 30.0, (1920, 1080)
    first = flight(np.array([0.3, 0.2]), np.array([0.5, 0.45]), 1.0, fps)
    second = flight(np.array([0.6, 0.45]), np.array([0.8, 0.2]), 1.0, fps)  # 190 px on, reachable
    truth = np.concatenate([first, second])
    detected = truth.copy()
    detected[[10, 11, 12, 20]] = np.nan  # gaps inside the first flight
    detected[len(first) - 2:len(first) + 2] = np.nan  # and one over the jump to the second
    frames = candidates(detected, fps, size, miss=0.0, still=False, clutter=0.0)
    table = postprocess(frames, fps, size).table()
    interpolated = np.flatnonzero(table["Interpolated"])
    assert interpolated.tolist() == [10, 11, 12, 20]
    assert found(table, truth, max(size))[interpolated].all()
    untracked = postprocess(frames, fps, size, TrajectoryConfig(in_play=False)).table()
    assert untracked["Interpolated"][len(first) - 2:len(first) + 2].all()  # what it used to draw


def test_a_hit_hidden_in_a_gap_is_not_bridged():
    fps, size = 30.0, (1920, 1080)
    incoming = flight(np.array([0.3, 0.2]), np.array([0.5, 0.45]), 0.7, fps)
    outgoing = flight(np.array([0.5, 0.45]), np.array([0.35, 0.15]), 0.7, fps)  # back it goes
    truth = np.concatenate([incoming, outgoing])
    detected = truth.copy()
    detected[len(incoming) - 2:len(incoming) + 1] = np.nan  # the racket hides the hit
    frames = candidates(detected, fps, size, miss=0.0, still=False, clutter=0.0)
    table = postprocess(frames, fps, size).table()
    assert not table["Interpolated"].any()
    assert table["Visibility"].sum() >= len(truth) - 3 - 2  # both flights, less 2 at the hit


def test_still_candidates_are_still_the_ball_in_play_is_not():
    fps = 30.0
    t = np.arange(90)[:, None] / fps
    rng = np.random.default_rng(0)
    tracks = {
        "still": np.tile(STILL, (90, 1)),
        "panned": np.array([0.6, 0.2]) + 0.8 * MAX_DRIFT * t * np.array([0.8, 0.6]),
        "apex": np.array([0.5, 0.3]) + [0.02, 0.0] * t + [0.0, 0.1] * (t - 1.5) ** 2,
        "fast": np.array([0.2, 0.3]) + np.array([0.4, 0.1]) * t,
        "rally": rally(fps)[0][:90],
    }
    # [90, 5, 2]: the tracks side by side, as the candidates of each frame
    xy = np.stack([track + rng.normal(0.0, 0.0005, track.shape) for track in tracks.values()], axis=1)
    still = still_candidates(xy, fps)
    assert still[:, 0].all() and still[:, 1].all()
    assert not still[:, 2:].any()


def test_flight_segments_drop_an_outlier_and_keep_the_flight_whole():
    fps = 30.0
    points = flight(np.array([0.3, 0.2]), np.array([0.5, 0.45]), 1.0, fps)
    points[12] += [0.02, -0.03]  # a shoe picked within reach while the ball was missed
    frames = np.arange(len(points))
    segment = flight_segments(frames, frames / fps, points, fps, max_speed=3.0, max_unseen=10)
    assert segment[12] == -1
    assert (np.delete(segment, 12) == 0).all()


@pytest.mark.parametrize("clip,fps", [("tennis_broadcast_1080p", 30.0),
                                      ("tennis_broadcast_clay_1080p", 30.0),
                                      ("tennis_broadcast_grass_1080p", 24.91)])
def test_labelled_real_flights_are_recovered_among_still_balls_and_clutter(clip, fps):
    # The hand labels of real broadcast clips as detections: 10% missed, with a still ball and
    # random confident peaks. The hard-court and clay clips were converted from 25 fps (every
    # sixth frame repeats); `frame_times` finds that cadence in the labels.
    labels = read_labels(REAL_LABELS / f"{clip}_ball.csv")
    truth = labels[["x", "y"]].to_numpy(dtype=np.float64) / 1920  # NaN without a ball
    size = (1920, 1080)
    table = postprocess(candidates(truth, fps, size, seed=3), fps, size).table()
    ball = labels["visibility"].to_numpy() == 1
    assert found(table, truth, 1920)[ball].mean() >= 0.9
    reported = table["Visibility"].to_numpy() == 1
    assert not reported[labels["visibility"].to_numpy() == 0].any()
    assert not (np.hypot(*(table[["X", "Y"]].to_numpy() - STILL * 1920).T) < 20)[reported].any()


def test_repeated_frames_keep_the_footage_clock():
    # 25 fps footage in a 30 fps file: every sixth frame shows the one before again, and the
    # detector, which sees no motion there, misses it. Told which frames repeat, the tracker
    # fits the flight in the footage's own time and keeps it whole.
    fps, size = 30.0, (1920, 1080)
    footage = flight(np.array([0.2, 0.2]), np.array([0.8, 0.45]), 1.2, 25.0)
    shown = footage[np.arange(36) * 25 // 30]
    repeats = np.r_[False, np.diff(np.arange(36) * 25 // 30) == 0]
    detected = np.where(repeats[:, None], np.nan, shown)
    frames = candidates(detected, fps, size, miss=0.0, still=False, clutter=0.0)
    table = postprocess(frames, fps, size, repeats=repeats).table()
    assert found(table, shown, max(size)).all()
    assert table["Interpolated"].to_numpy().tolist() == repeats.tolist()
