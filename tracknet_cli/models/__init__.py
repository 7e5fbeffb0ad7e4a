"""Models: backbones, decoders and heads, the families they assemble into (heatmap models,
reference-based detectors), their config schemas, and the decoding of their outputs."""

from tracknet_cli.models.backbones.base import Backbone, FeatureInfo
from tracknet_cli.models.backbones.cnn_backbone import CNNBackbone, CNNBackboneConfig
from tracknet_cli.models.backbones.convnext_backbone import ConvNeXtBackbone, ConvNeXtBackboneConfig
from tracknet_cli.models.backbones.vit_backbone import ViTBackbone, ViTBackboneConfig
from tracknet_cli.models.build import build_heatmap_model, build_refdet_model, check_model_config
from tracknet_cli.models.decoders.fpn_decoder import FPNDecoder, FPNDecoderConfig
from tracknet_cli.models.decoders.upsampling_decoder import (
    UpsamplingDecoder,
    UpsamplingDecoderConfig,
)
from tracknet_cli.models.heads.heatmap_head import HeatmapHead, HeatmapHeadConfig
from tracknet_cli.models.heatmap_model import HeatmapModel, HeatmapModelConfig
from tracknet_cli.models.refdet import RefDetModel, RefdetModelConfig

__all__ = [
    "Backbone", "CNNBackbone", "CNNBackboneConfig", "ConvNeXtBackbone", "ConvNeXtBackboneConfig",
    "FPNDecoder", "FPNDecoderConfig", "FeatureInfo", "HeatmapHead", "HeatmapHeadConfig",
    "HeatmapModel", "HeatmapModelConfig", "RefDetModel", "RefdetModelConfig", "UpsamplingDecoder",
    "UpsamplingDecoderConfig", "ViTBackbone", "ViTBackboneConfig", "build_heatmap_model",
    "build_refdet_model", "check_model_config",
]
