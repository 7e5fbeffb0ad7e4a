"""Reference-based detection: find the object shown in three template images in a search image.

    model(templates [B, 3, 3, th, tw], search [B, 3, H, W]) ->
        {"objectness": [B, H/4, W/4] logits, "boxes": [B, 4, H/4, W/4] (x1, y1, x2, y2) in pixels}

One ConvNeXt backbone (the heatmap models' module and weight rules) reads templates and search
image alike; a small FPN gives P2 (stride 4) and P3 (stride 8). The three templates' maps are fused
into one (`attention`: weights from each template's pooled features; `average`), pooled to a small
kernel and correlated depthwise with the search maps at P2 and P3 (SiamRPN++'s depthwise
cross-correlation: each channel asks "where does this feature of the object appear?"). The
correlations and the search features feed an anchor-free head at stride 4: an objectness logit
per cell and the distances from the cell centre to the four box sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from tracknet_cli.models.backbones.convnext_backbone import ConvNeXtBackbone, ConvNeXtBackboneConfig
from tracknet_cli.models.decoders.blocks import ConvNormAct
from tracknet_cli.models.decoders.fpn_decoder import FPNDecoder, FPNDecoderConfig

TEMPLATE_FUSIONS = ("attention", "average")


@dataclass
class RefDetConfig:
    search_size: list[int] = field(default_factory=lambda: [1024, 576])  # [W, H]
    template_size: list[int] = field(default_factory=lambda: [256, 256])  # [W, H]
    fpn_channels: int = 128
    corr_channels: int = 64
    det_channels: int = 128
    template_fusion: str = "attention"
    kernel_size: int = 5  # template maps are pooled to kernel_size x kernel_size for correlation
    prior: float = 0.01  # initial objectness: bias log(0.01 / 0.99) = -4.6
    backbone: ConvNeXtBackboneConfig = field(default_factory=ConvNeXtBackboneConfig)  # stages 1-4; P2, P3 kept


class TemplateFusion(nn.Module):
    """[B, K, C, h, w] maps of K templates -> [B, C, h, w]: their weighted mean, the weights a
    softmax over templates of a score from each one's pooled features (or uniform)."""

    def __init__(self, channels: int, mode: str):
        super().__init__()
        if mode not in TEMPLATE_FUSIONS:
            raise ValueError(f"model.template_fusion {mode!r} is not one of {TEMPLATE_FUSIONS}")
        self.score = nn.Sequential(nn.Linear(channels, channels // 4), nn.ReLU(inplace=True),
                                   nn.Linear(channels // 4, 1)) if mode == "attention" else None

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        if self.score is None:
            return maps.mean(dim=1)
        weights = self.score(maps.mean(dim=(-2, -1))).softmax(dim=1)  # [B, K, 1]
        return (maps * weights[..., None, None]).sum(dim=1)


def depthwise_correlation(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """search [B, C, H, W] correlated channel by channel with kernel [B, C, k, k] -> [B, C, H, W]."""
    b, c, h, w = search.shape
    k = kernel.shape[-1]
    out = F.conv2d(search.reshape(1, b * c, h, w), kernel.reshape(b * c, 1, k, k), padding=k // 2, groups=b * c)
    return out.view(b, c, h, w)


class RefDetModel(nn.Module):
    def __init__(self, cfg: RefDetConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = ConvNeXtBackbone(cfg.backbone)
        if sorted(info.stride for info in self.backbone.feature_info.values())[:2] != [4, 8]:
            raise ValueError("model.backbone.return_stages must give strides 4 and 8 (stages 1 and 2)")
        self.fpn = FPNDecoder(self.backbone.feature_info, FPNDecoderConfig(lateral_dim=cfg.fpn_channels))
        self.fusion = TemplateFusion(cfg.fpn_channels, cfg.template_fusion)
        self.search_proj = nn.ModuleList(nn.Conv2d(cfg.fpn_channels, cfg.corr_channels, 1) for _ in range(2))
        self.template_proj = nn.ModuleList(nn.Conv2d(cfg.fpn_channels, cfg.corr_channels, 1) for _ in range(2))
        in_channels = cfg.fpn_channels + 2 * cfg.corr_channels
        self.head = nn.Sequential(ConvNormAct(in_channels, cfg.det_channels),
                                  ConvNormAct(cfg.det_channels, cfg.det_channels))
        self.objectness = nn.Conv2d(cfg.det_channels, 1, 1)
        self.box = nn.Conv2d(cfg.det_channels, 4, 1)
        nn.init.constant_(self.objectness.bias, math.log(cfg.prior / (1 - cfg.prior)))

    def pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        """[N, 3, H, W] -> [P2 [N, C, H/4, W/4], P3 [N, C, H/8, W/8]]."""
        return self.fpn.pyramid(self.backbone(images))[:2]

    def forward(self, templates: torch.Tensor, search: torch.Tensor) -> dict[str, torch.Tensor]:
        b, k = templates.shape[:2]
        template_levels = self.pyramid(templates.flatten(0, 1))  # each [B * K, C, h, w]
        search_levels = self.pyramid(search)
        correlations = []
        for level, (template, found) in enumerate(zip(template_levels, search_levels)):
            fused = self.fusion(template.unflatten(0, (b, k)))  # [B, C, h, w]
            kernel = F.adaptive_avg_pool2d(self.template_proj[level](fused), self.cfg.kernel_size)
            correlation = depthwise_correlation(self.search_proj[level](found), kernel)
            correlations.append(F.interpolate(correlation, size=search_levels[0].shape[-2:], mode="bilinear",
                                              align_corners=False))
        features = self.head(torch.cat([search_levels[0], *correlations], dim=1))  # stride 4
        return {"objectness": self.objectness(features)[:, 0], "boxes": self._boxes(self.box(features))}

    @staticmethod
    def _boxes(distances: torch.Tensor) -> torch.Tensor:
        """Distances (in cells, through softplus so they stay positive) from each stride-4 cell's
        centre to the left, top, right and bottom sides -> boxes (x1, y1, x2, y2) in pixels."""
        h, w = distances.shape[-2:]
        ys = (torch.arange(h, device=distances.device, dtype=distances.dtype) + 0.5) * 4
        xs = (torch.arange(w, device=distances.device, dtype=distances.dtype) + 0.5) * 4
        sides = F.softplus(distances) * 4  # [B, 4, h, w]
        return torch.stack([xs.view(1, w) - sides[:, 0], ys.view(h, 1) - sides[:, 1],
                            xs.view(1, w) + sides[:, 2], ys.view(h, 1) + sides[:, 3]], dim=1)
