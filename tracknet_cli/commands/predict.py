"""`tracknet predict-video`: run trained weights over videos, by the weights' task."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from tracknet_cli.datasets.video import VideoInfo, VideoReader, video_files
from tracknet_cli.devices import select_device
from tracknet_cli.errors import TracknetError
from tracknet_cli.inference.video_prediction import VideoOptions
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import refuse_other_tasks_options, task_of
from tracknet_cli.weights import choose_weights, load_weights


@dataclass
class PredictRun:
    results: list  # per video, the task's video result: counts(), outputs(), info, frames, seconds, fps
    model: str
    device: str
    run_dir: Path

    @property
    def result(self):
        """The one video's result, where one was given."""
        return self.results[0]


def predict_video(videos: str | Path | Sequence[str | Path], weights: str | Path | None = None,
                  device: str = "auto", options: VideoOptions | None = None, given: Collection[str] = (),
                  name: str | None = None, exist_ok: bool = False, note: Callable[[str], None] | None = None,
                  on_start: Callable[[int | None], None] | None = None,
                  progress: Callable[[int], None] | None = None) -> PredictRun:
    """Run `weights` (default: the newest trained best.pt) over `videos` (paths, a folder standing
    for the videos in it) into one `runs/predict/<name>/`: a ball model tracks the ball, a
    reference-based detector finds the object of `options.templates`. `given` names the options the
    user set (`plot`, `templates`, ...): one that the weights' task does not read is refused rather
    than ignored. Every video is checked before any work, so a bad one late in the list costs
    nothing; `on_start` gets the progress to come over all of them."""
    options = options or VideoOptions()
    paths = video_files([videos] if isinstance(videos, (str, Path)) else videos)
    _refuse_clashing_names(paths)
    infos = [_checked(path) for path in paths]  # a path that is no video fails here, before a run directory exists
    weights = choose_weights(weights, note)
    torch_device = select_device(device)
    model, cfg, _ = load_weights(weights, torch_device)
    task = task_of(cfg)
    refuse_other_tasks_options(given, task, weights, lambda task: task.video_options)
    run = task.predict_video(model, cfg, torch_device, options)  # checks the task's own inputs
    run_dir = new_run_dir("predict", name, exist_ok)
    bar = _OneBar(infos, on_start, progress)
    results = []
    for index, info in enumerate(infos):
        with VideoReader(info.path) as reader:  # a task's runner takes an open reader
            results.append(run(reader, run_dir, bar.starting(index), bar.advance))
    return PredictRun(results, cfg.model.name, str(torch_device), run_dir)


class _OneBar:
    """One progress total over several videos. Each video's run says the progress it will report
    (its frames, once per pass); the videos still to come are expected to take as many steps per
    frame, so the total is exact once the last one has started."""

    def __init__(self, infos: list[VideoInfo], on_start, progress):
        self.frames = [info.frame_count for info in infos]  # what the headers claim; 0: unknown
        self.on_start, self.progress, self.done = on_start, progress, 0

    def starting(self, index: int) -> Callable[[int | None], None]:
        def started(total: int | None) -> None:
            rest = self.frames[index + 1:]
            if not self.on_start:
                return
            if total is None or not self.frames[index] or not all(rest):
                self.on_start(None)
            else:
                self.on_start(self.done + total + round(total / self.frames[index] * sum(rest)))
        return started

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(n)


def _checked(path: Path) -> VideoInfo:
    with VideoReader(path) as reader:
        return reader.info


def _refuse_clashing_names(paths: list[Path]) -> None:
    """Outputs are named by the video's stem: two videos of one stem would overwrite each other."""
    seen: dict[str, Path] = {}
    for path in paths:
        if (other := seen.setdefault(path.stem, path)) != path:
            raise TracknetError(f"{other} and {path} would write the same files ({path.stem}_*): rename one, "
                                "or run them separately")
