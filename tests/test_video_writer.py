"""MP4 writing: H.264 through ffmpeg that browsers play, the mp4v fallback said by name, errors that
leave nothing behind."""

import re
import subprocess

import cv2
import numpy as np
import pytest

from tracknet_cli.datasets.video_writer import (
    FFMPEG_ENV,
    H264,
    MP4V,
    MP4V_NOTE,
    find_ffmpeg,
    overlay_label,
    video_writer,
)
from tracknet_cli.errors import TracknetError

pytestmark = pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg (imageio-ffmpeg is a dependency)")


def frames(count, width=160, height=96):
    """Frames whose content says their index: a bright square moving right on a dark gradient."""
    out = []
    for i in range(count):
        frame = np.tile(np.linspace(20, 80, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
        frame[30:60, 10 + 4 * i:40 + 4 * i] = (40, 200, 240)
        out.append(frame)
    return out


def stream_info(path):
    """ffmpeg's description of the file's video stream, read from the stream itself."""
    probe = subprocess.run([find_ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return next(line for line in probe.stderr.splitlines() if "Video:" in line)


def test_h264_that_browsers_play(tmp_path):
    path = tmp_path / "out.mp4"
    written = frames(20)
    with video_writer(path, 30000 / 1001, (160, 96)) as writer:
        assert writer.codec == H264
        for frame in written:
            writer.write(frame)
    stream = stream_info(path)
    assert "h264" in stream and "yuv420p" in stream and "160x96" in stream and "29.97 fps" in stream
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable before it has all arrived
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while (ok_frame := capture.read())[0]:
        decoded.append(ok_frame[1])
    assert len(decoded) == 20
    error = np.abs(np.stack(decoded).astype(int) - np.stack(written).astype(int)).mean()
    assert error < 4  # lossy, but the same pictures in the same order
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_odd_sizes_are_padded_to_even_for_420_chroma(tmp_path):
    path = tmp_path / "odd.mp4"
    with video_writer(path, 25.0, (161, 91)) as writer:
        for frame in frames(3, 161, 91):
            writer.write(frame)
    assert re.search(r"\b162x92\b", stream_info(path))


def test_without_ffmpeg_the_mp4v_fallback_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(FFMPEG_ENV, "none")
    path = tmp_path / "fallback.mp4"
    with video_writer(path, 30.0, (160, 96)) as writer:
        assert writer.codec == MP4V
        for frame in frames(5):
            writer.write(frame)
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT) == 5
    assert overlay_label(MP4V) == f"overlay ({MP4V_NOTE})" and "browsers" in MP4V_NOTE
    assert overlay_label(H264) == "overlay"


def test_a_failing_encoder_is_named_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(FFMPEG_ENV, "false")  # a program that exits 1 at once
    with pytest.raises(TracknetError, match=r"ffmpeg .*out\.mp4|cannot run ffmpeg"):
        with video_writer(tmp_path / "out.mp4", 30.0, (160, 96)) as writer:
            for frame in frames(200):
                writer.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_an_error_while_writing_leaves_nothing(tmp_path):
    with pytest.raises(TracknetError, match="expected"):
        with video_writer(tmp_path / "out.mp4", 30.0, (160, 96)) as writer:
            writer.write(frames(1)[0])
            writer.write(np.zeros((10, 10, 3), np.uint8))  # not the declared size
    assert list(tmp_path.iterdir()) == []
