"""A heatmap model: T frames in, T_out heatmap logits out, any backbone, decoder and head."""

from __future__ import annotations

import torch
from torch import nn

from tracknet_cli.models.backbones.base import Backbone, FeatureInfo

FUSIONS = ("early", "late")


class LateFusion(nn.Module):
    """Per level, mix the T frames' feature maps ([B, T * C, h, w]) back to C channels (1x1)."""

    def __init__(self, feature_info: dict[str, FeatureInfo], frames: int):
        super().__init__()
        self.frames = frames
        self.mix = nn.ModuleDict({
            name: nn.Conv2d(info.channels * frames, info.channels, 1) for name, info in feature_info.items()
        })

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        fused = {}
        for name, x in features.items():  # x: [B * T, C, h, w], frames of a window adjacent
            fused[name] = self.mix[name](x.unflatten(0, (-1, self.frames)).flatten(1, 2))
        return fused


class HeatmapModel(nn.Module):
    """`model(frames [B, T, 3, H, W] or [B, 3, H, W]) -> logits [B, T_out, H / s, W / s]`.

    The heatmap is the input downsampled by `heatmap_stride` s, for any input size the backbone
    takes: a model configured for 512x288 frames also runs on the patches it may be trained on.

    Frame fusion:
      early  the frames are stacked on the channel axis and the backbone's first convolution is
             inflated to 3T channels: one backbone pass per window, the cheapest.
      late   the backbone runs on every frame and a 1x1 conv per level mixes the T feature maps:
             T passes per window in training, but a video can reuse each frame's features.
    """

    def __init__(self, backbone: Backbone, decoder: nn.Module, head: nn.Module, frames: int,
                 output_frames: int, fusion: str = "early", heatmap_stride: int = 2):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"model.fusion {fusion!r} is not one of {FUSIONS}")
        self.backbone = backbone
        self.fusion = LateFusion(backbone.feature_info, frames) if fusion == "late" and frames > 1 else None
        self.decoder = decoder
        self.head = head
        self.frames = frames
        self.output_frames = output_frames
        self.heatmap_stride = heatmap_stride

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() == 4:
            frames = frames.unsqueeze(1)  # [B, 3, H, W] is one frame
        if frames.shape[1] != self.frames:
            raise ValueError(f"model takes {self.frames} frames per sample, got {frames.shape[1]} "
                             f"(input shape {list(frames.shape)})")
        if self.fusion is None:
            return self.decode(self.backbone(frames.flatten(1, 2)), frames.shape[-2:])  # [B, 3T, H, W]
        return self.decode_frames(self.backbone(frames.flatten(0, 1)), frames.shape[-2:])  # [B * T, 3, H, W]

    def decode_frames(self, frame_features: dict[str, torch.Tensor], input_hw: tuple[int, int]) -> torch.Tensor:
        """Late fusion from per-frame backbone maps ({name: [B * T, C, h, w]}, the T frames of a
        window adjacent): a video can compute each frame's maps once and reuse them in the T
        windows that hold it."""
        return self.decode(self.fusion(frame_features), input_hw)

    def decode(self, features: dict[str, torch.Tensor], input_hw: tuple[int, int]) -> torch.Tensor:
        """Fused backbone maps -> logits [B, T_out, H / s, W / s] for an input of `input_hw`."""
        heatmap_size = (input_hw[0] // self.heatmap_stride, input_hw[1] // self.heatmap_stride)
        return self.head(self.decoder(features, heatmap_size))
