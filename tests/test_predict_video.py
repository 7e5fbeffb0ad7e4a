"""predict-video: letterboxing, windows, the pipeline on the real broadcast fixture, bad inputs."""

import itertools
import threading

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import fixture_path
from tracknet_cli.cli.app import app
from tracknet_cli.config import to_container
from tracknet_cli.datasets.video import VideoReader, prefetched
from tracknet_cli.datasets.video_writer import H264
from tracknet_cli.errors import ConfigError, DataError, TracknetError
from tracknet_cli.inference.predictor import Predictor
from tracknet_cli.inference.trajectory import TrajectoryConfig
from tracknet_cli.inference.video_prediction import (
    VideoOptions,
    _detect,
    _windows,
    detection_noise,
    predict_video,
    repeated_frames,
)
from tracknet_cli.model_input import Letterbox, SampleSpec
from tracknet_cli.tasks import build_model, load_config
from tracknet_cli.training.checkpoint import save_checkpoint

TINY = ["model.input_size=[128,72]", "model.heatmap.size=[64,36]", "model.decoder.lateral_dim=8",
        "model.head.channels=8"]
COLUMNS = ["Frame", "Visibility", "X", "Y", "Confidence", "Interpolated", "Event"]


@pytest.fixture(scope="module")
def tiny_predictor():
    cfg = load_config(model="fast_heatmap", overrides=TINY)
    return Predictor(build_model(cfg.model), SampleSpec.from_model_config(cfg.model), "cpu", threshold=0.0), cfg


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory, tiny_predictor):
    predictor, cfg = tiny_predictor
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    return save_checkpoint(path, model=predictor.model, config=to_container(cfg), epoch=1, step=1)


def write_video(path, frames, fps=25.0, codec="MJPG", size=(160, 120)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    for index in range(frames):
        frame = np.full((size[1], size[0], 3), 60, np.uint8)
        cv2.circle(frame, (10 + 5 * index, 40), 3, (0, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.parametrize("frame_size", [(640, 480), (1920, 1080), (300, 600)])
def test_letterbox_keeps_the_aspect_and_maps_back(frame_size):
    box = Letterbox.fit(frame_size, (512, 288))
    frame = np.zeros((frame_size[1], frame_size[0], 3), np.uint8)
    point = np.array([frame_size[0] * 0.3, frame_size[1] * 0.6])
    cv2.circle(frame, tuple(int(v) for v in point), max(4, frame_size[0] // 60), (255, 255, 255), -1)
    image = box.apply(frame)
    assert image.shape == (288, 512, 3)
    ys, xs = np.nonzero(image[..., 0] > 128)
    found = box.to_frame(np.array([xs.mean(), ys.mean()]))
    assert np.abs(found - point).max() < frame_size[0] / 100
    sx, sy = box.scaled_size
    assert abs(sx / sy - frame_size[0] / frame_size[1]) < 0.02  # not stretched
    if box.offset != (0, 0):  # bars are black
        assert image[:, : box.offset[0]].max(initial=0) == 0 and image[: box.offset[1]].max(initial=0) == 0


@pytest.mark.parametrize("count", [1, 2, 3, 7])
@pytest.mark.parametrize("length,outputs", [(3, 3), (3, 1)])
def test_windows_cover_every_frame_once(count, length, outputs):
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(count)]
    windows = list(_windows(iter(frames), length, outputs))
    covered = [i for _, indices in windows for i in indices]
    assert covered == list(range(count))
    for window, indices in windows:
        assert window.shape == (length, 2, 2, 3)
        # the frames a window stands for are its last ones, in order
        assert [int(f[0, 0, 0]) for f in window[-len(indices):]] == indices


def test_prefetched_keeps_order_and_raises_the_producers_error_after_its_items():
    def items():
        yield from range(50)  # more than the queue holds: the producer waits on the consumer
        raise ValueError("frame 50 is corrupt")

    seen = []
    with pytest.raises(ValueError, match="frame 50"):
        for item in prefetched(items(), depth=4):
            seen.append(item)
    assert seen == list(range(50))


def test_prefetched_stops_its_producer_when_the_consumer_stops_early():
    produced = itertools.count()
    stream = prefetched((next(produced) for _ in itertools.count()), depth=4)  # endless
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # what a `break` out of the loop does
    assert not any(t.name == "video-decoder" for t in threading.enumerate())
    assert next(produced) <= 3 + 4 + 2  # the items read, a full queue and the one in flight


def test_fixture_video_gives_93_rows_and_a_full_overlay(tiny_predictor, tmp_path):
    predictor, _ = tiny_predictor
    video = fixture_path("videos/tennis_broadcast_1080p.mp4")
    result = predict_video(video, predictor, tmp_path, VideoOptions(batch_size=4, overlay=True, plot=True))
    track = pd.read_csv(result.csv)
    assert list(track.columns) == COLUMNS and len(track) == 93 and track["Frame"].tolist() == list(range(93))
    assert set(track["Visibility"]) <= {0, 1} and set(track["Interpolated"]) <= {0, 1}
    events = pd.read_csv(result.events_csv)
    assert list(events.columns) == ["Frame", "Time", "Event", "X", "Y", "Confidence"]
    assert events["Frame"].tolist() == track.index[track["Event"].isin(["hit", "bounce"])].tolist()
    assert (result.hits, result.bounces) == ((events["Event"] == "hit").sum(), (events["Event"] == "bounce").sum())
    capture = cv2.VideoCapture(str(result.overlay))
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1920, 1080)
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0, abs=0.01)
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    assert decoded == 93
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode().lower()
    assert result.overlay_codec == H264 and fourcc in ("avc1", "h264")  # the stream, not the name
    assert result.plot.read_bytes()[:4] == b"\x89PNG"
    written = sorted(p.name for p in (result.csv, result.events_csv, result.overlay, result.plot, result.report))
    assert sorted(p.name for p in tmp_path.iterdir()) == written  # and no temporary files


class Brightest(torch.nn.Module):
    """A stand-in ball model that works at any input size: logits at stride 2 peaking where the
    frames are greenest (the drawn ball). Records the input sizes (H, W) it was given."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward(self, frames):  # [B, T, 3, H, W] -> [B, T, H/2, W/2]
        self.sizes.append(tuple(frames.shape[-2:]))
        return 40 * (torch.nn.functional.avg_pool2d(frames[:, :, 1], 2) - 0.5)


def test_a_ball_drawn_into_a_video_is_found_where_it_is(tmp_path):
    """A model that answers 'the brightest pixel' checks the coordinate chain end to end:
    heatmap -> model input -> letterbox -> video pixels, on a 4:3 video."""
    spec = SampleSpec(frames=3, output_frames=3, input_size=(128, 72), heatmap_size=(64, 36), mean=(0, 0, 0),
                      std=(1, 1, 1))
    video = write_video(tmp_path / "ball.avi", 9, size=(160, 120))
    result = predict_video(video, Predictor(Brightest(), spec, "cpu"), tmp_path / "out",
                           VideoOptions(batch_size=2))
    track = pd.read_csv(result.csv)
    assert track["Visibility"].all()
    expected_x = 10 + 5 * track["Frame"].to_numpy()
    assert np.abs(track["X"] - expected_x).max() < 3 and np.abs(track["Y"] - 40).max() < 3


def test_a_peak_on_the_letterbox_bars_is_no_ball(tmp_path):
    class PeakOnTheBar(torch.nn.Module):  # a 4:3 video in a 128x72 input: bars at x < 16 and x >= 112
        def forward(self, frames):  # [B, T, 3, H, W] -> logits [B, T, 36, 64], one peak at input (4, 36)
            logits = torch.full((*frames.shape[:2], 36, 64), -10.0)
            logits[..., 18, 2] = 10.0
            return logits

    spec = SampleSpec(frames=3, output_frames=3, input_size=(128, 72), heatmap_size=(64, 36), mean=(0, 0, 0),
                      std=(1, 1, 1))
    video = write_video(tmp_path / "ball.avi", 6, size=(160, 120))
    options = VideoOptions(trajectory=TrajectoryConfig(track=False, fill_gaps=False))
    track = pd.read_csv(predict_video(video, Predictor(PeakOnTheBar(), spec, "cpu"), tmp_path / "out", options).csv)
    assert len(track) == 6 and not track["Visibility"].any()


def test_a_larger_input_size_finds_the_ball_at_the_same_place(tmp_path):
    spec = SampleSpec(frames=3, output_frames=3, input_size=(128, 72), heatmap_size=(64, 36), mean=(0, 0, 0),
                      std=(1, 1, 1))
    video = write_video(tmp_path / "ball.avi", 8, size=(320, 180))
    options = VideoOptions(trajectory=TrajectoryConfig(track=False, fill_gaps=False))
    tracks = {}
    for size in ((128, 72), (256, 144)):
        model = Brightest()
        predictor = Predictor(model, spec.at_input_size(size), "cpu", threshold=0.5)
        tracks[size] = pd.read_csv(predict_video(video, predictor, tmp_path / str(size[0]), options).csv)
        assert set(model.sizes) == {(size[1], size[0])}  # the model ran at the asked size
        assert tracks[size]["Visibility"].all()
        expected_x = 10 + 5 * tracks[size]["Frame"].to_numpy()
        assert np.abs(tracks[size]["X"] - expected_x).max() < 3 and np.abs(tracks[size]["Y"] - 40).max() < 3


def test_an_input_size_off_the_heatmap_grid_is_refused():
    spec = SampleSpec(input_size=(512, 288), heatmap_size=(256, 144))
    assert spec.at_input_size((768, 432)).heatmap_size == (384, 216)
    with pytest.raises(ConfigError, match="input size 767x432: each side must be a multiple of 2"):
        spec.at_input_size((767, 432))


def test_repeated_frames_are_single_repeats_not_a_frozen_picture():
    unchanged = np.array([False, False, True, False, True, True, True, False])
    assert repeated_frames(unchanged).tolist() == [False, False, True, False, True, False, False, False]


def test_repeats_of_a_converted_video_are_found(tiny_predictor, tmp_path):
    predictor, _ = tiny_predictor
    shown = np.arange(12) * 25 // 30  # 25 fps footage in a 30 fps file: every sixth frame again
    path = tmp_path / "converted.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for footage_frame in shown:
        frame = np.full((120, 160, 3), 60, np.uint8)
        cv2.circle(frame, (10 + 8 * int(footage_frame), 40), 6, (0, 255, 255), -1)
        writer.write(frame)
    writer.release()
    with VideoReader(path) as reader:
        letterbox = Letterbox.fit((160, 120), predictor.spec.input_size)
        _, _, repeats = _detect(reader, letterbox, predictor, 4, None)
    assert repeats.tolist() == [False, *(np.diff(shown) == 0)]


def test_detection_noise_is_half_a_heatmap_pixel_of_the_video():
    spec = SampleSpec(input_size=(512, 288), heatmap_size=(256, 144))
    assert detection_noise(spec, Letterbox.fit((1920, 1080), (512, 288))) == pytest.approx(3.75 / 1920)
    assert detection_noise(spec, Letterbox.fit((640, 480), (512, 288))) == pytest.approx(0.5 * 2 * 480 / 288 / 640)


def test_late_fusion_runs_each_frames_backbone_once(tmp_path):
    cfg = load_config(model="fast_heatmap", overrides=TINY + ["model.fusion=late", "model.output_frames=1"])
    model = build_model(cfg.model)
    spec = SampleSpec.from_model_config(cfg.model)
    seen = []
    model.backbone.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    video = write_video(tmp_path / "ball.avi", 11, size=(256, 144))  # 16:9: no letterbox bars
    tracks = {}
    for reuse in (True, False):
        seen.clear()
        predictor = Predictor(model, spec, "cpu", threshold=0.0, reuse_frames=reuse)
        options = VideoOptions(batch_size=4, trajectory=TrajectoryConfig(track=False, fill_gaps=False))
        tracks[reuse] = pd.read_csv(predict_video(video, predictor, tmp_path / str(reuse), options).csv)
        assert sum(seen) == (11 if reuse else 11 * 3)  # backbone passes, counted in frames
    pd.testing.assert_frame_equal(tracks[True], tracks[False], atol=1e-3, rtol=0)
    assert tracks[True]["Visibility"].all()


def test_truncated_video_processes_what_decodes(tiny_predictor, tmp_path):
    predictor, _ = tiny_predictor
    video = write_video(tmp_path / "cut.avi", 30)
    data = video.read_bytes()
    video.write_bytes(data[: int(len(data) * 0.6)])
    result = predict_video(video, predictor, tmp_path / "out", VideoOptions(overlay=True))
    assert 0 < result.frames < 30 and result.truncated
    assert len(pd.read_csv(result.csv)) == result.frames
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary files


@pytest.mark.parametrize("kind,message", [
    ("missing", "does not exist"),
    ("not_a_video", "cannot be opened as a video"),
    ("empty", "cannot be opened as a video|no frame could be decoded"),
    ("cut_in_its_header", "cannot be opened as a video"),
    ("folder", "is a folder, not a video file"),
])
def test_bad_videos_are_named_and_leave_nothing(tiny_predictor, tmp_path, capfd, kind, message):
    predictor, _ = tiny_predictor
    path = tmp_path / f"{kind}.avi"
    if kind == "not_a_video":
        path.write_text("frame,x,y\n1,2,3\n")
    elif kind == "empty":
        write_video(path, 0)
    elif kind == "cut_in_its_header":
        path.write_bytes(write_video(path, 30).read_bytes()[:2000])  # OpenCV's own AVI parser would complain
    elif kind == "folder":
        path.mkdir()
    out = tmp_path / "out"
    with pytest.raises(DataError, match=message) as info:
        predict_video(path, predictor, out, VideoOptions(overlay=True, plot=True))
    assert path.name in str(info.value)
    assert not out.exists() or not list(out.iterdir())
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""  # the error is the only word about it


def test_cli_predict_video(tiny_weights, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    video = fixture_path("videos/tennis_broadcast_1080p.mp4")
    result = CliRunner().invoke(app, ["predict-video", str(video), "--weights", str(tiny_weights),
                                      "--max-gap", "3", "--no-track", "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    assert "frames with a ball" in result.output and "runs/predict/exp" in result.output
    assert len(pd.read_csv(tmp_path / "runs/predict/exp/tennis_broadcast_1080p_ball.csv")) == 93
    missing = CliRunner().invoke(app, ["predict-video", "nowhere.mp4", "--weights", str(tiny_weights)])
    assert missing.exit_code == 1 and "nowhere.mp4 does not exist" in str(missing.exception)
    assert sorted(p.name for p in (tmp_path / "runs/predict").iterdir()) == ["exp"]  # no empty run
    bigger = CliRunner().invoke(app, ["predict-video", str(video), "--weights", str(tiny_weights), "--name", "big",
                                      "--input-size", "256x144", "--no-report"])
    assert bigger.exit_code == 0, bigger.output
    assert len(pd.read_csv(tmp_path / "runs/predict/big/tennis_broadcast_1080p_ball.csv")) == 93
    off_grid = CliRunner().invoke(app, ["predict-video", str(video), "--weights", str(tiny_weights), "--name", "odd",
                                        "--input-size", "255x144"])
    assert off_grid.exit_code == 1 and "each side must be a multiple of 2" in str(off_grid.exception)
    assert not (tmp_path / "runs/predict/odd").exists()


def test_several_videos_and_a_folder_go_into_one_run_with_one_progress_total(tiny_weights, tmp_path, monkeypatch):
    from tracknet_cli.commands.predict import predict_video as run

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "more"
    folder.mkdir()
    first = write_video(tmp_path / "first.avi", 9)
    write_video(folder / "b.avi", 7)
    write_video(folder / "a.avi", 5)
    (folder / "notes.txt").write_text("not a video")
    totals, steps = [], []
    done = run([first, folder], tiny_weights, "cpu", VideoOptions(overlay=True, report=False), name="multi",
               on_start=totals.append, progress=steps.append)
    assert [r.info.path.name for r in done.results] == ["first.avi", "a.avi", "b.avi"]
    assert [r.frames for r in done.results] == [9, 5, 7]
    assert totals[-1] == sum(steps) == 2 * (9 + 5 + 7)  # decoded twice with an overlay; exact at the end
    assert totals[0] == totals[-1]  # known from the headers before any work
    assert sorted(p.name for p in done.run_dir.iterdir()) == sorted(
        f"{stem}_{kind}" for stem in ("first", "a", "b") for kind in ("ball.csv", "events.csv", "overlay.mp4"))
    shown = CliRunner().invoke(app, ["predict-video", str(first), str(folder), "--weights", str(tiny_weights),
                                     "--name", "cli", "--no-report"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert all(f"{name} with fast_heatmap" in shown.output for name in ("first.avi", "a.avi", "b.avi"))


def test_a_bad_or_clashing_video_anywhere_in_the_list_stops_before_any_work(tiny_weights, tmp_path, monkeypatch):
    from tracknet_cli.commands.predict import predict_video as run

    monkeypatch.chdir(tmp_path)
    good = write_video(tmp_path / "good.avi", 5)
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    (tmp_path / "other").mkdir()
    twin = write_video(tmp_path / "other" / "good.avi", 5)
    with pytest.raises(DataError, match="bad.mp4 cannot be opened as a video"):
        run([good, tmp_path / "bad.mp4"], tiny_weights, "cpu")
    with pytest.raises(TracknetError, match="would write the same files"):
        run([good, twin], tiny_weights, "cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: a folder without videos"):
        run([good, tmp_path / "empty"], tiny_weights, "cpu")
    assert not (tmp_path / "runs").exists()


def test_the_trail_leads_up_to_the_ball_and_fades_with_age():
    from tracknet_cli.inference.overlay import BALL_COLOUR, draw_ball

    track = np.array([[100.0, 200.0], [300.0, 200.0], [500.0, 200.0], [np.nan, np.nan]])
    frame = np.zeros((400, 600, 3), dtype=np.uint8)
    draw_ball(frame, track, np.zeros(4, dtype=bool), index=2, trail=12)
    assert tuple(frame[200, 500]) == BALL_COLOUR  # the marker, filled
    newest, older = frame[200, 400].astype(int), frame[200, 200].astype(int)
    assert newest.sum() > older.sum() > 0  # both segments drawn, the older one dimmer
    assert not frame[100].any() and not frame[300].any()  # nothing off the track
    hollow = np.zeros((1080, 1920, 3), dtype=np.uint8)  # the marker's radius: 1080 / 120 = 9 px
    draw_ball(hollow, track, np.array([False, False, True, False]), index=2, trail=0)
    assert not hollow[200, 500].any() and tuple(hollow[200, 509]) == BALL_COLOUR  # interpolated: a ring
    empty = np.zeros_like(frame)
    draw_ball(empty, track, np.zeros(4, dtype=bool), index=3, trail=0)
    assert not empty.any()  # no ball in this frame and no trail asked for
