"""Feature pyramid decoder: multi-scale maps fused top-down, then merged at heatmap resolution."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tracknet_cli.models.backbones.base import FeatureInfo
from tracknet_cli.models.decoders.blocks import ConvNormAct


@dataclass
class FPNDecoderConfig:
    type: str = "fpn"
    lateral_dim: int = 256
    use_p2: bool = True  # include the stride-4 level, where a 3 px ball is still a pixel or so
    fuse: str = "sum"  # sum | concat: how the upsampled levels are merged
    norm: str = "gn"


class FPNDecoder(nn.Module):
    """Lateral 1x1 per level, top-down upsampling and addition, 3x3 refinement, then every level
    resized to the heatmap size and summed (or concatenated and mixed by a 1x1 conv).

    `outputs` keeps only the finest levels as outputs of `pyramid` (a detector that reads P2 and
    P3): the coarser levels still feed the top-down path but get no refinement, which nothing would
    read."""

    def __init__(self, feature_info: dict[str, FeatureInfo], cfg: FPNDecoderConfig, outputs: int | None = None):
        super().__init__()
        if cfg.fuse not in ("sum", "concat"):
            raise ValueError(f"model.decoder.fuse {cfg.fuse!r} is not 'sum' or 'concat'")
        levels = {name: info for name, info in feature_info.items() if cfg.use_p2 or info.stride > 4}
        self.levels = sorted(levels, key=lambda name: levels[name].stride)  # fine to coarse
        self.fuse = cfg.fuse
        dim = cfg.lateral_dim
        self.lateral = nn.ModuleDict({n: nn.Conv2d(levels[n].channels, dim, 1) for n in self.levels})
        refined = self.levels[:outputs]
        self.refine = nn.ModuleDict({n: ConvNormAct(dim, dim, 3, cfg.norm) for n in refined})
        self.merge = nn.Conv2d(dim * len(self.levels), dim, 1) if cfg.fuse == "concat" else None
        self.out_channels = dim

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Checkpoints written before `outputs` existed hold a refinement for every level; those
        of the levels this decoder does not output were computed and never read, so they are
        dropped and the checkpoint gives the same outputs as before."""
        for name in set(self.levels) - set(self.refine):
            for key in [k for k in state_dict if k.startswith(f"{prefix}refine.{name}.")]:
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, features: dict[str, torch.Tensor], out_size: tuple[int, int]) -> torch.Tensor:
        """-> [B, lateral_dim, *out_size]; `out_size` is (H, W) of the heatmap."""
        pyramid = self.pyramid(features)
        resized = [F.interpolate(p, size=out_size, mode="bilinear", align_corners=False)
                   for p in pyramid]
        if self.merge is not None:
            return self.merge(torch.cat(resized, dim=1))
        return torch.stack(resized).sum(dim=0)

    def pyramid(self, features: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Refined levels (the `outputs` finest), fine to coarse, each [B, lateral_dim, h_level, w_level]."""
        merged: list[torch.Tensor] = []
        top = None
        for name in reversed(self.levels):  # coarse to fine
            lateral = self.lateral[name](features[name])
            if top is not None:
                lateral = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
            top = lateral
            if name in self.refine:
                merged.append(self.refine[name](lateral))
        return merged[::-1]
