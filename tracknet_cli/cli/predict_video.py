"""`tracknet predict-video`: the ball track of a match video as a CSV, an overlay and a plot."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.console import console, key_value_table, print_written, progress_bar
from tracknet_cli.runs import new_run_dir, newest_weights


def predict_video(
    video: Path = typer.Argument(..., help="Match video (any resolution and frame rate)."),
    weights: Path = typer.Option(None, "--weights", help="Checkpoint (default: newest runs/train/*/weights/best.pt)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", help="Windows per forward pass."),
    threshold: float = typer.Option(0.5, "--threshold", help="Heatmap peak needed to call a ball."),
    overlay: bool = typer.Option(False, "--overlay", help="Write <video>_overlay.mp4 with the ball and its trail."),
    plot: bool = typer.Option(False, "--plot", help="Write <video>_trajectory.png."),
    track: bool = typer.Option(True, "--track/--no-track",
                               help="Pick among peaks by continuity, drop impossible jumps."),
    max_gap: int = typer.Option(5, "--max-gap", help="Fill gaps of up to this many frames (0: none)."),
    smooth: bool = typer.Option(False, "--smooth/--no-smooth", help="Light smoothing of the track."),
    name: str = typer.Option(None, "--name", help="Run name under runs/predict/."),
    exist_ok: bool = typer.Option(False, "--exist-ok"),
) -> None:
    """Track the ball through a video: [bold]<video>_ball.csv[/] (Frame,Visibility,X,Y,Confidence,
    Interpolated in video pixels), optionally an overlay video and a trajectory plot.

    Example: [bold]tracknet predict-video match.mp4 --overlay --plot[/]
    """
    from tracknet_cli.datasets.video import VideoReader
    from tracknet_cli.inference.predictor import Predictor
    from tracknet_cli.inference.trajectory import TrajectoryConfig
    from tracknet_cli.inference.video_prediction import PredictVideoOptions
    from tracknet_cli.inference.video_prediction import predict_video as run

    if batch_size < 1 or max_gap < 0:
        raise typer.BadParameter("--batch-size must be at least 1 and --max-gap at least 0")
    VideoReader(video).close()  # a path that is no video fails here, before a run directory exists
    if weights is None:
        weights = newest_weights()
        console.print(f"Using the newest checkpoint [bold]{weights}[/]")
    predictor = Predictor.from_checkpoint(weights, device, threshold=threshold)
    options = PredictVideoOptions(batch_size=batch_size, overlay=overlay, plot=plot,
                                  trajectory=TrajectoryConfig(track=track, fill_gaps=max_gap > 0,
                                                              max_gap=max_gap, smooth=smooth))
    run_dir = new_run_dir("predict", name, exist_ok)
    with progress_bar("frames") as bar:
        task = bar.add_task("Predicting", total=None)

        def started(info) -> None:
            passes = 2 if overlay else 1  # the overlay decodes the video a second time
            bar.update(task, total=info.frame_count * passes or None)

        result = run(video, predictor, run_dir, options, on_start=started,
                     progress=lambda n: bar.advance(task, n))
    if result.truncated:
        console.print(f"[yellow]{video}: the header promises {result.info.frame_count} frames but only "
                      f"{result.frames} decoded (a truncated file?); all of them were processed.[/]")
    console.print(key_value_table(f"{video.name} with {predictor.name} on {predictor.device}", [
        ("video", f"{result.info.width}x{result.info.height} at {result.info.fps:.2f} fps"),
        ("frames", result.frames),
        ("frames with a ball", result.with_ball),
        ("interpolated", result.interpolated),
        ("time", f"{result.seconds:.1f} s ({result.fps:.1f} frames/s end to end)"),
        *[(label, path) for label, path in (("track", result.csv), ("overlay", result.overlay),
                                            ("plot", result.plot)) if path is not None],
    ]))
    print_written(run_dir)
