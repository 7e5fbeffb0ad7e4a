"""Ball flights rendered into real footage: shots and clean plates, court calibration, composites.

Exactness is checked on videos the broadcast renderer draws, whose camera, background and ball are
known; the real clay fixture checks that a real broadcast shot gives a plate and a camera.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import fixture_path, label_errors
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.datasets.synthetic import SyntheticSpec, build_scene, render_frame
from tracknet_cli.datasets.synthetic.composite import (
    composite_scene,
    make_backdrop,
    nearest_surface,
)
from tracknet_cli.datasets.synthetic.court import SURFACES
from tracknet_cli.datasets.synthetic.court_calibration import (
    CourtCalibration,
    NoCourt,
    calibrate_court,
    court_colour,
    court_segments,
)
from tracknet_cli.datasets.synthetic.real_backgrounds import (
    BackgroundSpec,
    generate_background_dataset,
)
from tracknet_cli.datasets.synthetic.shots import Shot, find_shots
from tracknet_cli.errors import DataError

SIZE = (640, 360)  # big enough for the renderer's court lines to be a pixel or two wide
RENDERED = SyntheticSpec(frames_per_clip=30, width=SIZE[0], height=SIZE[1], seed=5)
TINY = BackgroundSpec(clips_per_shot=2, frames_per_clip=6, width=320, height=180, seed=2)


def write_video(path: Path, clips: list[tuple[int, int]], fps: float = 30.0) -> Path:
    """A video of the renderer's clips (game, clip), one after another: a hard cut between each.
    Lossless (FFV1), so that what a plate keeps is the plate's doing, not the codec's."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, SIZE)
    for game, clip in clips:
        scene = build_scene(RENDERED, game, clip)
        for frame in range(scene.frames):
            writer.write(render_frame(scene, frame)[0])
    writer.release()
    return path


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory) -> Path:
    """Two renderer clips of different venues, cut together."""
    return write_video(tmp_path_factory.mktemp("video") / "two_shots.avi", [(1, 1), (2, 1)])


def corner_error(camera, truth) -> float:
    """The largest distance (px) between where two cameras put the court's line ends."""
    ends = court_segments().reshape(-1, 2)
    ground = np.c_[ends, np.zeros(len(ends))]
    return float(np.linalg.norm(camera.project(ground)[0] - truth.project(ground)[0],
                                axis=1).max())


def test_a_cut_splits_the_video_into_shots(two_shots):
    shots = list(find_shots(two_shots, rate=30.0))
    assert [shot.index for shot in shots] == [0, 1]
    assert shots[0].start == 0 and shots[0].end == 29  # the cut is between frames 29 and 30
    assert shots[1].start == 30 and shots[1].end == 59
    assert all(shot.problem == "" and shot.plate.shape == (SIZE[1], SIZE[0], 3) for shot in shots)
    assert all(shot.motion < 0.1 for shot in shots)  # the renderer's camera stands still


def test_plate_is_the_background_without_the_ball(two_shots):
    """Where the ball or a player passes (anything covering a pixel on under half the frames),
    the plate shows the background as well as elsewhere; where the ball flew, clear of the
    players, not a trace of it is left."""
    shot = next(find_shots(two_shots, rate=30.0))
    scene = build_scene(RENDERED, 1, 1)
    difference = np.abs(shot.plate.astype(int) - scene.background).max(axis=2)

    def covered(draw_ball: bool) -> np.ndarray:  # share of frames something covers each pixel
        return np.mean([np.abs(render_frame(scene, frame, noise=False, draw_ball=draw_ball)[0]
                               .astype(int) - scene.background).max(axis=2) > 40
                        for frame in range(scene.frames)], axis=0)

    anything, players = covered(True), covered(False)
    passing = (anything > 0) & (anything < 0.5)
    assert passing.sum() > 1000
    assert difference[passing].mean() < difference[anything == 0].mean() + 1
    balls = 0
    for frame in range(scene.frames):
        label = render_frame(scene, frame, noise=False)[1]
        x, y = (int(round(label.x)), int(round(label.y))) if label.visibility == 1 else (0, 0)
        around = np.s_[y - 2:y + 3, x - 2:x + 3]
        if label.visibility == 1 and players[around].max() == 0:
            # the ball is 90-140 grey levels off the court and boards
            assert difference[around].max() < 15, label
            balls += 1
    assert balls >= 15
    assert np.median(difference) <= 2  # the sensor noise is averaged away...
    noise = np.std(render_frame(scene, 0)[0].astype(float) - render_frame(scene, 0, noise=False)[0])
    assert shot.noise == pytest.approx(noise, rel=0.25)  # ...and measured
    assert shot.quality >= 90  # no block artefacts


@pytest.mark.parametrize("game", [1, 2, 3, 4])  # the four surfaces, each with its own framing
def test_calibration_recovers_the_renderer_camera(game):
    scene = build_scene(RENDERED, game, 1)
    found = calibrate_court(scene.background)
    assert isinstance(found, CourtCalibration), found
    assert corner_error(found.camera, scene.camera) < 1.5
    assert found.camera.focal == pytest.approx(scene.camera.focal, rel=0.02)
    assert np.linalg.norm(found.camera.position - scene.camera.position) < 0.5  # metres
    assert found.rms < 1.0 and found.max_error < 2.0
    surface = SURFACES[(RENDERED.seed + game - 1) % len(SURFACES)]  # as scene.py takes turns
    assert nearest_surface(court_colour(scene.background, found.camera)).name == surface.name


def test_no_court_no_calibration():
    scene = build_scene(RENDERED, 1, 1)
    stands = cv2.resize(scene.background[:40], SIZE)  # the crowd and the wall, blown up
    flat = np.full((SIZE[1], SIZE[0], 3), (60, 110, 170), np.uint8)
    for image in (stands, flat):
        found = calibrate_court(image)
        assert isinstance(found, NoCourt) and found.reason


@pytest.fixture(scope="module")
def rendered_shot() -> tuple[Shot, CourtCalibration, object]:
    """The renderer's background as if it were a shot's plate (640x360), its calibration, and
    the renderer's camera."""
    scene = build_scene(RENDERED, 2, 1)
    shot = Shot(video=Path("rendered.avi"), index=0, start=0, end=29, fps=30.0, reference=0,
                scale=1.0, plate=scene.background, noise=1.0, quality=85, motion=0.0, samples=30)
    return shot, calibrate_court(scene.background), scene.camera


@pytest.mark.parametrize("size, source", [((320, 180), (320, 180)), ((1280, 720), (640, 360)),
                                          ((480, 360), (480, 360))])
def test_backdrop_scales_plate_and_camera_together(rendered_shot, size, source):
    """Shrunk to the output, or rendered at the plate's resolution and scaled up last; cut about
    the centre to the output's shape (4:3 here), where the principal point stays."""
    shot, found, truth = rendered_shot
    made = make_backdrop(shot, found, *size)
    assert made.source == source and made.plate.shape == (source[1], source[0], 3)
    scale = source[1] / 360
    moved = dataclasses.replace(truth, focal=truth.focal * scale, width=source[0],
                                height=source[1])
    assert corner_error(made.camera, moved) < 1.5 * max(scale, 1)
    crossing = moved.project(np.array([[0.0, -6.4, 0.0]]))[0][0]  # the near T, drawn white
    x, y = np.rint(crossing).astype(int)
    assert made.plate[y, x].min() > 170  # grass green has a channel at 70


@pytest.mark.parametrize("size, shake", [((320, 180), 0.0), ((320, 180), 1.5),
                                         ((1280, 720), 0.0)])
def test_composited_ball_centroid_is_its_label(rendered_shot, size, shake):
    """With noise (and compression) off and no players, the ball drawn over the plate has its
    intensity-weighted centre on its label, through the shake's warp and the scaling up."""
    made = dataclasses.replace(make_backdrop(*rendered_shot[:2], *size), shake=shake)
    checked = []
    for clip in (1, 2, 3):
        checked += label_errors(composite_scene(made, 40, players=False, seed=0, game=1, clip=clip))
    assert len(checked) >= 20
    assert max(checked) < 0.5 * size[0] / 320, max(checked)  # half a pixel of the rendering


def test_dataset_layout_labels_and_determinism(two_shots, tmp_path):
    calls: list[int] = []
    summary = generate_background_dataset(tmp_path / "one", [two_shots], TINY, workers=1,
                                          progress=calls.append)
    assert summary.shots == [f"two_shots.avi shot {n} (frames {a}-{b})"
                             for n, a, b in ((1, 0, 27), (2, 30, 57))]  # sampled every 3rd
    assert (summary.frames, summary.clips, sum(calls)) == (24, 4, 24)
    out = tmp_path / "one"
    clips = sorted(out.glob("game*/Clip*"))
    assert [p.relative_to(out).as_posix() for p in clips] == [
        "game1/Clip1", "game1/Clip2", "game2/Clip1", "game2/Clip2"]
    for clip in clips:
        table = read_labels(clip / "Label.csv")
        assert table["file"].tolist() == [f"{i:04d}.jpg" for i in range(6)]
        assert cv2.imread(str(clip / "0000.jpg")).shape == (180, 320, 3)
        seen = table[table["visibility"] > 0]
        assert seen["x"].between(0, 319).all() and seen["y"].between(0, 179).all()
    generate_background_dataset(tmp_path / "two", [two_shots], TINY, workers=2)
    for path in sorted(out.rglob("*.*")):
        assert (tmp_path / "two" / path.relative_to(out)).read_bytes() == path.read_bytes()


def test_errors_name_the_file_and_the_skipped_shots(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(DataError, match="broken.mp4"):
        generate_background_dataset(tmp_path / "out", [broken], TINY, workers=1)
    crowd = tmp_path / "crowd.mp4"
    writer = cv2.VideoWriter(str(crowd), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, SIZE)
    stands = cv2.resize(build_scene(RENDERED, 1, 1).background[:40], SIZE)
    for _ in range(30):
        writer.write(stands)
    writer.release()
    with pytest.raises(DataError, match=r"no shot of crowd.mp4 shows a court.*crowd.mp4 shot 1"):
        generate_background_dataset(tmp_path / "out", [crowd], TINY, workers=1)


@pytest.mark.parametrize("change, message", [
    ({"clips_per_shot": 0}, "clips_per_shot"),
    ({"frames_per_clip": 1.5}, "frames_per_clip"),
    ({"width": 321}, "width"),
    ({"height": 10}, "height"),
    ({"seed": -1}, "seed"),
    ({"jpeg_quality": 0}, "jpeg_quality"),
    ({"players": "yes"}, "players"),
    ({"plate_samples": 2}, "plate_samples"),
])
def test_rejects_bad_specs(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        generate_background_dataset(tmp_path / "bad", ["any.mp4"],
                                    dataclasses.replace(TINY, **change))
    assert not (tmp_path / "bad").exists()


def test_real_clay_shot_gives_a_plate_and_a_camera():
    video = fixture_path("videos/tennis_broadcast_clay2_1080p.mp4")
    shots = list(find_shots(video, samples=16))
    assert len(shots) == 1 and shots[0].problem == ""
    found = calibrate_court(shots[0].plate)
    assert isinstance(found, CourtCalibration), found
    assert found.rms < 1.5
    x, y, z = found.camera.position
    assert abs(x) < 2 and -40 < y < -20 and 5 < z < 15  # high behind the near baseline


def test_prepare_synthetic_adds_the_real_shots_after_the_synthetic_games(two_shots, tmp_path, monkeypatch):
    """`prepare synthetic --backgrounds`: one dataset, synthetic games first, then a game per
    usable shot, indexed together; a folder stands for the videos in it."""
    from typer.testing import CliRunner

    from tracknet_cli.cli.app import app
    from tracknet_cli.datasets.index import DatasetIndex

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["prepare", "synthetic", "--out", "mixed", "--games", "2", "--clips", "1",
                                      "--frames", "6", "--width", "320", "--height", "180", "--workers", "1",
                                      "--backgrounds", str(two_shots.parent), "--background-clips", "1"])
    assert result.exit_code == 0, result.output
    assert "into 2 real shots" in " ".join(result.output.split())
    index = DatasetIndex.load(tmp_path / "mixed")
    assert index.clip_ids() == ["game1/Clip1", "game2/Clip1", "game3/Clip1", "game4/Clip1"]
    assert len(index.frames) == 4 * 6
