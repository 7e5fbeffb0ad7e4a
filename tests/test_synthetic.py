"""The synthetic data generator: layout, labels, determinism, label accuracy, video, refusals."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import label_errors
from tracknet_cli.datasets.labels import LABEL_COLUMNS, TENNIS_HEADER, read_labels
from tracknet_cli.datasets.synthetic import (
    SyntheticSpec,
    build_scene,
    generate_synthetic_dataset,
)
from tracknet_cli.errors import DataError

TINY = SyntheticSpec(games=1, clips_per_game=2, frames_per_clip=24, width=320, height=180, seed=3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, object, list[int]]:
    """The tiny dataset rendered in-process, with what its progress callback was told."""
    out = tmp_path_factory.mktemp("synthetic") / "tiny"
    calls: list[int] = []
    summary = generate_synthetic_dataset(out, TINY, workers=1, progress=calls.append)
    return out, summary, calls


def clip_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("game*/Clip*/"))


def test_layout_and_file_counts(tiny):
    out, summary, calls = tiny
    assert sorted(p.name for p in out.iterdir()) == ["game1"]
    assert sorted(p.name for p in (out / "game1").iterdir()) == ["Clip1", "Clip1.mp4", "Clip2",
                                                                  "Clip2.mp4"]
    for clip in clip_dirs(out):
        frames = sorted(clip.glob("*.jpg"))
        assert [p.name for p in frames] == [f"{i:04d}.jpg" for i in range(24)]
        assert sorted(p.name for p in clip.iterdir()) == [p.name for p in frames] + ["Label.csv"]
        assert cv2.imread(str(frames[0])).shape == (180, 320, 3)
    assert (summary.frames, summary.clips) == (48, 2)
    assert sum(summary.visibility.values()) == 48
    assert sum(calls) == 48


def test_labels_read_back_in_tennis_format(tiny):
    out, summary, _ = tiny
    visibility = np.zeros(4, int)
    for clip in clip_dirs(out):
        path = clip / "Label.csv"
        assert path.read_text().splitlines()[0] == ",".join(TENNIS_HEADER)
        table = read_labels(path)
        assert list(table.columns[: len(LABEL_COLUMNS)]) == LABEL_COLUMNS
        assert table["frame"].tolist() == list(range(24))
        assert table["file"].tolist() == [f"{i:04d}.jpg" for i in range(24)]
        hidden = table["visibility"] == 0
        assert table.loc[hidden, ["x", "y"]].isna().all().all()
        seen = table[~hidden]
        assert seen[["x", "y"]].notna().all().all()
        assert seen["x"].between(0, 319).all() and seen["y"].between(0, 179).all()
        assert seen["status"].isin([0, 1, 2]).all()
        visibility += np.bincount(table["visibility"], minlength=4)
    assert visibility.tolist() == [summary.visibility[code] for code in range(4)]


def test_same_seed_same_bytes_in_parallel_other_seed_differs(tiny, tmp_path):
    out, _, _ = tiny
    calls: list[int] = []
    generate_synthetic_dataset(tmp_path / "again", TINY, workers=2, progress=calls.append)
    assert sum(calls) == 48
    for clip in clip_dirs(out):
        twin = tmp_path / "again" / clip.relative_to(out)
        for path in sorted(clip.iterdir()):
            assert (twin / path.name).read_bytes() == path.read_bytes(), path.name

    generate_synthetic_dataset(tmp_path / "other", dataclasses.replace(TINY, seed=4), workers=1)
    for clip in clip_dirs(out):
        other = tmp_path / "other" / clip.relative_to(out)
        assert (other / "Label.csv").read_bytes() != (clip / "Label.csv").read_bytes()
        assert (other / "0000.jpg").read_bytes() != (clip / "0000.jpg").read_bytes()


def test_every_visibility_and_status_code_appears(tmp_path):
    # 640x360: at 320x180 the ball's 3 px minimum makes heavy blur (visibility 2) very rare.
    spec = SyntheticSpec(games=1, clips_per_game=4, frames_per_clip=150, width=640, height=360,
                         seed=0)
    summary = generate_synthetic_dataset(tmp_path / "codes", spec, workers=1)
    assert all(summary.visibility[code] > 0 for code in range(4)), summary.visibility
    assert all(summary.status[code] > 0 for code in range(3)), summary.status


def test_label_is_the_centroid_of_the_rendered_ball():
    """On easy frames the intensity-weighted centre of the drawn ball is the label, to well under
    half a pixel. The ball is measured as drawn on that frame with noise off, but on a flat
    background without players, so that neither lines and logos under it nor a racket over it
    weigh on the measurement."""
    spec = SyntheticSpec(frames_per_clip=60, width=640, height=360, seed=1)
    checked = []
    for clip in (1, 2):
        scene = build_scene(spec, 1, clip)
        checked += label_errors(scene, dataclasses.replace(scene, players=(),
                                                           background=np.full_like(scene.background, 60)))
    assert len(checked) >= 20
    assert max(checked) < 0.1, max(checked)  # the analytic streak is exact; 0.5 px would do


def test_mp4_matches_the_frames(tiny):
    out, _, _ = tiny
    capture = cv2.VideoCapture(str(out / "game1" / "Clip1.mp4"))
    try:
        assert capture.isOpened()
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
        frames = []
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(image)
    finally:
        capture.release()
    assert len(frames) == 24
    assert frames[0].shape == (180, 320, 3)
    jpeg = cv2.imread(str(out / "game1" / "Clip1" / "0000.jpg"))
    assert np.abs(frames[0].astype(int) - jpeg).mean() < 10  # the same picture, both lossy


def test_refuses_to_overwrite_unless_asked(tmp_path):
    spec = dataclasses.replace(TINY, clips_per_game=1, frames_per_clip=2)
    out = tmp_path / "data"
    (out / "game7" / "Clip1").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="overwrite"):
        generate_synthetic_dataset(out, spec, workers=1)
    generate_synthetic_dataset(out, spec, workers=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["game1", "notes.txt"]
    with pytest.raises(DataError, match="already holds a dataset"):
        generate_synthetic_dataset(out, spec, workers=1)


@pytest.mark.parametrize("change, message", [
    ({"games": 0}, "games"),
    ({"frames_per_clip": -1}, "frames_per_clip"),
    ({"width": 321}, "width"),
    ({"height": 0}, "height"),
    ({"fps": 0.0}, "fps"),
    ({"fps": float("nan")}, "fps"),
    ({"seed": -1}, "seed"),
    ({"jpeg_quality": 101}, "jpeg_quality"),
])
def test_rejects_bad_specs(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        generate_synthetic_dataset(tmp_path / "bad", dataclasses.replace(TINY, **change))
    assert not (tmp_path / "bad").exists()


def test_rejects_bad_worker_count(tmp_path):
    with pytest.raises(DataError, match="workers"):
        generate_synthetic_dataset(tmp_path / "bad", TINY, workers=0)
