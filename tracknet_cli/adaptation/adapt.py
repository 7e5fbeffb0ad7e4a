"""`tracknet adapt`: fit a ball model to the user's own footage, without labels.

    result = adapt(videos, weights, run_dir, AdaptOptions(budget_minutes=10), console)

Stages, each timed into the report:
    shots       each video cut into shots, a clean plate per shot (the temporal median, the real
                ball gone) and the court calibrated on it; shots without a court (crowd, close-ups,
                graphics) take no further part (`real_backgrounds.find_backdrops`)
    composites  synthetic ball flights rendered into those plates with exact labels, plausible for
                the court in view (`real_backgrounds.render_backdrops`); the last clip of each shot
                is held out
    rounds      predict -> select -> fine-tune, `rounds` times while the budget lasts:
                  predict    the current model and the ball-in-play tracker over every video; the
                             first pass also stores the frames it will train on (`scene_data`)
                  select     pseudo-labels: confident physical flights and sure no-ball frames
                             (`pseudo_labels`); a block in five of each video is held out, with
                             the labels of the first round, for every round
                  fine-tune  a copy of the current model (`train --weights`'s path), for the
                             round's share of the budget, best.pt by held-out F1
    verdict     the starting model and each round's model scored on the held-out checks: the
                real frames' pseudo-labels (with and without the ball) and the held-out
                composites. An adapted model is taken only when it wins on the composites by
                MIN_GAIN and loses at most MAX_LOSS on the real frames (the starting model's own
                sure detections: the check says the adapted model still finds them and adds no
                ball where it was painted out); of those, the round that gains most on the two
                together. Otherwise the starting weights stay, and adapt says so.

Writes `weights/best.pt` (the adapted model, or a copy of the starting one when it stays),
`report.json`, `summary.md`, `data/` and a training run per round (`round1/`, ...).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from rich.console import Console

from tracknet_cli import __version__
from tracknet_cli.adaptation.pseudo_labels import PseudoLabels, select_pseudo_labels
from tracknet_cli.adaptation.scene_data import (
    VAL_PARTS,
    BlockPlan,
    FrameStore,
    composite_clips,
    write_ball_removed_clips,
    write_data_config,
    write_pseudo_clips,
)
from tracknet_cli.config import to_container
from tracknet_cli.console import progress_bar
from tracknet_cli.datasets.card import write_card
from tracknet_cli.datasets.synthetic.composite import Backdrop
from tracknet_cli.datasets.synthetic.real_backgrounds import BackgroundSpec, find_backdrops, render_backdrops
from tracknet_cli.datasets.tracknet import build_dataset
from tracknet_cli.datasets.video import VideoReader, video_files
from tracknet_cli.devices import select_device
from tracknet_cli.errors import DataError, TracknetError
from tracknet_cli.fileio import atomic_write_text, write_json
from tracknet_cli.inference.predictor import Predictor
from tracknet_cli.inference.trajectory import TrajectoryConfig, footage_times
from tracknet_cli.inference.video_prediction import Detections, detect_video, detection_noise
from tracknet_cli.tasks import load_config, task_of
from tracknet_cli.training.trainer import Trainer
from tracknet_cli.weights import load_weights

MIN_GAIN = 0.01  # held-out composite F1 an adapted model must win by
MAX_LOSS = 0.02  # held-out real F1 it may lose
MIN_TRAIN_MINUTES = 0.5  # a round with less training time left is not started (the first always is)
COMPOSITE_CLIP_FRAMES = 60
MAX_SHOTS = 8  # shots composites are rendered into, spread over the videos


@dataclass
class AdaptOptions:
    budget_minutes: float = 10.0  # every stage together, wall time
    rounds: int = 2  # predict -> select -> fine-tune, while the budget lasts
    max_frames: int = 6000  # per video: frames stored for training, in blocks spread over it
    composite_frames: int = 600  # rendered into the user's shots, in all
    training: str = "adapt"  # the fine-tuning's training config (a name or a YAML path)
    batch_size: int = 8  # windows per forward pass when predicting
    device: str = "auto"
    workers: int = 2  # processes that analyse shots and render composites
    seed: int = 0

    def validate(self) -> None:
        if not (isinstance(self.budget_minutes, (int, float)) and self.budget_minutes > 0):
            raise TracknetError(f"--budget must be a positive number of minutes, got {self.budget_minutes}")
        for name, least in (("rounds", 1), ("max_frames", 1), ("composite_frames", 0), ("batch_size", 1)):
            if getattr(self, name) < least:
                raise TracknetError(f"adapt: {name} must be at least {least}, got {getattr(self, name)}")


@dataclass
class RoundReport:
    round: int
    labels: dict[str, dict[str, int]]  # per video, PseudoLabels.counts()
    train_clips: int
    epochs: int
    train_minutes: float
    held_out: dict[str, float]  # per val part, F1 of the round's best weights
    weights: str


@dataclass
class AdaptResult:
    run_dir: Path
    weights: Path  # what to use: the adapted model, or a copy of the starting one
    start_weights: Path
    adapted: bool  # False: no round beat the starting model on the held-out checks
    verdict: str  # one sentence: why
    start_held_out: dict[str, float]
    rounds: list[RoundReport] = field(default_factory=list)
    shots: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage
    seconds: float = 0.0
    source: Path | None = None  # the round's best.pt that became `weights`
    interrupted: bool = False  # Ctrl-C ended the rounds early


def adapt(videos: list[str | Path], weights: Path, run_dir: Path, options: AdaptOptions | None = None,
          console: Console | None = None) -> AdaptResult:
    """Adapt `weights` (a ball model's checkpoint) to `videos` into `run_dir` (see the module)."""
    options = options or AdaptOptions()
    options.validate()
    started = time.monotonic()
    deadline = started + 60 * options.budget_minutes
    say = console.print if console else (lambda *_: None)
    paths = video_files(videos)
    device = select_device(options.device)
    model, cfg, _ = load_weights(weights, device)
    if task_of(cfg).data_format != "tracknet" or weights.suffix.lower() == ".onnx":
        raise TracknetError(f"{weights} holds a {task_of(cfg).description}; adapt fine-tunes ball models "
                            "from a checkpoint (.pt)")
    data_root = run_dir / "data"
    data_root.mkdir(parents=True, exist_ok=True)
    stages: dict[str, float] = {}

    with _stage("shots", stages):
        say("Finding the shots with a court and their clean plates")
        backdrops, skipped = _court_shots(paths, cfg, options)
    with _stage("composites", stages):
        spec = _background_spec(cfg, options, len(backdrops))
        chosen = _spread(backdrops, MAX_SHOTS)
        with progress_bar("frames") as bar:
            task = bar.add_task("Rendering flights into your shots",
                                total=len(chosen) * spec.clips_per_shot * spec.frames_per_clip)
            render_backdrops(data_root, chosen, spec, options.workers, lambda n: bar.advance(task, n), append=True)
        composite_train, composite_val = composite_clips(data_root, first_game=1)
    write_card(data_root, kind="adapt", videos=[str(p) for p in paths], start_weights=str(weights),
               shots=[b.name for b in chosen], seed=options.seed)

    shortest = int(cfg.model.frames)
    plans = {path: BlockPlan.of(*_length(path), shortest, options.max_frames) for path in paths}
    stores = {path: FrameStore(data_root / "frames" / f"v{k}", plans[path]) for k, path in enumerate(paths, 1)}
    first_pseudo_game = len(chosen) + 1
    result = AdaptResult(run_dir, run_dir / "weights" / "best.pt", weights, False, "",
                         {}, shots=[b.name for b in backdrops], skipped=skipped, stages=stages)
    current, current_model, val_real = weights, model, None
    for round_number in range(1, options.rounds + 1):
        with _stage(f"round{round_number}_predict", stages):
            labels = _pseudo_labels(current_model, cfg, paths, backdrops, device, options,
                                    stores if round_number == 1 else None, round_number)
        train_clips = composite_train + _real_clips(data_root, labels, stores, first_pseudo_game, shortest, False)
        if val_real is None:  # the held-out real frames keep the first round's labels
            val_real = _real_clips(data_root, labels, stores, first_pseudo_game, shortest, True)
        data_yaml = write_data_config(data_root, train_clips, val_real, composite_val)
        train_cfg = _training_config(cfg, data_yaml, current, options)  # every round trains the start's model
        if round_number == 1:
            with _stage("held_out_start", stages):
                result.start_held_out = held_out_scores(model, train_cfg, device)
            evaluation_seconds = stages["held_out_start"]
        left = deadline - time.monotonic()
        rounds_left = options.rounds - round_number + 1
        overhead = stages[f"round{round_number}_predict"] + evaluation_seconds
        minutes = (left - overhead * rounds_left - evaluation_seconds) / 60 / rounds_left
        if round_number > 1 and minutes < MIN_TRAIN_MINUTES:
            say(f"[yellow]Round {round_number} skipped: {max(0.0, left) / 60:.1f} min of the budget left[/]")
            break
        minutes = max(minutes, 0.05)
        train_cfg.training.max_minutes = round(minutes, 3)
        say(f"Round {round_number}: fine-tuning for {minutes:.1f} min on {len(train_clips)} clips "
            f"(pseudo-labels: {_label_line(labels)})")
        round_dir = run_dir / f"round{round_number}"
        with _stage(f"round{round_number}_train", stages):
            trained = Trainer(train_cfg, task_of(train_cfg), round_dir, console).fit()
        best = round_dir / "weights" / "best.pt"
        if trained.interrupted:  # Ctrl-C: what was trained so far is judged like a finished round
            say("[yellow]Interrupted: judging what was trained so far[/]")
            result.interrupted = True
        if best.is_file():
            with _stage(f"round{round_number}_held_out", stages):
                round_model, _, _ = load_weights(best, device)
                scores = held_out_scores(round_model, train_cfg, device)
            result.rounds.append(RoundReport(round_number, {p.name: labels[p][1].counts() for p in paths},
                                             len(train_clips), trained.epochs_done, round(minutes, 2), scores,
                                             str(best)))
            current, current_model = best, round_model
        if trained.interrupted:
            break
    _decide(result)
    result.weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.source or weights, result.weights)
    result.seconds = time.monotonic() - started
    write_report(result)
    return result


def held_out_scores(model: torch.nn.Module, cfg: DictConfig, device: torch.device) -> dict[str, float]:
    """F1 at the validation tolerance on each held-out part of the adapt data (`VAL_PARTS`)."""
    training_task = task_of(cfg).training(cfg)
    scores = {}
    for part in VAL_PARTS:
        if part in cfg.data.splits:
            dataset = build_dataset(cfg, part, train=False, normalize=False)
            metrics = training_task.validate(model, dataset, device, int(cfg.training.batch_size),
                                             int(cfg.training.num_workers), None)
            scores[part] = round(float(metrics["val_f1"]), 4)
    return scores


def _decide(result: AdaptResult) -> None:
    """Pick the round that gains most on the two held-out checks together, among those that win
    MIN_GAIN on the composites and lose at most MAX_LOSS on the real frames; or none, and say why."""
    start = result.start_held_out
    real, composite = VAL_PARTS
    best = None
    for candidate in result.rounds:
        gain = candidate.held_out.get(composite, 0.0) - start.get(composite, 0.0)
        real_gain = candidate.held_out.get(real, 0.0) - start.get(real, 0.0) if real in start else 0.0
        if gain >= MIN_GAIN and real_gain >= -MAX_LOSS and (best is None or gain + real_gain > best[0]):
            best = (gain + real_gain, candidate)
    if best is None:
        result.verdict = (f"Kept the starting weights: no round won {MIN_GAIN} F1 on the held-out composites "
                          f"while losing at most {MAX_LOSS} on the held-out real frames")
        return
    chosen = best[1]
    result.adapted, result.source = True, Path(chosen.weights)
    result.verdict = (f"Adapted (round {chosen.round}): held-out composite F1 {start.get(composite, 0):.3f} -> "
                      f"{chosen.held_out.get(composite, 0):.3f}, real {start.get(real, float('nan')):.3f} -> "
                      f"{chosen.held_out.get(real, float('nan')):.3f}")


def write_report(result: AdaptResult) -> None:
    """`report.json` (everything) and `summary.md` (what a user reads) in the run folder."""
    report = {"version": __version__, "weights": str(result.weights), "start_weights": str(result.start_weights),
              "adapted": result.adapted, "verdict": result.verdict, "interrupted": result.interrupted,
              "start_held_out": result.start_held_out,
              "rounds": [asdict(r) for r in result.rounds], "shots": result.shots, "skipped": result.skipped,
              "stages_seconds": {k: round(v, 1) for k, v in result.stages.items()},
              "seconds": round(result.seconds, 1)}
    write_json(result.run_dir / "report.json", report)
    lines = [f"# tracknet adapt: {result.run_dir.name}", "", f"**{result.verdict}.**", "",
             f"Weights to use: `{result.weights}` (started from `{result.start_weights}`).", "",
             "| model | " + " | ".join(VAL_PARTS) + " |", "|---|" + "---:|" * len(VAL_PARTS),
             "| start | " + " | ".join(_cell(result.start_held_out, p) for p in VAL_PARTS) + " |"]
    lines += [f"| round {r.round} | " + " | ".join(_cell(r.held_out, p) for p in VAL_PARTS) + " |"
              for r in result.rounds]
    lines += ["", "Held-out F1 at 4 px of the model input. Stages (s): "
              + ", ".join(f"{k} {v:.0f}" for k, v in result.stages.items()) + f"; total {result.seconds:.0f} s.",
              "", f"Shots with a court: {len(result.shots)}; without: {len(result.skipped)}."]
    lines += [f"- skipped {why}" for why in result.skipped]
    atomic_write_text(result.run_dir / "summary.md", "\n".join(lines) + "\n")


def _cell(scores: dict[str, float], part: str) -> str:
    return f"{scores[part]:.3f}" if part in scores else "-"


@contextmanager
def _stage(name: str, stages: dict[str, float]) -> Iterator[None]:
    """Times a block into `stages[name]` (seconds)."""
    started = time.monotonic()
    try:
        yield
    finally:
        stages[name] = time.monotonic() - started


def _real_clips(root: Path, labels: dict[Path, tuple[Detections, PseudoLabels]], stores: dict[Path, FrameStore],
                first_game: int, shortest: int, held_out: bool) -> list[str]:
    """Each video's pseudo-labelled clips and their ball-removed copies, of its held-out blocks or
    the others. A video has four games from `first_game + 4 k`: train, held out, and the
    ball-removed copy of each; a round rewrites them."""
    clips = []
    for k, (path, (seen, found)) in enumerate(labels.items()):
        game = first_game + 4 * k + int(held_out)
        clips += write_pseudo_clips(root, game, stores[path], found, seen.letterbox, held_out, shortest)
        clips += write_ball_removed_clips(root, game + 2, stores[path], found, seen.letterbox, seen.info.fps,
                                          held_out, shortest)
    return clips


def _court_shots(paths: list[Path], cfg: DictConfig, options: AdaptOptions) -> tuple[list[Backdrop], list[str]]:
    try:
        return find_backdrops(paths, _background_spec(cfg, options, 1), options.workers)
    except DataError as exc:
        raise TracknetError(f"adapt needs footage with a court in view: {exc}") from None


def _background_spec(cfg: DictConfig, options: AdaptOptions, shots: int) -> BackgroundSpec:
    """Composites at the model's input size, `composite_frames` spread over (at most MAX_SHOTS)
    shots, at least two clips a shot (one trains, one is held out)."""
    width, height = (int(v) for v in cfg.model.input_size)
    per_shot = options.composite_frames / max(1, min(shots, MAX_SHOTS))
    clips = max(2, math.ceil(per_shot / COMPOSITE_CLIP_FRAMES))
    return BackgroundSpec(clips_per_shot=clips, frames_per_clip=COMPOSITE_CLIP_FRAMES, width=width, height=height,
                          seed=options.seed)


def _spread(items: list, most: int) -> list:
    """At most `most` of `items`, evenly spread over them."""
    if len(items) <= most:
        return items
    return [items[round(i)] for i in np.linspace(0, len(items) - 1, most)]


def _pseudo_labels(model: torch.nn.Module, cfg: DictConfig, paths: list[Path], backdrops: list[Backdrop],
                   device: torch.device, options: AdaptOptions, stores: dict[Path, FrameStore] | None,
                   round_number: int) -> dict[Path, tuple[Detections, PseudoLabels]]:
    """Each video's detections by `model` and the pseudo-labels they give (storing frames into
    `stores` on the way, when given)."""
    predictor = Predictor.from_loaded(model, cfg, device)
    found = {}
    with progress_bar("frames") as bar:
        for path in paths:
            with VideoReader(path) as reader:
                task = bar.add_task(f"Round {round_number}: predicting {path.name}",
                                    total=reader.info.frame_count or None)
                seen = detect_video(reader, predictor, options.batch_size, lambda n: bar.advance(task, n),
                                    stores[path] if stores else None)
            n = len(seen.candidates)
            track = seen.track(TrajectoryConfig(), predictor.spec)
            usable = np.zeros(n, dtype=bool)
            for backdrop in backdrops:
                if backdrop.video == path:
                    usable[backdrop.frames[0]:backdrop.frames[1] + 1] = True
            found[path] = (seen, select_pseudo_labels(
                track, seen.candidates, footage_times(seen.repeats, n), seen.info.fps,
                max(seen.info.width, seen.info.height), detection_noise(predictor.spec, seen.letterbox), usable))
    return found


def _training_config(cfg: DictConfig, data_yaml: Path, start: Path, options: AdaptOptions) -> DictConfig:
    """The fine-tuning config: the model of `cfg` (as `load_weights` gives it: no pretrained files to
    load) on the adapt data, from `start`'s weights."""
    train_cfg = load_config(data_yaml, to_container(cfg.model), options.training,
                            [f"training.seed={options.seed}", f"training.device={options.device}"])
    train_cfg.training.init_weights = str(Path(start).resolve())
    return train_cfg


def _label_line(labels: dict) -> str:
    total = {}
    for _, found in labels.values():
        for key, value in found.counts().items():
            total[key] = total.get(key, 0) + value
    return f"{total.get('ball', 0)} ball ({total.get('filled', 0)} filled), {total.get('no_ball', 0)} no-ball"


def _length(path: Path) -> tuple[int, float]:
    """(frames its header claims, 0 if unknown; frames per second)."""
    with VideoReader(path) as reader:
        return reader.info.frame_count, reader.info.fps
