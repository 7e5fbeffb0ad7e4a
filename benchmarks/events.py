"""Hits and bounces: the event detectors scored on the synthetic test game and the labelled real clips.

    uv run python benchmarks/events.py                                   # built-in ball model
    uv run python benchmarks/events.py --weights runs/train/exp/weights/best.pt --events runs/events/events.pt

Each clip runs predict-video's pipeline: the ball model over the video (decode, letterbox, model),
the ball-in-play tracker, then each event method on the same track (`inference.events`):
    learned   the event net (tracknet_cli/assets/events.pt, or --events)
    flights   an event at every break between two of the tracker's flights
Scored per kind within ±1 and ±2 frames (`evaluation.event_metrics`), and the bounce position error
in px at 1080p (a 720p clip's errors scaled by 1.5). Rows "exact track" feed the labelled positions
instead of the model's: what each method does with a perfect ball detector.

Clips: every `Clip*.mp4` of the synthetic test game (`--synthetic`, status labels in
`Clip*/Label.csv`; several folders, or a dataset's folder for all its games) and the real clips
of benchmarks/real/ that have an `_events.csv` (hits and bounces labelled by hand, see its
README). Time: each method's share of the predict-video pass
(detection and tracking) on the same clips, on this machine. Prints one table and writes
`results.json` into `runs/benchmark/events*/`.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.devices import select_device
from tracknet_cli.evaluation.event_metrics import EventScores, EventSet
from tracknet_cli.fileio import write_json
from tracknet_cli.inference.events import BOUNCE, HIT, EventDetector, detect_events
from tracknet_cli.inference.predictor import Predictor
from tracknet_cli.inference.trajectory import TrajectoryConfig, candidates_from_points, postprocess
from tracknet_cli.inference.video_prediction import detect_video
from tracknet_cli.runs import new_run_dir
from tracknet_cli.weights import BUILTIN_NAME, choose_weights, load_weights

REAL = Path(__file__).resolve().parent / "real"
VIDEOS = Path(__file__).resolve().parents[2] / "shared/fixtures/videos"
METHODS = ("learned", "flights")
CODES = {"hit": HIT, "bounce": BOUNCE}


def synthetic_clips(folder: Path) -> list[tuple[str, Path, pd.DataFrame, EventSet]]:
    """(name, video, ball labels, events) of each clip of a synthetic game folder, or of every game
    of a synthetic dataset folder."""
    clips = []
    for video in sorted(folder.glob("Clip*.mp4")) or sorted(folder.glob("game*/Clip*.mp4")):
        game = video.parent
        labels = read_labels(video.with_suffix("") / "Label.csv")
        truth = EventSet.from_status(labels["frame"].to_numpy(), labels["status"].to_numpy(),
                                     labels[["x", "y"]].to_numpy(float))
        clips.append((f"{game.name}/{video.stem}", video, labels, truth))
    return clips


def real_clips(videos: Path) -> list[tuple[str, Path, pd.DataFrame, EventSet]]:
    """(name, video, ball labels, events) of each real clip with hand-labelled events."""
    clips = []
    for events_csv in sorted(REAL.glob("*_events.csv")):
        stem = events_csv.name.removesuffix("_events.csv")
        video = videos / f"{stem}.mp4"
        if not video.is_file():
            continue
        table = pd.read_csv(events_csv)
        truth = EventSet(table["Frame"].to_numpy(int), table["Event"].map(CODES).to_numpy(int),
                         table[["X", "Y"]].to_numpy(float))
        clips.append((stem, video, read_labels(REAL / f"{stem}_ball.csv"), truth))
    return clips


def exact_track(labels: pd.DataFrame, frames: int, fps: float, size: tuple[int, int]):
    """The track the tracker makes of the labelled positions (visibility 1-3) as detections."""
    points = np.full((frames, 2), np.nan)
    shown = labels[(labels["visibility"] > 0) & (labels["frame"] < frames)]
    points[shown["frame"].to_numpy(int)] = shown[["x", "y"]].to_numpy(float)
    return postprocess(candidates_from_points(points), fps, size)


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=BUILTIN_NAME, help=f"ball model: a path or {BUILTIN_NAME}")
    parser.add_argument("--events", type=Path, default=None, help="event net (default: the shipped one)")
    parser.add_argument("--synthetic", type=Path, nargs="*", default=[Path("data/synthetic/game5")],
                        help="synthetic game folders (Clip*.mp4 and Clip*/Label.csv) or dataset folders "
                        "(their games), each scored on its own")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder holding the real clips")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = select_device(args.device)
    model, cfg, _ = load_weights(choose_weights(args.weights), device)
    predictor = Predictor.from_loaded(model, cfg, device)
    detector = EventDetector.load(args.events) if args.events else EventDetector.load()
    sets = {str(folder): synthetic_clips(folder) for folder in args.synthetic if folder.is_dir()}
    sets["real"] = real_clips(args.videos)
    if not any(sets.values()):
        raise SystemExit(f"no clip found in {args.synthetic} or {args.videos}")
    rows, seconds = [], {"predict": 0.0, **dict.fromkeys(METHODS, 0.0)}
    for dataset, clips in sets.items():
        scores = {(source, method): EventScores() for source in ("model", "exact") for method in METHODS}
        for name, video, labels, truth in clips:
            started = time.perf_counter()
            with VideoReader(video) as reader:
                seen = detect_video(reader, predictor)
            tracks = {"model": seen.track(TrajectoryConfig(), predictor.spec)}
            seconds["predict"] += time.perf_counter() - started
            size = (seen.info.width, seen.info.height)
            tracks["exact"] = exact_track(labels, len(seen.candidates), seen.info.fps, size)
            scale = 1080 / seen.info.height  # px at 1080p
            for (source, method), total in scores.items():
                started = time.perf_counter()
                events = detect_events(tracks[source], seen.info.fps, size, method, detector, repeats=seen.repeats)
                if source == "model":
                    seconds[method] += time.perf_counter() - started
                total.add(replace(events, xy=events.xy * scale), replace(truth, xy=truth.xy * scale))
        for (source, method), total in scores.items():
            if clips:
                rows.append({"data": dataset, "clips": len(clips), "track": source, "method": method,
                             **total.as_dict()})
    table = Table(title=f"Events: F1 within ±1 / ±2 frames, bounce error at 1080p ({device})")
    for column in ("data", "track", "method", "hits", "hit F1 ±1", "hit F1 ±2", "bounces", "bounce F1 ±1",
                   "bounce F1 ±2", "bounce px (median)"):
        table.add_column(column, justify="left" if column in ("data", "track", "method") else "right")
    for row in rows:
        table.add_row(row["data"], row["track"], row["method"], str(row["hit"]["2"]["labelled"]),
                      _number(row["hit"]["1"]["f1"]), _number(row["hit"]["2"]["f1"]),
                      str(row["bounce"]["2"]["labelled"]), _number(row["bounce"]["1"]["f1"]),
                      _number(row["bounce"]["2"]["f1"]), _number(row["bounce_error_px"]["median"], 1))
    console = Console(width=140)
    console.print(table)
    shares = {method: seconds[method] / seconds["predict"] for method in METHODS}
    console.print(f"predict-video's pass (decode, model, tracker) {seconds['predict']:.1f} s; event detection "
                  + ", ".join(f"{m} {seconds[m] * 1000:.0f} ms ({shares[m]:.2%})" for m in METHODS))
    run_dir = new_run_dir("benchmark", "events")
    write_json(run_dir / "results.json", {"platform": platform.platform(), "torch": torch.__version__,
                                          "device": str(device), "weights": args.weights,
                                          "event_model": str(args.events or "builtin"), "rows": rows,
                                          "seconds": seconds, "share_of_predict_video": shares})
    print(f"Results saved to {run_dir / 'results.json'}")


if __name__ == "__main__":
    main()
