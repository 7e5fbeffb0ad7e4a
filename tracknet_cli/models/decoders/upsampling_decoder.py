"""Upsampling decoder: from one coarse map (a ViT's patch grid) up to the heatmap resolution."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from tracknet_cli.models.backbones.base import FeatureInfo
from tracknet_cli.models.decoders.blocks import ResidualBlock


@dataclass
class UpsamplingDecoderConfig:
    type: str = "upsampling"
    channels: list[int] = field(default_factory=lambda: [384, 256, 128, 64])  # one per stage
    upsample: list[int] = field(default_factory=lambda: [2, 2, 2])  # factor after each stage but the last
    blocks_per_stage: int = 1
    norm: str = "gn"  # gn | bn
    activation: str = "gelu"  # gelu | relu | silu
    use_depthwise: bool = True
    use_se: bool = False
    se_reduction: int = 4
    dropout: float = 0.0


class UpsamplingDecoder(nn.Module):
    """Per stage: 1x1 projection, residual blocks, then upsampling; finally resize to the heatmap size.

    With a stride-16 ViT grid, channels [384, 256, 128, 64] and upsample [2, 2, 2] end at stride 2:
    a 288x512 input gives 144x256, the heatmap size, with no final resize needed.
    """

    def __init__(self, feature_info: dict[str, FeatureInfo], cfg: UpsamplingDecoderConfig):
        super().__init__()
        if len(cfg.upsample) != len(cfg.channels) - 1:
            raise ValueError(f"model.decoder.upsample needs {len(cfg.channels) - 1} factors (one between "
                             f"each pair of channels), got {list(cfg.upsample)}")
        self.source = list(feature_info)[-1]  # the coarsest map
        self.upsample = list(cfg.upsample)
        in_channels = [feature_info[self.source].channels] + list(cfg.channels[:-1])
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, 1),
                *[ResidualBlock(c_out, cfg.norm, cfg.activation, cfg.use_depthwise,
                                cfg.se_reduction if cfg.use_se else None, cfg.dropout)
                  for _ in range(cfg.blocks_per_stage)],
            )
            for c_in, c_out in zip(in_channels, cfg.channels)
        )
        self.out_channels = cfg.channels[-1]

    def forward(self, features: dict[str, torch.Tensor], out_size: tuple[int, int]) -> torch.Tensor:
        """-> [B, channels[-1], *out_size]; `out_size` is (H, W) of the heatmap."""
        x = features[self.source]
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index < len(self.upsample):
                x = F.interpolate(x, scale_factor=self.upsample[index], mode="bilinear", align_corners=False)
        if tuple(x.shape[-2:]) != tuple(out_size):
            x = F.interpolate(x, size=out_size, mode="bilinear", align_corners=False)
        return x
