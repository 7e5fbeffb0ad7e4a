"""Heatmap models: backbones, decoders, heads and the registry that assembles them."""

from tracknet_cli.models.backbones.base import Backbone, FeatureInfo
from tracknet_cli.models.backbones.cnn_backbone import CNNBackbone, CNNBackboneConfig
from tracknet_cli.models.backbones.convnext_backbone import ConvNeXtBackbone, ConvNeXtBackboneConfig
from tracknet_cli.models.backbones.vit_backbone import ViTBackbone, ViTBackboneConfig
from tracknet_cli.models.build import available_models, build_model
from tracknet_cli.models.decoders.fpn_decoder import FPNDecoder, FPNDecoderConfig
from tracknet_cli.models.decoders.upsampling_decoder import (
    UpsamplingDecoder,
    UpsamplingDecoderConfig,
)
from tracknet_cli.models.heads.heatmap_head import HeatmapHead, HeatmapHeadConfig
from tracknet_cli.models.heatmap_model import HeatmapModel

__all__ = [
    "Backbone", "CNNBackbone", "CNNBackboneConfig", "ConvNeXtBackbone", "ConvNeXtBackboneConfig",
    "FPNDecoder", "FPNDecoderConfig", "FeatureInfo", "HeatmapHead", "HeatmapHeadConfig",
    "HeatmapModel", "UpsamplingDecoder", "UpsamplingDecoderConfig", "ViTBackbone",
    "ViTBackboneConfig", "available_models", "build_model",
]
