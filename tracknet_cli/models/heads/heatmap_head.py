"""Heatmap head: decoder features -> one logit map per output frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from tracknet_cli.models.decoders.blocks import ConvNormAct


@dataclass
class HeatmapHeadConfig:
    type: str = "heatmap"
    channels: int = 64  # width of the 3x3 layer before the logits
    prior: float = 0.01  # initial ball probability per pixel: most pixels are background


class HeatmapHead(nn.Module):
    """3x3 conv-norm-GELU, then a 1x1 conv to `out_frames` logits; the loss applies the sigmoid.

    The logit bias starts at log(prior / (1 - prior)) so the first steps are not spent learning
    that almost every pixel is background (the focal-loss initialisation).
    """

    def __init__(self, in_channels: int, out_frames: int = 1, cfg: HeatmapHeadConfig | None = None):
        super().__init__()
        cfg = cfg or HeatmapHeadConfig()
        self.body = ConvNormAct(in_channels, cfg.channels, 3)
        self.logits = nn.Conv2d(cfg.channels, out_frames, 1)
        nn.init.constant_(self.logits.bias, math.log(cfg.prior / (1 - cfg.prior)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.body(x))
