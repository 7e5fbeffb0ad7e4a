"""Synthetic presets and the realworld renderer: the broadcast preset unchanged, determinism, labels
exactly on the drawn ball from every camera placement (with shake and a low-resolution source),
balls not in play drawn but never labelled, dead time labelled 0, streaks as long as the shutter
and frame rate make them, presets and options checked by key."""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import ball_difference, label_errors, weighted_centre
from tracknet_cli.cli.app import app
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.datasets.synthetic import (
    SyntheticSpec,
    Variation,
    build_scene,
    generate_synthetic_dataset,
    load_preset,
    render_frame,
)
from tracknet_cli.datasets.synthetic.trajectory import BallTrack
from tracknet_cli.datasets.synthetic.variation import PLACEMENTS
from tracknet_cli.errors import ConfigError, DataError

# Recorded from the renderer before presets existed: `--preset broadcast` must not change a byte.
BROADCAST_RAW_SHA256 = "17ebc777fd599c1da3d05485071dd865e70962e07b68fb7d2c5081cb862aa601"
BROADCAST_FILES_SHA256 = "432a278b823573e14ec6a79bb8a377f4426326a08d517680502506898e221057"
# Lively test scenes: short breaks between points, clips starting early in the match, and (with
# QUICK_SERVE) a server who tosses without bouncing the ball first.
LIVELY = {"pause": (0.5, 1.5), "lead": (0.0, 3.0)}
QUICK_SERVE = {"bounces": (0, 0), "caught_toss": 0.0}
SHUTTERS = (0.02, 0.5, 1.0)  # shares of the frame interval; the first stands for a still ball


def realworld(**sizes) -> SyntheticSpec:
    return dataclasses.replace(load_preset("realworld"), **sizes)


def varied(seed: int = 1, frames: int = 60, width: int = 640, height: int = 360,
           **variation) -> SyntheticSpec:
    """A spec with the realworld defaults but the given variation keys."""
    changes = dataclasses.replace(load_preset("realworld").variation, **variation)
    return SyntheticSpec(frames_per_clip=frames, width=width, height=height, seed=seed,
                         variation=changes)


def bare(scene):
    """The scene on a flat background, without players or spare balls: what is left of a drawn
    frame minus the same frame without the ball is the ball alone."""
    return dataclasses.replace(scene, players=(), still_balls=(),
                               background=np.full_like(scene.background, 60))


def same(label, other) -> bool:
    """Labels equal, NaN coordinates included."""
    return np.array_equal(dataclasses.astuple(label), dataclasses.astuple(other), equal_nan=True)


# ---------------------------------------------------------------------------------- presets
def test_broadcast_preset_renders_exactly_what_it_did_before(tmp_path):
    spec = load_preset("broadcast")
    assert spec == SyntheticSpec()
    raw = hashlib.sha256()
    small = dataclasses.replace(spec, frames_per_clip=40, width=320, height=180, seed=7)
    for game, clip in ((1, 1), (2, 3), (4, 2)):
        scene = build_scene(small, game, clip)
        for frame in (0, 13, 39):
            image, label = render_frame(scene, frame)
            raw.update(image.tobytes())
            raw.update(repr(label).encode())
    assert raw.hexdigest() == BROADCAST_RAW_SHA256

    files = hashlib.sha256()
    generate_synthetic_dataset(tmp_path / "d", dataclasses.replace(
        spec, games=2, clips_per_game=1, frames_per_clip=12, width=320, height=180, seed=5),
        workers=1)
    for path in sorted((tmp_path / "d").glob("game*/Clip*/*")):
        files.update(path.name.encode())
        files.update(path.read_bytes())
    assert files.hexdigest() == BROADCAST_FILES_SHA256


@pytest.mark.parametrize("text, error, message", [
    ("gmaes: 2\n", ConfigError, "unknown key 'gmaes'.*did you mean 'games'"),
    ("variation:\n  camras: {side: 1}\n", ConfigError, "'variation.camras'.*'variation.cameras'"),
    ("variation:\n  cameras: {sid: 1}\n", DataError, "variation.cameras.sid: unknown"),
    ("variation:\n  zoom: [2, 1]\n", DataError, "variation.zoom"),
    ("variation:\n  frame_rates: [5]\n", DataError, "variation.frame_rates"),
    ("variation:\n  doubles: 2\n", DataError, "variation.doubles"),
    ("variation:\n  surfaces: {clay: 0}\n", DataError, "variation.surfaces"),
    ("width: 321\n", DataError, "width"),
    ("variation: 3\n", ConfigError, "variation must be a mapping"),
])
def test_a_preset_is_checked_key_by_key_and_errors_name_the_file(tmp_path, text, error, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(error, match=message) as caught:
        load_preset(path)
    assert "mine.yaml" in str(caught.value)


def test_the_realworld_preset_spells_out_the_variation_defaults():
    spec = load_preset("realworld")
    assert spec.variation == Variation()
    assert (spec.width, spec.height) == (1280, 720)


def test_an_unknown_preset_name_is_refused_with_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'realworld'"):
        load_preset("realwrld")


def test_the_command_line_overrides_the_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rw"
    result = CliRunner().invoke(app, [
        "prepare", "synthetic", "--preset", "realworld", "--games", "1", "--clips", "1",
        "--frames", "3", "--width", "160", "--height", "90", "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frames = sorted((out / "game1" / "Clip1").glob("*.jpg"))
    assert len(frames) == 3 and cv2.imread(str(frames[0])).shape == (90, 160, 3)
    assert len(read_labels(out / "game1" / "Clip1" / "Label.csv")) == 3
    video = cv2.VideoCapture(str(out / "game1" / "Clip1.mp4"))
    try:  # the game's own frame rate, from the preset's frame_rates
        assert round(video.get(cv2.CAP_PROP_FPS)) in (25, 30, 50, 60)
    finally:
        video.release()
    refused = CliRunner().invoke(app, ["prepare", "synthetic", "--task", "refdet", "--preset",
                                       "realworld"])
    assert refused.exit_code != 0 and "--preset is for --task ball" in refused.output


# ------------------------------------------------------------------------------ determinism
def test_realworld_same_seed_same_bytes_in_any_process_other_seed_differs(tmp_path):
    """Clips rendered by worker processes, in whatever order, are the frames and labels this
    process renders for the same (seed, game, clip); another seed renders another picture."""
    spec = realworld(games=2, clips_per_game=1, frames_per_clip=3, width=320, height=180, seed=3)
    generate_synthetic_dataset(tmp_path / "rw", spec, workers=2)
    for game in (2, 1):
        scene = build_scene(spec, game, 1)
        other = build_scene(dataclasses.replace(spec, seed=4), game, 1)
        labels = read_labels(tmp_path / "rw" / f"game{game}" / "Clip1" / "Label.csv")
        for frame in range(spec.frames_per_clip):
            image, label = render_frame(scene, frame)
            jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])[1]
            path = tmp_path / "rw" / f"game{game}" / "Clip1" / f"{frame:04d}.jpg"
            assert path.read_bytes() == jpeg.tobytes()
            assert labels.loc[frame, "visibility"] == label.visibility
            assert not np.array_equal(render_frame(other, frame)[0], image)


def test_every_clip_of_a_game_is_played_on_the_same_court_and_frame_rate():
    spec = realworld(games=2, clips_per_game=3, frames_per_clip=2, width=160, height=90)
    for game in (1, 2):
        scenes = [build_scene(spec, game, clip) for clip in (1, 2, 3)]
        assert len({scene.fps for scene in scenes}) == 1
        assert len({scene.lighting.kind for scene in scenes}) == 1


# ---------------------------------------------------------------------------------- labels
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_label_is_where_the_ball_is_drawn_from_every_placement_with_shake_and_resize(placement):
    """A 640x360 output from a 200-line source (drawn at 356x200 and scaled up 1.8x), the camera
    shaking and drifting: on easy flying frames the centroid of what the ball adds to the frame is
    the label. No fence: its mesh would weigh on the measurement, not on the label."""
    spec = varied(seed=5, cameras={placement: 1.0}, shake=(1.5, 1.5), pan=(0.02, 0.02),
                  fence=0.0, source_height=(200, 200), **LIVELY, **QUICK_SERVE)
    checked = []
    for clip in (1, 2, 3, 4):
        scene = build_scene(spec, 1, clip)
        assert scene.finish.source == (356, 200) and scene.finish.warps is not None
        checked += label_errors(scene, bare(scene), limit=8 - len(checked))
    assert len(checked) >= 4, placement
    assert max(checked) < 0.3, checked


def test_balls_not_in_play_are_drawn_but_never_labelled():
    """Balls on the ground, in pockets and hands and with ball kids change the pixels where they
    are and not one label; with no ball in play at all every frame is labelled 0."""
    spec = varied(seed=2, frames=30, ground_balls=(3, 3), pocket_balls=1.0, hand_balls=1.0,
                  ball_kids=1.0, shake=(0.0, 0.0), pan=(0.0, 0.0), **LIVELY)
    scene = build_scene(spec, 1, 1)
    assert len(scene.still_balls) >= 5
    plain = dataclasses.replace(scene, still_balls=())
    no_ball = dataclasses.replace(scene, ball=BallTrack.empty(scene.frames))
    no_ball_plain = dataclasses.replace(no_ball, still_balls=())
    seen = 0
    for frame in range(0, scene.frames, 5):
        with_spares, label = render_frame(scene, frame, noise=False)
        assert same(render_frame(plain, frame, noise=False)[1], label)
        image, empty_label = render_frame(no_ball, frame, noise=False)
        assert empty_label.visibility == 0 and np.isnan(empty_label.x)
        changed = np.abs(image.astype(int) - render_frame(no_ball_plain, frame, noise=False)[0])
        for spare in scene.still_balls:
            position = spare.position[frame]
            if np.isnan(position[0]):
                continue
            (uv,), (depth,) = scene.camera.project(position[None])
            x, y = np.rint(scene.finish.place(frame, uv)).astype(int)
            if depth > 0 and 2 <= x < spec.width - 2 and 2 <= y < spec.height - 2:
                seen += changed[y - 2:y + 3, x - 2:x + 3].max() > 30  # a ball there, maybe hidden
    assert seen >= 5


def test_dead_time_is_labelled_zero_though_the_ball_is_in_the_picture():
    """The server's bounces and a caught toss are drawn and labelled 0; a toss that is hit is in
    play from the frame it leaves the hand."""
    spec = varied(seed=5, frames=240, width=320, height=180, caught_toss=1.0, bounces=(2, 2),
                  cameras={"broadcast": 1.0}, zoom=(0.9, 0.9), shake=(0.0, 0.0), pan=(0.0, 0.0),
                  **LIVELY)
    dead_drawn = 0
    for clip in (1, 2):
        scene = build_scene(spec, 1, clip)
        ball = scene.ball
        drawn = ~np.isnan(ball.position[:, 0])
        for frame in np.flatnonzero(drawn & ~ball.in_play):
            _, label = render_frame(scene, frame, noise=False)
            assert label.visibility == 0 and np.isnan(label.x), frame
            dead_drawn += ball_difference(bare(scene), frame).max() > 30
        for hit in ball.hits:
            if not hit.serve or hit.ready is None or hit.ready < 0:
                continue
            routine = ball.in_play[hit.ready:hit.frame + 1]
            toss = int(np.argmax(routine))  # the first frame in play: the toss leaves the hand
            assert not routine[:toss].any() and routine[toss:].all()
            assert ball.velocity_out[hit.ready + toss, 2] > 5.0  # going up, fast
    assert dead_drawn >= 20


def test_the_preset_mixes_live_play_and_dead_time_like_broadcast_footage():
    spec = realworld(width=64, height=36)
    live = total = 0
    for game in range(1, spec.games + 1):
        for clip in range(1, spec.clips_per_game + 1):
            ball = build_scene(spec, game, clip).ball
            live += (~np.isnan(ball.position[:, 0]) & ball.in_play).sum()
            total += len(ball)
    assert 0.5 <= live / total <= 0.7, live / total


@pytest.mark.parametrize("fps", [25.0, 60.0])
def test_the_streak_is_as_long_as_the_ball_moves_while_the_shutter_is_open(fps):
    """The drawn streak's length (from the spread of the ball's pixels along its motion, less the
    disc's own) equals the image distance the ball covers in shutter/fps seconds, that distance
    taken from the trajectory's frame-to-frame motion, not from the renderer's velocities."""
    spec = varied(seed=4, frames=80, width=640, height=360, frame_rates=(fps,),
                  cameras={"broadcast": 1.0}, shake=(0.0, 0.0), pan=(0.0, 0.0),
                  source_height=(360, 360), **LIVELY, **QUICK_SERVE)
    scene = build_scene(spec, 1, 1)
    assert scene.fps == fps and scene.finish.warps is None
    uv = scene.camera.project(scene.ball.position)[0]  # (n, 2), NaN without a ball
    checked = []
    for frame in range(1, scene.frames - 1):
        around = slice(frame - 1, frame + 2)  # free flight through the frame and both neighbours
        speeds = np.linalg.norm([scene.ball.velocity_in[around], scene.ball.velocity_out[around]],
                                axis=-1)
        if np.isnan(uv[around]).any() or scene.ball.status[around].any() or speeds.min() < 1.0:
            continue
        per_frame = np.linalg.norm(uv[frame + 1] - uv[frame - 1]) / 2  # pixels per frame
        if per_frame < 5:
            continue
        direction = (uv[frame + 1] - uv[frame - 1]) / (2 * per_frame)
        spread = {}
        for shutter in SHUTTERS:
            weight = ball_difference(bare(dataclasses.replace(scene, exposure=shutter)), frame)
            offsets = np.stack(np.indices(weight.shape)[::-1], axis=-1) - weighted_centre(weight)
            spread[shutter] = ((offsets @ direction) ** 2 * weight).sum() / weight.sum()
        for shutter in SHUTTERS[1:]:  # a uniform segment of length L adds L^2 / 12
            streak = np.sqrt(12 * (spread[shutter] - spread[SHUTTERS[0]]))
            checked.append(streak / (per_frame * np.sqrt(shutter**2 - SHUTTERS[0] ** 2)))
    assert len(checked) >= 10
    assert np.allclose(checked, 1.0, atol=0.1), checked


def test_realworld_players_wear_what_real_ones_do():
    """Socks, wristbands, caps and hands: small bright patches on people that are not the ball."""
    from tracknet_cli.datasets.synthetic.players import Look, dress

    looks = [dress(Look(shirt=(1, 2, 3), shorts=(4, 5, 6), skin=(7, 8, 9)), np.random.default_rng(i))
             for i in range(200)]
    assert all(look.hands and look.socks is not None for look in looks)
    assert 0.4 < np.mean([look.wristband is not None for look in looks]) < 0.8
    assert 0.2 < np.mean([look.cap is not None for look in looks]) < 0.6
    assert Look(shirt=(1, 2, 3), shorts=(4, 5, 6), skin=(7, 8, 9)).socks is None  # broadcast players stay as they were
