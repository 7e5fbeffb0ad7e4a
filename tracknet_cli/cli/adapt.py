"""`tracknet adapt`: fit the ball model to your own footage, with no labels."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.cli.options import exist_ok_option, weights_option
from tracknet_cli.console import console, print_written


def adapt(
    videos: list[Path] = typer.Argument(..., metavar="VIDEO...", help="Your videos of one venue (any length, "
                                        "resolution and frame rate), or folders of them."),
    weights: Path = weights_option(),
    budget: float = typer.Option(10.0, "--budget", help="Minutes for the whole adaptation, every stage."),
    rounds: int = typer.Option(2, "--rounds", min=1, help="Predict -> select -> fine-tune rounds, while the "
                               "budget lasts."),
    max_frames: int = typer.Option(6000, "--max-frames", min=1, help="Frames of each video kept for training, "
                                   "in blocks spread over it (a long video is sampled)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    name: str = typer.Option(None, "--name", help="Run name under runs/adapt/."),
    exist_ok: bool = exist_ok_option(),
) -> None:
    """Adapt a ball model to your footage without labels: its confident, physically consistent
    flights become labels, synthetic flights are rendered into your own shots with exact labels,
    and a copy of the model is fine-tuned on both within the time budget. Writes
    runs/adapt/<name>/weights/best.pt, report.json and summary.md. If the adapted model does not
    beat the starting one on held-out checks, the starting weights are kept, and it says so.

    Examples: [bold]tracknet adapt match.mp4[/]
              [bold]tracknet adapt day1.mp4 day2.mp4 --budget 30 --name centre_court[/]
    """
    from tracknet_cli.adaptation.adapt import AdaptOptions
    from tracknet_cli.commands.adapt import adapt as run

    options = AdaptOptions(budget_minutes=budget, rounds=rounds, max_frames=max_frames, device=device)
    result = run(videos, weights, options, name, exist_ok, console, note=console.print)
    colour = "green" if result.adapted else "yellow"
    console.print(f"[bold {colour}]{result.verdict}[/] "
                  f"({result.seconds / 60:.1f} min; {result.run_dir / 'summary.md'})")
    console.print(f"Use it: [bold]tracknet predict-video {videos[0]} --weights {result.weights}[/]")
    print_written(result.run_dir)
