"""`prepare video`: a labelled video becomes a clip that validates cleanly."""

import cv2
import numpy as np
import pytest

from tests.conftest import draw_ball, fixture_path
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.datasets.validate import validate_tracknet
from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.datasets.video_clip import video_to_clip
from tracknet_cli.errors import DataError

SIZE = (1280, 720)


def write_video(path, frames, labels=None):
    codec = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 30.0, SIZE)
    for index in range(frames):
        image = np.full((SIZE[1], SIZE[0], 3), 60, np.uint8)
        if labels is not None and index < len(labels) and labels.loc[index, "visibility"]:
            draw_ball(image, labels.loc[index, "x"], labels.loc[index, "y"], 4)
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def badminton_labels(tmp_path):
    """The first 40 rows of a real shuttlecock trajectory."""
    lines = fixture_path("labels/badminton/match1_1_05_02_ball.csv").read_text().splitlines()[:41]
    path = tmp_path / "rally_ball.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_badminton_labels_to_clip(tmp_path, badminton_labels):
    labels = read_labels(badminton_labels)
    video = write_video(tmp_path / "rally.mp4", 30, labels)  # 10 labelled frames past its end
    out = tmp_path / "mine/game1/Clip1"
    result = video_to_clip(video, badminton_labels, out)
    assert result.frames_written == 30 and result.frames_in_video == 30
    assert any("does not hold" in w for w in result.warnings)
    assert sorted(p.name for p in out.glob("*.jpg")) == [f"{i:04d}.jpg" for i in range(30)]
    written = read_labels(out / "Label.csv")
    np.testing.assert_allclose(written[["x", "y"]].to_numpy(), labels[["x", "y"]].to_numpy()[:30])
    assert validate_tracknet(tmp_path / "mine", workers=1).defects == []
    assert not (tmp_path / "mine/game1/Clip1.partial").exists()


def test_truncated_video_keeps_what_decodes(tmp_path, badminton_labels):
    # AVI keeps its index optional, so a cut file still opens (an MP4 cut before its moov does not)
    video = write_video(tmp_path / "rally.avi", 40)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) * 2 // 3])
    with VideoReader(video) as reader:
        decodable = sum(1 for _ in reader)
    result = video_to_clip(video, badminton_labels, tmp_path / "out/game1/Clip1")
    assert 0 < result.frames_written == decodable < 40
    assert len(read_labels(tmp_path / "out/game1/Clip1/Label.csv")) == decodable


def test_refuses_bad_inputs(tmp_path, badminton_labels):
    with pytest.raises(DataError, match="does not exist"):
        video_to_clip(tmp_path / "nope.mp4", badminton_labels, tmp_path / "a")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    with pytest.raises(DataError, match="cannot be opened as a video"):
        video_to_clip(not_video, badminton_labels, tmp_path / "b")
    assert not (tmp_path / "a.partial").exists() and not (tmp_path / "b.partial").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="not empty"):
        video_to_clip(write_video(tmp_path / "v.mp4", 3), badminton_labels, full)
