"""`tracknet adapt` on footage whose truth is known: each clip adapted on itself, without its labels,
and scored against the un-adapted model in the same run.

    uv run python benchmarks/adapt.py                                   # the labelled real clips
    uv run python benchmarks/adapt.py --budget 10 --synthetic data/realworld/game10

Cases: the hand-labelled real clips of benchmarks/real/ (in ../shared/fixtures/videos/), and any
`--synthetic` games rendered by `prepare synthetic` with their videos (a game's ClipN.mp4 joined
into one video, its labels the ClipN/Label.csv files), e.g. in a style the starting model was not
trained on: the built-in model saw broadcast cameras only. Each clip is adapted with
`--budget` minutes (`tracknet adapt CLIP --budget B`), then the starting and the adapted weights run
predict-video's pipeline (the ball-in-play tracker on) over it, as in benchmarks/real_footage.py:
misses (1 - recall within --tolerance px on ball frames, visibility 1), false alarms on its no-ball
frames and on a copy of the clip with its ball painted out (every frame a no-ball frame), median
error. The targets: misses and false alarms each at least halved where they are above 0.02, and
nothing worse by more than 0.01. Prints one table and writes `results.json` into
`runs/benchmark/adapt*/`, beside each clip's adapt run.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from real_footage import VIDEOS, joined_game, labelled_clips, track, without_ball  # benchmarks/: the script's folder
from rich.console import Console
from rich.table import Table

from tracknet_cli.adaptation.adapt import AdaptOptions, adapt
from tracknet_cli.console import console
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.devices import select_device
from tracknet_cli.evaluation.track_scoring import score_track
from tracknet_cli.fileio import write_json
from tracknet_cli.runs import new_run_dir
from tracknet_cli.weights import BUILTIN_NAME, choose_weights

TARGET_SHARE = 0.5  # misses and false alarms at most halved ...
TARGET_FLOOR = 0.02  # ... where they are above this
TARGET_SLACK = 0.01  # and nothing worse by more than this


def cases(videos: Path, synthetic: list[Path], work: Path) -> list[tuple[str, Path, pd.DataFrame]]:
    """(kind, video, labels) of every clip to adapt on."""
    found = [("real", video, read_labels(labels)) for video, labels in labelled_clips(videos)]
    return found + [("synthetic", *joined_game(game, work)) for game in synthetic]


def scores(weights: Path, video: Path, no_ball_copy: Path, table, device, batch: int, tolerance: float) -> dict:
    """Misses, false alarms (on the clip and on its copy without the ball) and median error."""
    predicted, _ = track(weights, video, device, batch)
    score, _ = score_track(predicted, table, tolerance)
    predicted_removed, _ = track(weights, no_ball_copy, device, batch)
    removed, _ = score_track(predicted_removed, table.assign(visibility=0, x=np.nan, y=np.nan), tolerance)
    return {"misses": 1 - score.recall, "false_alarms": score.false_alarm_rate,
            "no_ball_frames": score.no_ball_frames, "false_alarms_ball_removed": removed.false_alarm_rate,
            "median_px": score.median_error}


def verdicts(before: dict, after: dict) -> dict:
    """Per measure: met (halved where above the floor, and never worse by more than the slack)."""
    met = {}
    for key in ("misses", "false_alarms", "false_alarms_ball_removed"):
        a, b = before[key], after[key]
        if not np.isfinite(a):
            continue
        met[key] = bool(b <= a + TARGET_SLACK and (a <= TARGET_FLOOR or b <= TARGET_SHARE * a))
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=BUILTIN_NAME, help="the starting weights (default: the built-in model)")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder holding the labelled real clips")
    parser.add_argument("--synthetic", type=Path, nargs="*", default=[],
                        help="rendered games (folders with ClipN.mp4 and ClipN/Label.csv) to add")
    parser.add_argument("--budget", type=float, default=5.0, help="adapt's minutes per clip")
    parser.add_argument("--rounds", type=int, default=AdaptOptions.rounds)
    parser.add_argument("--tolerance", type=float, default=20.0, help="px at the video's resolution")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    device = select_device(args.device)
    start = choose_weights(args.weights)
    work = Path(tempfile.mkdtemp(prefix="tracknet-adapt-bench-"))
    todo = cases(args.videos, args.synthetic, work)
    if not todo:
        raise SystemExit(f"no labelled clip found in {args.videos} and no --synthetic game given")
    run_dir = new_run_dir("benchmark", "adapt")
    rows = []
    for kind, video, table in todo:
        copy = without_ball(video, table, work / f"{video.stem}_no_ball.avi")
        console.rule(f"{video.name} ({kind})")
        result = adapt([video], start, run_dir / video.stem,
                       AdaptOptions(budget_minutes=args.budget, rounds=args.rounds, device=args.device), console)
        before = scores(start, video, copy, table, device, args.batch, args.tolerance)
        after = scores(result.weights, video, copy, table, device, args.batch, args.tolerance)
        rows.append({"clip": video.stem, "kind": kind, "before": before, "after": after,
                     "met": verdicts(before, after), "adapted": result.adapted, "verdict": result.verdict,
                     "adapt_minutes": round(result.seconds / 60, 2), "stages_seconds": result.stages})
    print_table(rows, args.tolerance, device)
    write_json(run_dir / "results.json", {"platform": platform.platform(), "torch": torch.__version__,
                                          "device": str(device), "weights": str(start), "budget_minutes": args.budget,
                                          "rounds": args.rounds, "tolerance_px": args.tolerance, "rows": rows})
    print(f"Results saved to {run_dir / 'results.json'}")


def print_table(rows: list[dict], tolerance: float, device) -> None:
    table = Table(title=f"adapt: before -> after on each clip (misses within {tolerance:g} px; {device})")
    for column in ("clip", "misses", "false alarms", "FA ball removed", "median px", "min", "kept", "targets"):
        table.add_column(column, justify="left" if column in ("clip", "targets") else "right")
    for row in rows:
        before, after = row["before"], row["after"]
        pair = [f"{before[k]:.3f} -> {after[k]:.3f}" for k in ("misses", "false_alarms", "false_alarms_ball_removed")]
        met = ", ".join(f"{k}: {'met' if ok else 'NOT met'}" for k, ok in row["met"].items())
        table.add_row(row["clip"], *pair, f"{before['median_px']:.2f} -> {after['median_px']:.2f}",
                      f"{row['adapt_minutes']:.1f}", "adapted" if row["adapted"] else "start", met)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
