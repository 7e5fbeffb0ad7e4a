"""`tracknet adapt`: fit weights to the user's own videos, without labels, in a run folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from tracknet_cli.adaptation.adapt import AdaptOptions, AdaptResult
from tracknet_cli.adaptation.adapt import adapt as adapt_weights
from tracknet_cli.datasets.video import VideoReader, video_files
from tracknet_cli.runs import new_run_dir
from tracknet_cli.weights import choose_weights


def adapt(videos: Sequence[str | Path], weights: str | Path | None = None, options: AdaptOptions | None = None,
          name: str | None = None, exist_ok: bool = False, console: Console | None = None,
          note: Callable[[str], None] | None = None) -> AdaptResult:
    """Adapt `weights` (default: what predict-video would pick) to `videos` (paths, or folders
    standing for the videos in them) into `runs/adapt/<name>/`. Every video is opened before any
    work, so a bad one costs nothing."""
    options = options or AdaptOptions()
    options.validate()
    paths = video_files(videos)
    for path in paths:
        VideoReader(path).close()
    start = choose_weights(weights, note)
    run_dir = new_run_dir("adapt", name, exist_ok)
    return adapt_weights(paths, start, run_dir, options, console)
