"""`tracknet predict-video`: the ball track of a match video as a CSV, an overlay and a plot; or,
with a reference-based detector and `--templates`, the object's box in every frame."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.cli.options import given_options
from tracknet_cli.console import console, key_value_table, print_written, progress_bar
from tracknet_cli.runs import new_run_dir, newest_weights

BALL_OPTIONS = ("plot", "track", "max_gap", "smooth")  # the trajectory's: a box per frame has none


def predict_video(
    ctx: typer.Context,
    video: Path = typer.Argument(..., help="Match video (any resolution and frame rate)."),
    weights: Path = typer.Option(None, "--weights", help="Checkpoint (default: newest runs/train/*/weights/best.pt)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size", help="Windows per forward pass."),
    threshold: float = typer.Option(0.5, "--threshold", help="Heatmap peak needed to call a ball "
                                    "(refdet: box score)."),
    templates: Path = typer.Option(None, "--templates", help="refdet models: folder with the object's "
                                   "template_0.jpg, template_1.jpg, template_2.jpg."),
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
    Interpolated in video pixels), optionally an overlay video and a trajectory plot. With a
    reference-based detector: [bold]<video>_boxes.csv[/] (Frame,X1,Y1,X2,Y2,Score) and the overlay.

    Examples: [bold]tracknet predict-video match.mp4 --overlay --plot[/]
              [bold]tracknet predict-video clip.mp4 --weights refdet.pt --templates obj/ --overlay[/]
    """
    from tracknet_cli.datasets.video import VideoReader
    from tracknet_cli.devices import select_device
    from tracknet_cli.export import load_weights
    from tracknet_cli.inference.predictor import Predictor
    from tracknet_cli.inference.refdet_predictor import RefdetPredictor
    from tracknet_cli.inference.trajectory import TrajectoryConfig
    from tracknet_cli.inference.video_prediction import PredictVideoOptions
    from tracknet_cli.inference.video_prediction import predict_video as run

    if batch_size < 1 or max_gap < 0:
        raise typer.BadParameter("--batch-size must be at least 1 and --max-gap at least 0")
    VideoReader(video).close()  # a path that is no video fails here, before a run directory exists
    if weights is None:
        weights = newest_weights()
        console.print(f"Using the newest checkpoint [bold]{weights}[/]")
    torch_device = select_device(device)
    model, cfg, _ = load_weights(weights, torch_device)
    if cfg.model.task == "refdet":
        if given := given_options(ctx, BALL_OPTIONS):
            raise typer.BadParameter(f"{', '.join(given)}: for ball models; {weights} holds a reference-based "
                                     "detector, which draws a box per frame")
        predictor = RefdetPredictor.from_loaded(model, cfg, torch_device, score_threshold=threshold)
        _detect_object(video, predictor, templates, batch_size, overlay, name, exist_ok)
        return
    if templates is not None:
        raise typer.BadParameter(f"{weights} is a ball model; --templates is for reference-based detectors",
                                 param_hint="--templates")
    predictor = Predictor.from_loaded(model, cfg, torch_device, threshold=threshold)
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
    _summary(video, result, f"{video.name} with {predictor.name} on {predictor.device}",
             [("frames with a ball", result.with_ball), ("interpolated", result.interpolated)],
             [("track", result.csv), ("overlay", result.overlay), ("plot", result.plot)])
    print_written(run_dir)


def _detect_object(video: Path, predictor, templates: Path | None, batch_size: int, overlay: bool,
                   name: str | None, exist_ok: bool) -> None:
    from tracknet_cli.inference.refdet_video import detect_in_video, read_templates

    if templates is None:
        raise typer.BadParameter(f"{predictor.cfg.name} is a reference-based detector: give the object's "
                                 f"templates with --templates DIR", param_hint="--templates")
    images = read_templates(templates)
    run_dir = new_run_dir("predict", name, exist_ok)
    with progress_bar("frames") as bar:
        task = bar.add_task("Searching", total=None)
        result = detect_in_video(video, images, predictor, run_dir, batch_size, overlay,
                                 on_start=lambda info: bar.update(task, total=info.frame_count or None),
                                 progress=lambda n: bar.advance(task, n))
    _summary(video, result, f"{video.name}: {templates} with {predictor.cfg.name} on {predictor.device}",
             [("frames with the object", result.with_object)], [("boxes", result.csv), ("overlay", result.overlay)])
    print_written(run_dir)


def _summary(video: Path, result, title: str, counts: list[tuple], outputs: list[tuple]) -> None:
    """A note if the video ended early, then one table: the video, counts, speed, files written."""
    if result.truncated:
        console.print(f"[yellow]{video}: the header promises {result.info.frame_count} frames but only "
                      f"{result.frames} decoded (a truncated file?); all of them were processed.[/]")
    console.print(key_value_table(title, [
        ("video", f"{result.info.width}x{result.info.height} at {result.info.fps:.2f} fps"),
        ("frames", result.frames),
        *counts,
        ("time", f"{result.seconds:.1f} s ({result.fps:.1f} frames/s end to end)"),
        *[(label, path) for label, path in outputs if path is not None],
    ]))
