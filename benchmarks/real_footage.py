"""Ball tracks on real broadcast footage, scored against the hand labels in benchmarks/real/.

    uv run python benchmarks/real_footage.py                                  # built-in vs newest run
    uv run python benchmarks/real_footage.py --models builtin,runs/train/exp/weights/best.pt
    uv run python benchmarks/real_footage.py --models builtin --no-track    # the tracker's part
    uv run python benchmarks/real_footage.py --models builtin --input-sizes trained,768x432  # --input-size
    uv run python benchmarks/real_footage.py --synthetic data/realworld/game29 data/realworld/game30

Each model runs predict-video's whole pipeline (decode, letterbox, model, ball-in-play tracker,
gap filling) with its default options on each labelled clip; the track is scored per clip and
overall (`evaluation.track_scoring`): recall within `--tolerance` px at 1080p on ball frames
(visibility 1), the false-alarm rate on no-ball frames (visibility 0), and the median error of the
ball frames found. Frames labelled 3 (hidden) are left out. The clips live in
../shared/fixtures/videos/ (see benchmarks/real/README.md).

The clips are nearly all live play (11 labelled no-ball frames in 440), so false alarms are also
measured on each clip with its ball removed: every labelled ball (visibility 1 and 3) is painted
over with the median of the nearest frames where the ball is elsewhere, leaving the real players,
court, crowd and camera motion with no ball in play; every frame of that copy is a no-ball frame.

Footage of kinds the real clips do not show is scored too where its truth is exact: `--synthetic`
games rendered by `prepare synthetic --preset realworld` (tripod, side, corner and courtside
cameras, every surface; a game's ClipN.mp4 joined into one video), the tolerance scaled to their
height, in their own rows beside the real total.
Prints one table and writes `results.json` into `runs/benchmark/real_footage*/`.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from tracknet_cli.adaptation.scene_data import paint_out
from tracknet_cli.cli.options import parse_size
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.devices import select_device
from tracknet_cli.evaluation.track_scoring import TrackScore, score_track
from tracknet_cli.fileio import write_json
from tracknet_cli.inference.trajectory import TrajectoryConfig
from tracknet_cli.inference.video_prediction import VideoOptions
from tracknet_cli.runs import new_run_dir, trained_weights
from tracknet_cli.tasks import task_of
from tracknet_cli.weights import BUILTIN_NAME, choose_weights, load_weights

LABELS = Path(__file__).resolve().parent / "real"
VIDEOS = Path(__file__).resolve().parents[2] / "shared/fixtures/videos"


def labelled_clips(videos: Path) -> list[tuple[Path, Path]]:
    """(video, labels) of every clip labelled in benchmarks/real/ whose video is in `videos`."""
    pairs = [(videos / f"{path.name.removesuffix('_ball.csv')}.mp4", path)
             for path in sorted(LABELS.glob("*_ball.csv"))]
    return [(video, labels) for video, labels in pairs if video.is_file()]


def without_ball(video: Path, labels: pd.DataFrame, out: Path, neighbours: int = 6) -> Path:
    """`video` with its labelled ball painted over, frame by frame, into `out` (lossless-ish MJPG).

    The patch over frame t's ball is a capsule along its streak (halfway to the neighbouring
    labels, where the ball was at the frame's edges) plus a margin; it is filled with the
    per-pixel median of the `neighbours` frames nearest in time whose ball is far from it."""
    with VideoReader(video) as reader:
        frames = np.stack(list(reader))  # [N, H, W, 3]; the clips are a few hundred frames
        fps = reader.info.fps
    points = labels.set_index("frame").reindex(range(len(frames)))[["x", "y"]].to_numpy(np.float64)
    radius = max(8, round(frames.shape[1] / 160))  # px: a 1080p ball streak's half-width and more
    painted = frames.copy()
    for t in np.flatnonzero(np.isfinite(points).all(axis=1)):
        far = [s for s in np.argsort(np.abs(np.arange(len(frames)) - t))
               if not np.isfinite(points[s]).all() or np.hypot(*(points[s] - points[t])) > 4 * radius]
        background = np.median(frames[far[:neighbours]], axis=0).astype(np.uint8)
        painted[t] = paint_out(frames[t], points, t, background, 2 * radius)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames.shape[2:0:-1])
    for frame in painted:
        writer.write(frame)
    writer.release()
    return out


def joined_game(game: Path, work: Path) -> tuple[Path, pd.DataFrame]:
    """A rendered game's clip videos as one video in `work`, and their labels, frames renumbered."""
    clips = sorted(game.glob("Clip*.mp4"), key=lambda path: int(path.stem[4:]))
    if not clips:
        raise SystemExit(f"{game}: no ClipN.mp4 (render with `prepare synthetic --preset realworld`)")
    out, tables, writer = work / f"{game.parent.name}_{game.name}.avi", [], None  # MJPG: near-lossless
    for clip in clips:
        table = read_labels(clip.with_suffix("") / "Label.csv")
        with VideoReader(clip) as reader:
            start = sum(len(t) for t in tables)
            for frame in reader:
                if writer is None:
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), reader.info.fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(frame)
        tables.append(table.assign(frame=table["frame"] + start))
    writer.release()
    return out, pd.concat(tables, ignore_index=True)


def track(weights: Path, video: Path, device: torch.device, batch: int, tracker: bool = True,
          input_size: tuple[int, int] | None = None) -> tuple:
    """The ball track predict-video writes for `video` (as a label table), and the model's name;
    without `tracker`, what `--no-track` writes: the detector's top peak in every frame; with
    `input_size`, what `--input-size` writes."""
    model, cfg, _ = load_weights(weights, device)
    options = VideoOptions(batch_size=batch, input_size=input_size, trajectory=TrajectoryConfig(track=tracker))
    run = task_of(cfg).predict_video(model, cfg, device, options)
    with tempfile.TemporaryDirectory() as out:
        return read_labels(run(video, out).csv), cfg.model.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ",".join([BUILTIN_NAME] + [str(path) for path in trained_weights()[:1]])
    parser.add_argument("--models", default=default, help=f"comma-separated weights: paths or {BUILTIN_NAME} "
                        "(default: the built-in model and the newest trained run)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder holding the labelled clips")
    parser.add_argument("--tolerance", type=float, default=20.0, help="px at the video's resolution (1080p)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-track", action="store_true",
                        help="also score each model's raw detector (predict-video --no-track): the tracker's part")
    parser.add_argument("--synthetic", type=Path, nargs="*", default=[], help="games rendered by prepare "
                        "synthetic (ClipN.mp4 with ClipN/Label.csv), scored in their own rows")
    parser.add_argument("--input-sizes", default="trained", help="comma-separated WIDTHxHEIGHT each model runs at "
                        "(predict-video --input-size); trained: the size in its config")
    args = parser.parse_args()
    sizes = [None if size == "trained" else parse_size(size) for size in args.input_sizes.split(",")]
    device = select_device(args.device)
    clips = labelled_clips(args.videos)
    if not clips:
        raise SystemExit(f"no labelled clip of {LABELS} found in {args.videos}")
    removed = Path(tempfile.mkdtemp(prefix="tracknet-no-ball-"))
    cases = []  # (name, video, labels)
    for video, labels in clips:
        table = read_labels(labels)
        no_ball = table.assign(visibility=0, x=np.nan, y=np.nan)
        cases += [(video.stem, video, table),
                  (f"{video.stem} (ball removed)", without_ball(video, table, removed / f"{video.stem}.avi"), no_ball)]
    games = []  # (name, video, labels, tolerance at its height)
    for game in args.synthetic:
        video, labels = joined_game(game, removed)
        with VideoReader(video) as reader:
            games.append((f"synthetic {game}", video, labels, args.tolerance * reader.info.height / 1080))
    rows = []
    runs = [(choice, size, tracker) for choice in args.models.split(",") for size in sizes
            for tracker in (True, False)[:1 + args.no_track]]
    for choice, size, tracker in runs:
        weights = choose_weights(choice)
        label = " ".join([choice, *(["--input-size " + "x".join(map(str, size))] if size else []),
                          *([] if tracker else ["--no-track"])])
        scores, errors = [], []
        for name, video, labels in cases:
            predicted, model = track(weights, video, device, args.batch, tracker, size)
            score, found_errors = score_track(predicted, labels, args.tolerance)
            scores.append(score)
            errors.extend(found_errors)
            rows.append({"weights": label, "model": model, "clip": name, **score.as_dict()})
        rows.append({"weights": label, "model": model, "clip": "all",
                     **TrackScore.total(scores, np.array(errors)).as_dict()})
        for name, video, labels, tolerance in games:
            predicted, model = track(weights, video, device, args.batch, tracker, size)
            rows.append({"weights": label, "model": model, "clip": name,
                         **score_track(predicted, labels, tolerance)[0].as_dict()})
    table = Table(title=f"Real footage: recall within {args.tolerance:g} px, false alarms, median error ({device})")
    for column in ("weights", "clip", "ball frames", "recall", "no-ball frames", "false alarms", "median px"):
        table.add_column(column, justify="left" if column in ("weights", "clip") else "right")
    for index, row in enumerate(rows):
        table.add_row(row["weights"], row["clip"], str(row["ball_frames"]), f"{row['recall']:.3f}",
                      str(row["no_ball_frames"]), f"{row['false_alarm_rate']:.3f}", f"{row['median_error']:.2f}",
                      end_section=index + 1 == len(rows) or rows[index + 1]["weights"] != row["weights"])
    Console(width=160).print(table)
    run_dir = new_run_dir("benchmark", "real_footage")
    write_json(run_dir / "results.json", {"platform": platform.platform(), "torch": torch.__version__,
                                          "tolerance_px": args.tolerance, "rows": rows})
    print(f"Results saved to {run_dir / 'results.json'}")


if __name__ == "__main__":
    main()
