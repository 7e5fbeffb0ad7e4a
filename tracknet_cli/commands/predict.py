"""`tracknet predict-video`: run trained weights over a video, by the weights' task."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.devices import select_device
from tracknet_cli.errors import TracknetError
from tracknet_cli.inference.video_prediction import VideoOptions
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import TASKS, task_of
from tracknet_cli.weights import choose_weights, load_weights


@dataclass
class PredictRun:
    result: object  # the task's video result: counts(), outputs(), info, frames, seconds, fps
    model: str
    device: str
    run_dir: Path


def predict_video(video: str | Path, weights: str | Path | None = None, device: str = "auto",
                  options: VideoOptions | None = None, given: Collection[str] = (), name: str | None = None,
                  exist_ok: bool = False, note: Callable[[str], None] | None = None,
                  on_start: Callable[[int | None], None] | None = None,
                  progress: Callable[[int], None] | None = None) -> PredictRun:
    """Run `weights` (default: the newest trained best.pt) over `video` into `runs/predict/<name>/`:
    a ball model tracks the ball, a reference-based detector finds the object of
    `options.templates`. `given` names the options the user set (`plot`, `templates`, ...): one that
    the weights' task does not read is refused rather than ignored."""
    options = options or VideoOptions()
    with VideoReader(video) as reader:  # a path that is no video fails here, before a run directory exists
        weights = choose_weights(weights, note)
        torch_device = select_device(device)
        model, cfg, _ = load_weights(weights, torch_device)
        task = task_of(cfg)
        _refuse_options_of_other_tasks(given, task, weights)
        run = task.predict_video(model, cfg, torch_device, options)  # checks the task's own inputs
        run_dir = new_run_dir("predict", name, exist_ok)
        result = run(reader, run_dir, on_start, progress)
    return PredictRun(result, cfg.model.name, str(torch_device), run_dir)


def _refuse_options_of_other_tasks(given: Collection[str], task, weights: Path) -> None:
    for other in TASKS.values():
        wrong = [option for option in given if option in other.video_options and option not in task.video_options]
        if wrong:
            options = ", ".join("--" + option.replace("_", "-") for option in wrong)
            raise TracknetError(f"{options}: for {other.description}s; {weights} holds a {task.description}")
