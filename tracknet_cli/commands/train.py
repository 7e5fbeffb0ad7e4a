"""`tracknet train`: a new run, a resumed one, or a dry run of a config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from tracknet_cli.config import apply_overrides, to_container
from tracknet_cli.errors import ConfigError, TracknetError
from tracknet_cli.ops.ms_deform_attn import BACKEND_ENV_VAR, resolve_backend
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import available_models, load_config, task_of
from tracknet_cli.training.checkpoint import check_resume_config, load_checkpoint
from tracknet_cli.training.launch import train as launch
from tracknet_cli.training.trainer import Trainer, TrainResult
from tracknet_cli.weights import choose_weights, saved_config


@dataclass
class TrainRun:
    cfg: DictConfig
    run_dir: Path
    result: TrainResult | None  # None in the parent of `--devices N` processes


def set_msda_backend(backend: str | None) -> None:
    """The deformable attention's backend for this process and the ones it starts (a runtime
    choice, not part of the model): auto, torch or triton."""
    if backend is not None:
        resolve_backend(backend, "cpu" if backend != "triton" else "cuda")  # refuses unknown names
        os.environ[BACKEND_ENV_VAR] = backend


def train(model: str | Path | None, data: str | Path | None = None, training: str | Path | None = None,
          overrides: list[str] | tuple[str, ...] = (), devices: int = 1, name: str | None = None,
          exist_ok: bool = False, console: Console | None = None, weights: str | Path | None = None,
          partial: bool = False) -> TrainRun:
    """Train `model` on `data` with `training` (names or YAML paths; the task's defaults when
    None) into a new `runs/train/<name>/`. With `weights` (a checkpoint, or `builtin`), start from
    them with a fresh optimizer and schedule: `model` None trains the checkpoint's own model;
    another model is refused by name unless `partial` (load the tensors that fit)."""
    cfg = new_run_config(model, data, training, overrides, weights, partial)
    run_dir = new_run_dir("train", name, exist_ok)
    if console:
        console.print(f"Training [bold]{cfg.model.name}[/] on [bold]{cfg.data.name}[/] into {run_dir}")
    return TrainRun(cfg, run_dir, launch(task_of(cfg), cfg, run_dir, devices, console=console))


def new_run_config(model: str | Path | None, data: str | Path | None, training: str | Path | None,
                   overrides: list[str] | tuple[str, ...], weights: str | Path | None = None,
                   partial: bool = False) -> DictConfig:
    """The config of a new run; with `weights`, the fine-tuning one (`train`'s rules), which
    records the weights it starts from as `training.init_weights`."""
    if weights is None:
        if model is None:
            raise TracknetError(f"choose a model (--model) or weights to start from (--weights); models: "
                                f"{', '.join(available_models())}")
        return load_config(data, model, training, overrides)
    start = choose_weights(weights)
    if start.suffix.lower() == ".onnx":
        raise TracknetError(f"--weights {start}: an ONNX export cannot be trained further; give its checkpoint")
    saved = saved_config(load_checkpoint(start)).model
    cfg = load_config(data, model if model is not None else to_container(saved), training, overrides)
    if cfg.model.name != saved.name and not partial:
        raise ConfigError(f"--weights {start} holds model {saved.name!r}, not {cfg.model.name!r}: leave out "
                          f"--model to fine-tune {saved.name!r}, or add --weights-partial to load what fits")
    cfg.training.init_weights, cfg.training.init_partial = str(start.resolve()), partial
    return cfg


def resume(last: str | Path, overrides: list[str] | tuple[str, ...] = (), devices: int = 1,
           console: Console | None = None) -> TrainRun:
    """Continue the run that wrote `last` (its `weights/last.pt`) exactly; `overrides` may change
    only what `training.checkpoint.RESUMABLE` allows."""
    last = Path(last)
    if last.parent.name != "weights":  # the run is written where it was: <run>/weights/last.pt
        raise TracknetError(f"--resume takes a run's weights/last.pt; {last} is not in a run's weights/ folder")
    checkpoint = load_checkpoint(last)
    saved = saved_config(checkpoint)
    cfg = apply_overrides(saved, overrides)
    check_resume_config(saved, cfg, last)
    run_dir = last.parent.parent
    return TrainRun(cfg, run_dir, launch(task_of(cfg), cfg, run_dir, devices, last, console, checkpoint))


def dry_run(model: str | Path | None, data: str | Path | None = None, training: str | Path | None = None,
            overrides: list[str] | tuple[str, ...] = (), console: Console | None = None,
            weights: str | Path | None = None, partial: bool = False) -> tuple[DictConfig, dict]:
    """The resolved config (printed first), and one training step and one validation batch of it
    (from `weights`, as `train` would start); no run is written (a dataset without an index gets one)."""
    cfg = new_run_config(model, data, training, overrides, weights, partial)
    if console:
        console.print(OmegaConf.to_yaml(cfg))
    return cfg, Trainer(cfg, task_of(cfg), None, console).dry_run()
