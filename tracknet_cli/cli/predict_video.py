"""`tracknet predict-video`: the ball track of a match video as a CSV, an overlay and a plot; or,
with a reference-based detector and `--templates`, the object's box in every frame."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.cli.options import exist_ok_option, given_options, parse_size, weights_option
from tracknet_cli.console import console, key_value_table, print_written, progress_bar

# read by one task only
TASK_OPTIONS = ("input_size", "plot", "report", "track", "max_gap", "smooth", "events", "bounces", "templates")


def predict_video(
    ctx: typer.Context,
    videos: list[Path] = typer.Argument(..., metavar="VIDEO...", help="Match videos (any resolution and frame "
                                        "rate), or folders of them; all go into one run folder."),
    weights: Path = weights_option(),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Windows per forward pass."),
    threshold: float = typer.Option(0.5, "--threshold", help="Heatmap peak needed to call a ball "
                                    "(refdet: box score)."),
    input_size: str = typer.Option(None, "--input-size", metavar="WxH", callback=lambda text: parse_size(text),
                                   help="Size the ball model runs at (default: the size it was trained at, "
                                   "512x288 for the built-in model). Larger finds more of a small, far ball; "
                                   "the time grows with the pixels."),
    templates: Path = typer.Option(None, "--templates", help="refdet models: folder with the object's "
                                   "template_0.jpg, template_1.jpg, template_2.jpg."),
    overlay: bool = typer.Option(False, "--overlay", help="Write <video>_overlay.mp4 with the ball and its trail."),
    plot: bool = typer.Option(False, "--plot", help="Write <video>_trajectory.png (the report writes it too)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write <video>_report.html: summary, overlay, "
                                "trajectory, a per-frame confidence strip, links; opens offline."),
    track: bool = typer.Option(True, "--track/--no-track",
                               help="Track the ball in play: pick among peaks by continuity, leave "
                               "out still balls and anything that is no plausible flight. "
                               "--no-track: the detector's top peak in every frame."),
    max_gap: int = typer.Option(5, "--max-gap", min=0, help="Fill gaps of up to this many frames inside "
                                "one flight (0: none)."),
    smooth: bool = typer.Option(False, "--smooth/--no-smooth", help="Light smoothing of the track."),
    events: str = typer.Option("learned", "--events", help="Hits and bounces, into <video>_events.csv and the "
                               "Event column: learned (the shipped event net), flights (a break between "
                               "two flights of the tracker) or none."),
    bounces: bool = typer.Option(True, "--bounces/--no-bounces", help="--no-bounces: every event is a hit "
                                 "(badminton: the shuttle does not bounce in play)."),
    adapt: bool = typer.Option(False, "--adapt", help="First adapt the ball model to these videos (tracknet adapt "
                               "with its defaults, about 10 minutes), then predict with the adapted weights."),
    name: str = typer.Option(None, "--name", help="Run name under runs/predict/."),
    exist_ok: bool = exist_ok_option(),
) -> None:
    """Track the ball through videos: per video [bold]<video>_ball.csv[/]
    (Frame,Visibility,X,Y,Confidence,Interpolated,Event in video pixels), its hits and bounces
    ([bold]<video>_events.csv[/]), a report page, optionally an overlay video and a trajectory
    plot. With a reference-based detector: [bold]<video>_boxes.csv[/] (Frame,X1,Y1,X2,Y2,Score)
    and the overlay.

    Examples: [bold]tracknet predict-video match.mp4 --overlay --plot[/]
              [bold]tracknet predict-video set1.mp4 set2.mp4 highlights/ --overlay[/]
              [bold]tracknet predict-video clip.mp4 --weights refdet.pt --templates obj/ --overlay[/]
              [bold]tracknet predict-video match.mp4 --adapt --overlay[/]
    """
    from tracknet_cli.commands.predict import predict_video as run
    from tracknet_cli.inference.trajectory import TrajectoryConfig
    from tracknet_cli.inference.video_prediction import VideoOptions

    trajectory = TrajectoryConfig(track=track, fill_gaps=max_gap > 0, max_gap=max_gap, smooth=smooth)
    options = VideoOptions(batch_size=batch_size, threshold=threshold, input_size=input_size, overlay=overlay,
                           plot=plot, report=report, templates=templates, trajectory=trajectory, events=events,
                           bounces=bounces)
    if adapt:
        from tracknet_cli.adaptation.adapt import AdaptOptions
        from tracknet_cli.commands.adapt import adapt as run_adapt

        adapted = run_adapt(videos, weights, AdaptOptions(device=device), name, exist_ok, console, console.print)
        console.print(f"{adapted.verdict}; predicting with {adapted.weights}")
        weights = adapted.weights
    with progress_bar("frames") as bar:
        task = bar.add_task("Predicting", total=None)
        run_ = run(videos, weights, device, options, given=given_options(ctx, TASK_OPTIONS), name=name,
                   exist_ok=exist_ok, note=console.print, on_start=lambda total: bar.update(task, total=total),
                   progress=lambda n: bar.advance(task, n))
    for result in run_.results:
        _print_result(result, f"{result.info.path.name} with {run_.model} on {run_.device}")
    print_written(run_.run_dir)


def _print_result(result, title: str) -> None:
    if result.truncated:
        console.print(f"[yellow]{result.info.path}: the header promises {result.info.frame_count} frames but "
                      f"only {result.frames} decoded (a truncated file?); all of them were processed.[/]")
    from tracknet_cli.inference.video_prediction import summary_rows

    console.print(key_value_table(title, [*summary_rows(result), *result.outputs()]))
