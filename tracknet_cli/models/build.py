"""The parts registry and the builders: every named model is a config under configs/model/,
assembled from parts its config names by `type`.

Each part type has a config dataclass (its keys, types and defaults) and a class. A model family's
schema lists the parts it has (`HeatmapModelConfig.parts`); `check_model_config` validates them
and the family's builder assembles them: `build_heatmap_model` a backbone, a decoder and a head;
`build_refdet_model` a backbone and the detector's own fusion, correlation and head. The task
table (`tasks.py`) names each family's builder. Adding a backbone or decoder is one entry in PARTS.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from tracknet_cli.config import check_keys
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
# keys a part's config once had, with what replaced them: a user's config that still sets one is
# told so; a checkpoint that saved one loads without it (`drop_retired_keys`)
RETIRED_KEYS = {
    "decoder": {"msda_backend": "the deformable attention's backend is a runtime choice now: "
                                "TRACKNET_MSDA_BACKEND=torch|triton|auto or `tracknet train --msda-backend`"},
}


def part_config(model_cfg: DictConfig, kind: str) -> Any:
    """The validated config dataclass of one part (`backbone`, `decoder`, `head`) of a model."""
    values = OmegaConf.to_container(model_cfg[kind]) if model_cfg[kind] is not None else {}
    for key, replacement in RETIRED_KEYS.get(kind, {}).items():
        if key in values:
            raise ConfigError(f"model.{kind}.{key} is no longer a model key: {replacement}")
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
    """Validate every part of a model section before any work starts."""
    for kind in OmegaConf.get_type(model_cfg).parts:
        part_config(model_cfg, kind)


def drop_retired_keys(values: dict) -> dict:
    """A saved model section without the keys of RETIRED_KEYS (a checkpoint of an older version)."""
    for kind, retired in RETIRED_KEYS.items():
        part = values.get(kind)
        if isinstance(part, dict):
            values[kind] = {key: value for key, value in part.items() if key not in retired}
    return values


def _backbone(model_cfg: DictConfig, in_frames: int, pretrained: bool):
    backbone_cfg = part_config(model_cfg, "backbone")
    if not pretrained:  # a checkpoint will fill the weights: no pretrained files needed
        backbone_cfg.use_pretrained = False
    return PARTS["backbone"][backbone_cfg.type][0](backbone_cfg, in_frames=in_frames)


def build_heatmap_model(model_cfg: DictConfig, pretrained: bool = True) -> HeatmapModel:
    """A heatmap model from its config; backbone weights random unless the config asks for
    pretrained ones and `pretrained` allows them."""
    frames, output_frames = int(model_cfg.frames), int(model_cfg.output_frames)
    # images the backbone's first layer reads: the T frames (early fusion) and their T - 1 differences
    stacked = 2 * frames - 1 if model_cfg.frame_differences else frames
    backbone = _backbone(model_cfg, stacked if model_cfg.fusion == "early" else 1, pretrained)
    decoder_cfg, head_cfg = part_config(model_cfg, "decoder"), part_config(model_cfg, "head")
    decoder = PARTS["decoder"][decoder_cfg.type][0](backbone.feature_info, decoder_cfg)
    head = HeatmapHead(decoder.out_channels, output_frames, head_cfg)
    heatmap_stride = model_cfg.input_size[0] // model_cfg.heatmap.size[0]  # checked with the config
    return HeatmapModel(backbone, decoder, head, frames, output_frames, model_cfg.fusion, heatmap_stride,
                        model_cfg.frame_differences)


def build_refdet_model(model_cfg: DictConfig, pretrained: bool = True) -> RefDetModel:
    """A reference-based detector from its config (see `build_heatmap_model` for `pretrained`)."""
    return RefDetModel(_backbone(model_cfg, 1, pretrained), OmegaConf.to_object(model_cfg))
