"""The model registry: every named model is a config under configs/model/, built from its parts.

A model config names a part of each kind by `type`; each type has a config dataclass (its keys,
types and defaults) and a class. `build_model(cfg.model)` validates the parts and assembles them:
a heatmap model (`model.task: heatmap`) from a backbone, a decoder and a head; a reference-based
detector (`model.task: refdet`) from a backbone and its own fusion, correlation and head.
Adding a backbone or decoder is one entry in these tables.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from tracknet_cli.config import available_configs, check_keys, find_config_file
from tracknet_cli.errors import ConfigError, describe
from tracknet_cli.models.backbones.cnn_backbone import CNNBackbone, CNNBackboneConfig
from tracknet_cli.models.backbones.convnext_backbone import ConvNeXtBackbone, ConvNeXtBackboneConfig
from tracknet_cli.models.backbones.vit_backbone import ViTBackbone, ViTBackboneConfig
from tracknet_cli.models.decoders.deformable_decoder import (
    DeformableFPNDecoder,
    DeformableFPNDecoderConfig,
)
from tracknet_cli.models.decoders.fpn_decoder import FPNDecoder, FPNDecoderConfig
from tracknet_cli.models.decoders.upsampling_decoder import (
    UpsamplingDecoder,
    UpsamplingDecoderConfig,
)
from tracknet_cli.models.heads.heatmap_head import HeatmapHead, HeatmapHeadConfig
from tracknet_cli.models.heatmap_model import HeatmapModel
from tracknet_cli.models.refdet import RefDetModel

PARTS: dict[str, dict[str, tuple[type, type]]] = {
    "backbone": {"vit": (ViTBackbone, ViTBackboneConfig),
                 "convnext": (ConvNeXtBackbone, ConvNeXtBackboneConfig),
                 "cnn": (CNNBackbone, CNNBackboneConfig)},
    "decoder": {"upsampling": (UpsamplingDecoder, UpsamplingDecoderConfig),
                "fpn": (FPNDecoder, FPNDecoderConfig),
                "deformable_fpn": (DeformableFPNDecoder, DeformableFPNDecoderConfig)},
    "head": {"heatmap": (HeatmapHead, HeatmapHeadConfig)},
}
TASK_PARTS = {"heatmap": ("backbone", "decoder", "head"), "refdet": ("backbone",)}  # parts named by `type`


def available_models(task: str | None = None) -> list[str]:
    """Names `--model` accepts: the model configs shipped in configs/model/ (of one task if given)."""
    names = available_configs("model")
    if task is None:
        return names
    return [name for name in names
            if (OmegaConf.load(find_config_file("model", name)).get("task") or "heatmap") == task]


def part_config(model_cfg: DictConfig, kind: str) -> Any:
    """The validated config dataclass of one part (`backbone`, `decoder`, `head`) of a model."""
    values = OmegaConf.to_container(model_cfg[kind]) if model_cfg[kind] is not None else {}
    kind_types = PARTS[kind]
    part_type = values.get("type")
    if part_type not in kind_types:
        raise ConfigError(f"model.{kind}.type {part_type!r} is not one of {sorted(kind_types)}")
    schema = kind_types[part_type][1]
    check_keys(values, schema(), f"model.{kind}.", source=f"model {model_cfg.name or '(unnamed)'}")
    try:
        part = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except OmegaConfBaseException as exc:
        key = f"model.{kind}.{getattr(exc, 'full_key', '?')}"
        raise ConfigError(f"{key}: {describe(exc)}") from None
    _check_counts(part, kind)
    return part


def _check_counts(part: Any, kind: str) -> None:
    """Every whole number of a part's config is a width, a count, a factor or a 1-based stage:
    zero or less would fail deep in the build or the first forward, so it fails here, by key."""
    for field in fields(part):
        value = getattr(part, field.name)
        numbers = value if isinstance(value, list) else [value]
        if any(isinstance(n, int) and not isinstance(n, bool) and n < 1 for n in numbers):
            raise ConfigError(f"model.{kind}.{field.name}: expected whole numbers of at least 1, got {value}")


def check_model_config(model_cfg: DictConfig) -> None:
    """Validate every part before any work starts."""
    for kind in TASK_PARTS[model_cfg.task]:
        part_config(model_cfg, kind)


def random_init(model_cfg: DictConfig) -> DictConfig:
    """A copy of `model_cfg` whose backbone starts from random weights: for a model a checkpoint
    then fills, which needs no pretrained files."""
    copy = deepcopy(model_cfg)
    OmegaConf.update(copy, "backbone.use_pretrained", False)
    return copy


def build_model(model_cfg: DictConfig) -> nn.Module:
    """Build any registered model from its config; weights random unless the backbone asks for them."""
    if model_cfg.task == "refdet":
        backbone_cfg = part_config(model_cfg, "backbone")
        backbone = PARTS["backbone"][backbone_cfg.type][0](backbone_cfg, in_frames=1)
        return RefDetModel(backbone, OmegaConf.to_object(model_cfg))
    frames, output_frames = int(model_cfg.frames), int(model_cfg.output_frames)
    in_frames = frames if model_cfg.fusion == "early" else 1
    backbone_cfg, decoder_cfg, head_cfg = (part_config(model_cfg, kind) for kind in TASK_PARTS["heatmap"])
    backbone = PARTS["backbone"][backbone_cfg.type][0](backbone_cfg, in_frames=in_frames)
    decoder = PARTS["decoder"][decoder_cfg.type][0](backbone.feature_info, decoder_cfg)
    head = HeatmapHead(decoder.out_channels, output_frames, head_cfg)
    heatmap_stride = model_cfg.input_size[0] // model_cfg.heatmap.size[0]  # checked with the config
    return HeatmapModel(backbone, decoder, head, frames, output_frames, model_cfg.fusion, heatmap_stride)
