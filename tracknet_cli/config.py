"""Configs: the schema with every default, composition from YAML files, overrides, validation.

A run's config has three sections, each from one YAML file under `configs/<section>/` (or any
path) plus `section.key=value` overrides from the command line:

    data      where the frames and labels are, splits, windows, augmentation
    model     architecture, input and output geometry, normalisation; its schema is the model
              family's own dataclass, kept beside the model (`models/heatmap_model.py`,
              `models/refdet.py`) and chosen by `model.task` in the task table (`tasks.py`)
    training  optimisation, batch size, loader workers, schedule

The dataclasses here and the model schemas are the single source of truth for keys, types and
defaults. An unknown key or a value of the wrong type fails here, before any work starts, naming
the key, the file it came from and the closest valid key. This module knows no model: whoever
composes a config passes the model section's schema (`tasks.load_config` does).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tracknet_cli.errors import ConfigError, describe
from tracknet_cli.fileio import atomic_write_text

SECTIONS = ("data", "model", "training")
SCHEDULES = ("cosine", "constant")  # training.scheduler.name


# ----------------------------------------------------------------------------------------- data
@dataclass
class SplitConfig:
    """Clips of one split: every clip of the listed games plus the listed clips ("game1/Clip3").

    A clip listed by name in one split is taken out of every split that holds it only by game,
    so `train: {games: [1, 2]}` with `val: {clips: [game1/Clip1]}` keeps that clip out of train.
    With `rest`, the split also takes every game no other split names: a dataset whose number of
    games is not known in advance (real shots added to a synthetic one) trains on all of them.
    """

    games: list[int] = field(default_factory=list)
    clips: list[str] = field(default_factory=list)
    rest: bool = False


@dataclass
class ColorJitterConfig:
    p: float = 0.5
    brightness: float = 0.25  # factor drawn from [1 - b, 1 + b]
    contrast: float = 0.25
    saturation: float = 0.25
    hue: float = 0.02  # fraction of the hue circle


@dataclass
class MotionBlurConfig:
    p: float = 0.2
    max_kernel: int = 7  # longest blur streak in input pixels (odd kernels, 3 to this)


@dataclass
class CropConfig:
    p: float = 0.0
    min_size: float = 0.6  # smallest crop side as a fraction of the frame, aspect kept


@dataclass
class AugmentConfig:
    """Training-time augmentation, identical for all T frames of a sample."""

    hflip: float = 0.5  # probability
    scale: list[float] = field(default_factory=lambda: [0.9, 1.1])  # zoom range, 1 = none
    translate: float = 0.05  # largest shift, fraction of the frame size
    crop: CropConfig = field(default_factory=CropConfig)
    color_jitter: ColorJitterConfig = field(default_factory=ColorJitterConfig)
    motion_blur: MotionBlurConfig = field(default_factory=MotionBlurConfig)


@dataclass
class DataConfig:
    name: str = "synthetic"
    format: str = "tracknet"  # tracknet: game*/Clip*/ with a Label.csv per clip | refdet: templates/, train/, val/
    root: str = "data/synthetic"
    splits: dict[str, SplitConfig] = field(default_factory=dict)
    stride: int = 1  # frames between the starts of consecutive training windows
    # frames between validation/evaluation windows; None: model.output_frames, so every frame is
    # predicted once (TrackNetV2's protocol); 1 averages the overlapping windows' heatmaps: a
    # little more accurate at T_out times the cost
    eval_stride: int | None = None
    cache: str = "auto"  # auto: use a prepared frame cache at the input size if there is one; off
    negatives: bool = True  # frames without a ball train the model to predict nothing
    augment: AugmentConfig = field(default_factory=AugmentConfig)


# ------------------------------------------------------------------------------------- training
@dataclass
class OptimizerConfig:
    name: str = "adamw"
    lr: float = 1e-3
    backbone_lr: float | None = None  # None: lr / 10 for a pretrained backbone, lr for a random one
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class SchedulerConfig:
    name: str = "cosine"  # cosine: decay to min_lr over the run | constant: hold lr after the warmup
    warmup_epochs: float = 1.0
    min_lr: float = 1e-6


@dataclass
class LossConfig:
    name: str = "focal"  # heatmap models: mse | focal | wbce
    # reference-based detection: sigmoid focal objectness on the stride-4 grid + an IoU-family box loss
    iou_type: str = "giou"  # iou | giou | diou | ciou
    pos_radius: float = 1.5  # cells whose centre is within this many cells of the box centre are positives
    lambda_obj: float = 1.0
    lambda_bbox: float = 2.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0


@dataclass
class PatchConfig:
    """Train on patches cut from the model-input frames (refdet: search images) instead of whole ones.

    A fully convolutional model learns the same thing from a 128x128 patch as from the frame
    around it at a fraction of the cost, so a CPU gets through many more examples per minute.
    Validation and evaluation always see whole frames.
    """

    size: list[int] | None = None  # [W, H] in model-input pixels; None: whole frames
    ball_fraction: float = 0.5  # share of patches placed over the ball (refdet: the object), the rest anywhere


@dataclass
class TrainingConfig:
    epochs: int = 30
    batch_size: int = 16
    num_workers: int = 2
    accumulate: int = 1  # gradient accumulation steps
    grad_clip: float = 1.0
    amp: bool = True  # mixed precision on CUDA (bf16 where supported)
    channels_last: bool = True
    seed: int = 0
    device: str = "auto"
    val_every: int = 1
    image_every: int = 200  # steps between TensorBoard heatmap images
    # two-stage schedule: the backbone is frozen for this many epochs, then trains at
    # optimizer.backbone_lr (lets a fresh decoder settle before it moves pretrained features)
    freeze_backbone_epochs: int = 0
    # fine-tuning: start from these weights (a checkpoint's path) with a fresh optimizer and
    # schedule; `init_partial` loads the tensors whose name and shape fit and skips the rest
    init_weights: str | None = None
    init_partial: bool = False
    # stop after this many minutes of training: the epoch under way ends early, is validated and
    # saved like a last one (a time budget, e.g. `tracknet adapt`'s); None: run every epoch
    max_minutes: float | None = None
    patch: PatchConfig = field(default_factory=PatchConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    loss: LossConfig = field(default_factory=LossConfig)


@dataclass
class RootConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None  # the model family's schema (a dataclass with a `task` key), set by compose_config
    training: TrainingConfig = field(default_factory=TrainingConfig)


# ---------------------------------------------------------------------------------- composition
def configs_dir() -> Path:
    """The folder of built-in configs: inside the installed package, or the source tree's."""
    packaged = Path(__file__).resolve().parent / "configs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "configs"


def available_configs(section: str) -> list[str]:
    return sorted(p.stem for p in (configs_dir() / section).glob("*.yaml"))


def find_config_file(section: str, name_or_path: str | Path) -> Path:
    """A built-in config by name (`synthetic`) or a YAML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"{section} config file {candidate} not found")
        return candidate
    path = configs_dir() / section / f"{name_or_path}.yaml"
    if not path.is_file():
        names = available_configs(section)
        raise ConfigError(
            f"no {section} config named {str(name_or_path)!r}{_did_you_mean(str(name_or_path), names)}; "
            f"built-in: {', '.join(names) or 'none'} (or give a path to a .yaml file)"
        )
    return path


def compose_config(
    model_schema: type,
    data: str | Path | None = None,
    model: str | Path | Mapping | None = None,
    training: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> DictConfig:
    """The schema defaults (the model section's from `model_schema`), one YAML file per section
    (the model's may instead be given as values, e.g. a checkpoint's) and `key=value` overrides,
    checked."""
    sources = {section: choice if isinstance(choice, Mapping) else find_config_file(section, choice)
               for section, choice in (("data", data), ("model", model), ("training", training)) if choice is not None}
    schema = RootConfig(model=model_schema())
    merged = OmegaConf.structured(schema)
    for section, source in sources.items():
        values, where = (dict(source), f"the given {section} values") if isinstance(source, Mapping) \
            else (_read_yaml(source), str(source))
        check_keys(values, getattr(schema, section), f"{section}.", source=where)
        merged = _merge(merged, {section: values}, source=where)
        if section == "model" and not merged.model.name and not isinstance(source, Mapping):
            merged.model.name = source.stem
    merged = apply_overrides(merged, overrides)
    check_values(merged)
    return merged


def load_data_config(data: str | Path) -> DictConfig:
    """One `data` section (a built-in name or a YAML path), checked: to score a model on another
    dataset than its own."""
    path = find_config_file("data", data)
    values = _read_yaml(path)
    check_keys(values, DataConfig(), "data.", source=str(path))
    return _merge(OmegaConf.structured(DataConfig), values, source=str(path))


def model_task(model: str | Path | Mapping) -> str | None:
    """The `task` a model config (by name or path, or its values) names, if any."""
    return (model if isinstance(model, Mapping) else _read_yaml(find_config_file("model", model))).get("task")


def apply_overrides(cfg: DictConfig, overrides: list[str] | tuple[str, ...]) -> DictConfig:
    """Apply `section.key=value` overrides, with the same key and type checks as files."""
    schema = RootConfig(model=OmegaConf.get_type(cfg.model)())
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not key=value (for example training.epochs=5)")
        try:
            values = OmegaConf.to_container(OmegaConf.from_dotlist([item]))
        except Exception as exc:  # OmegaConf's errors and YAML's, for a value such as {a:1}
            raise ConfigError(f"override {item!r} cannot be parsed: {describe(exc)}") from None
        check_keys(values, schema, "", source="the command line")
        cfg = _merge(cfg, values, source="the command line")
    return cfg


def check_values(cfg: DictConfig) -> None:
    """Checks a type cannot express: sizes, ranges and choices, named by key. The model section's
    own checks are its schema's (`check`)."""
    problems = []

    def require(ok: bool, key: str, message: str) -> None:
        if not ok:
            problems.append(f"{key}: {message}")

    model, data = cfg.model, cfg.data
    schema = OmegaConf.get_type(model)
    require(model.task == schema.task, "model.task",
            f"{model.task!r} cannot be set by an override; choose a model config of that task")
    schema.check(model, require)
    for key in ("mean", "std"):
        require(len(model[key]) == 3, f"model.{key}", "expected 3 values (R, G, B)")
    require(min(model.std) > 0, "model.std", "expected positive values")
    require(data.cache in ("auto", "off"), "data.cache", f"expected auto or off, got {data.cache!r}")
    require(data.stride >= 1, "data.stride", "expected at least 1")
    require(data.eval_stride is None or data.eval_stride >= 1, "data.eval_stride",
            "expected at least 1, or null for model.output_frames")
    augment = data.augment
    for key in ("hflip", "crop.p", "color_jitter.p", "motion_blur.p"):
        p = OmegaConf.select(augment, key)
        require(0.0 <= p <= 1.0, f"data.augment.{key}", f"a probability must be in [0, 1], got {p}")
    require(len(augment.scale) == 2 and 0 < augment.scale[0] <= augment.scale[1],
            "data.augment.scale", f"expected [low, high] with 0 < low <= high, got {list(augment.scale)}")
    require(0.0 < augment.crop.min_size <= 1.0, "data.augment.crop.min_size", "expected (0, 1]")
    require(augment.motion_blur.max_kernel >= 3, "data.augment.motion_blur.max_kernel",
            "expected at least 3")
    training = cfg.training
    for key in ("epochs", "batch_size", "accumulate", "val_every", "image_every"):
        require(training[key] >= 1, f"training.{key}", f"expected at least 1, got {training[key]}")
    for key in ("num_workers", "grad_clip", "optimizer.weight_decay", "scheduler.warmup_epochs", "scheduler.min_lr"):
        value = OmegaConf.select(training, key)
        require(value >= 0, f"training.{key}", f"expected at least 0, got {value}")
    for key in ("optimizer.lr", "optimizer.backbone_lr"):
        value = OmegaConf.select(training, key)
        require(value is None or value > 0, f"training.{key}", f"expected a positive learning rate, got {value}")
    require(cfg.training.freeze_backbone_epochs >= 0, "training.freeze_backbone_epochs", "expected at least 0")
    require(training.max_minutes is None or training.max_minutes > 0, "training.max_minutes",
            f"expected a positive number of minutes, or null, got {training.max_minutes}")
    require(training.scheduler.name in SCHEDULES, "training.scheduler.name",
            f"expected one of {list(SCHEDULES)}, got {training.scheduler.name!r}")
    require(cfg.training.freeze_backbone_epochs == 0 or not model.backbone.get("freeze"),
            "training.freeze_backbone_epochs", "the backbone is frozen for the whole run (model.backbone.freeze); "
            "set one of the two")
    _check_loss(cfg.training.loss, require)
    _check_patch(cfg, require)
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems))


def _check_loss(loss: DictConfig, require) -> None:
    require(loss.iou_type in ("iou", "giou", "diou", "ciou"), "training.loss.iou_type",
            f"expected iou, giou, diou or ciou, got {loss.iou_type!r}")
    require(loss.pos_radius >= 0, "training.loss.pos_radius", "expected at least 0 (cells)")
    for key in ("lambda_obj", "lambda_bbox", "focal_gamma"):
        require(loss[key] >= 0, f"training.loss.{key}", "expected at least 0")
    require(0.0 <= loss.focal_alpha <= 1.0, "training.loss.focal_alpha", "expected [0, 1]")


def _check_patch(cfg: DictConfig, require) -> None:
    patch = cfg.training.patch
    require(0.0 <= patch.ball_fraction <= 1.0, "training.patch.ball_fraction",
            f"a fraction must be in [0, 1], got {patch.ball_fraction}")
    grid = OmegaConf.get_type(cfg.model).patch_grid(cfg.model)
    if patch.size is None or grid is None:
        return
    input_size, stride = grid
    require(len(patch.size) == 2 and all(0 < p <= i for p, i in zip(patch.size, input_size))
            and all(p % stride == 0 for p in patch.size), "training.patch.size",
            f"expected [W, H] within the input size {input_size} and multiples of {stride}, "
            f"got {list(patch.size)}")


def from_container(values: dict, model_schema: type) -> DictConfig:
    """A saved config (checkpoint, spawned process) back into the typed schema, checked again."""
    schema = RootConfig(model=model_schema())
    check_keys(values, schema, "", source="a saved config")
    cfg = _merge(OmegaConf.structured(schema), values, source="a saved config")
    check_values(cfg)
    return cfg


def to_container(cfg: DictConfig) -> dict:
    """Plain dicts and lists: what goes into checkpoints (loadable with weights_only=True)."""
    return OmegaConf.to_container(cfg, resolve=True)


def save_config(cfg: DictConfig, path: str | Path) -> Path:
    atomic_write_text(path, OmegaConf.to_yaml(cfg, resolve=True))
    return Path(path)


def _read_yaml(path: Path) -> dict:
    try:
        values = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as exc:  # yaml.YAMLError and OmegaConf errors carry the line
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, found {type(values).__name__}")
    return values


def _merge(base: DictConfig, values: dict, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, values)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"{key} (from {source}): {describe(exc)}") from None


def check_keys(values: Any, schema: Any, prefix: str, source: str) -> None:
    """Walk `values` against the dataclass `schema`; name unknown keys and the closest valid one."""
    if not isinstance(values, dict):
        return
    if not is_dataclass(schema):
        mapping_of = _dict_value_schema(schema)
        if mapping_of is not None:
            for key, value in values.items():
                check_keys(value, mapping_of, f"{prefix}{key}.", source)
        return
    valid = {f.name: f for f in fields(schema)}
    hints = typing.get_type_hints(type(schema))
    for key, value in values.items():
        if key not in valid:
            full_names = [prefix + name for name in valid]
            raise ConfigError(
                f"unknown key {prefix + str(key)!r} in {source}"
                f"{_did_you_mean(prefix + str(key), full_names)}"
            )
        child = getattr(schema, key)
        if is_dataclass(child):
            check_keys(value, child, f"{prefix}{key}.", source)
        elif isinstance(value, dict) and typing.get_origin(hints[key]) is dict:
            check_keys(value, hints[key], f"{prefix}{key}.", source)


def _dict_value_schema(hint: Any) -> Any:
    """For `dict[str, SomeDataclass]`, an instance of the dataclass; otherwise None."""
    args = typing.get_args(hint)
    if len(args) == 2 and is_dataclass(args[1]):
        return args[1]()
    return None


def _did_you_mean(key: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""
