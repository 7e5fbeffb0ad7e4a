"""The task table: everything that differs between what tracknet's models do, in one place.

    task = task_of(cfg)                      # by cfg.model.task
    model = task.build_model(cfg.model)      # and its schema, data, trainer, evaluator, predictor ...

A task is one entry of TASKS naming its pieces; the commands look pieces up here and never ask which
task they run. Adding a task (events, say) is one entry plus the modules it names: a model schema
beside its model (with the graph facts `inputs`, `outputs`, `example_input`, `frames_per_row`,
`graph_metadata`, `resized`), a builder, a data format and dataset, a training task (data, loss,
validation), an evaluator, a predictor and a video runner.

This module also composes configs (`load_config`, `config_from_container`): the config layer knows
no model, and the task of a model config says which schema its `model` section has.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from tracknet_cli.config import available_configs, compose_config, from_container, model_task
from tracknet_cli.errors import ConfigError, TracknetError
from tracknet_cli.evaluation.evaluator import evaluate_ball
from tracknet_cli.evaluation.refdet_evaluator import evaluate_refdet
from tracknet_cli.inference.predictor import Predictor
from tracknet_cli.inference.refdet_predictor import RefdetPredictor
from tracknet_cli.inference.refdet_video import detect_object
from tracknet_cli.inference.video_prediction import track_ball
from tracknet_cli.models.build import build_heatmap_model, build_refdet_model, check_model_config
from tracknet_cli.models.heatmap_model import HeatmapModelConfig
from tracknet_cli.models.refdet import RefdetModelConfig
from tracknet_cli.training.tasks.heatmap import HeatmapTask
from tracknet_cli.training.tasks.refdet import RefdetTask


@dataclass(frozen=True)
class Task:
    name: str  # the value of `model.task`
    description: str  # what a model of this task is, for messages ("a ball model")
    model_schema: type  # the `model` section's dataclass, with the model's graph facts
    build_model: Callable  # (model_cfg, pretrained=True) -> nn.Module
    data_format: str  # the `data.format` its datasets read
    default_data: str  # `--data` when none is given
    default_training: str  # `--training` when none is given
    eval_split: str  # the split `tracknet eval` scores by default
    training: type  # (cfg) -> the trainer's task: datasets, inputs, losses, validation
    evaluate: Callable  # (model, cfg, split, options, on_start, progress) -> an evaluation
    predictor: type  # .from_loaded(model, cfg, device, **options): runs on images or windows
    predict_video: Callable  # (model, cfg, device, options) -> run(video, out_dir, on_start, progress) -> result
    video_options: tuple[str, ...]  # predict-video's options that only this task reads
    eval_options: tuple[str, ...] = ()  # eval's options that only this task reads


TASKS: dict[str, Task] = {task.name: task for task in (
    Task(name="heatmap", description="ball model", model_schema=HeatmapModelConfig,
         build_model=build_heatmap_model, data_format="tracknet", default_data="synthetic",
         default_training="default", eval_split="test", training=HeatmapTask, evaluate=evaluate_ball,
         predictor=Predictor, predict_video=track_ball,
         video_options=("input_size", "plot", "track", "max_gap", "smooth", "events", "bounces"),
         eval_options=("events",)),
    Task(name="refdet", description="reference-based detector", model_schema=RefdetModelConfig,
         build_model=build_refdet_model, data_format="refdet", default_data="refdet_synthetic",
         default_training="refdet", eval_split="val", training=RefdetTask, evaluate=evaluate_refdet,
         predictor=RefdetPredictor, predict_video=detect_object, video_options=("templates",)),
)}
DEFAULT_TASK = "heatmap"  # a model config without `task`, and a config composed without a model


def refuse_other_tasks_options(given: Collection[str], task: Task, weights: str | Path,
                               options_of: Callable[[Task], tuple[str, ...]]) -> None:
    """A command's options the user set (`given`) that another task reads (`options_of(task)`) but
    `task` does not are refused by name rather than silently ignored."""
    for other in TASKS.values():
        wrong = [option for option in given if option in options_of(other) and option not in options_of(task)]
        if wrong:
            options = ", ".join("--" + option.replace("_", "-") for option in wrong)
            raise TracknetError(f"{options}: for {other.description}s; {weights} holds a {task.description}")


def get_task(name: str | None, source: str = "the model config") -> Task:
    name = name or DEFAULT_TASK
    if name not in TASKS:
        raise ConfigError(f"model.task {name!r} (from {source}) is not one of {list(TASKS)}")
    return TASKS[name]


def task_of(cfg: DictConfig) -> Task:
    """The task of a whole config or of its `model` section."""
    model = cfg.model if "model" in cfg and isinstance(cfg.model, DictConfig) else cfg
    return get_task(model.task)


def load_config(data: str | Path | None = None, model: str | Path | Mapping | None = None,
                training: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """A checked config from built-in names or YAML paths (the model's also as values, e.g. a
    checkpoint's model section) plus `section.key=value` overrides. `data` and `training` default
    to the model's task's (`synthetic` and `default` for ball models); with a model, its parts and
    its data format are checked too."""
    source = model.get("name", "the given model") if isinstance(model, Mapping) else str(model)
    task = get_task(model_task(model) if model is not None else None, source=source)
    cfg = compose_config(task.model_schema, data or task.default_data, model,
                         training or task.default_training, overrides)
    _check_known_format(cfg)
    if model is not None:
        check_data_format(cfg)
        check_model_config(cfg.model)
    return cfg


def config_from_container(values: dict) -> DictConfig:
    """A saved config (a checkpoint's, an exported graph's) back into its typed schema, checked."""
    task = get_task(values.get("model", {}).get("task"), source="a saved config")
    return from_container(values, task.model_schema)


def check_data_format(cfg: DictConfig) -> None:
    """A model reads the data of its own task: ball models the TrackNet layout, refdet the refdet one."""
    _check_known_format(cfg)
    task = task_of(cfg)
    if cfg.data.format != task.data_format:
        raise ConfigError(f"model {cfg.model.name!r} is a {task.name} model and reads data.format "
                          f"{task.data_format!r}; data config {cfg.data.name!r} has format {cfg.data.format!r}")


def _check_known_format(cfg: DictConfig) -> None:
    formats = sorted({task.data_format for task in TASKS.values()})
    if cfg.data.format not in formats:
        raise ConfigError(f"invalid config: data.format: expected one of {formats}, got {cfg.data.format!r}")


def build_model(model_cfg: DictConfig, pretrained: bool = True):
    """Any registered model from its config section (see the task's builder for `pretrained`)."""
    return task_of(model_cfg).build_model(model_cfg, pretrained)


def available_models(task: str | None = None) -> list[str]:
    """Names `--model` accepts: the model configs shipped in configs/model/ (of one task if given)."""
    names = available_configs("model")
    return names if task is None else [n for n in names if (model_task(n) or DEFAULT_TASK) == task]

