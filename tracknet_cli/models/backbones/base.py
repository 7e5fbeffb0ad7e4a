"""What every backbone promises: named feature maps, each with its channels and stride.

Decoders are written against `feature_info`, not against a particular network, so any backbone
can feed any decoder (detectron2's contract).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FeatureInfo:
    channels: int
    stride: int  # input pixels per feature-map pixel


class Backbone(nn.Module):
    """`forward(images [B, C, H, W]) -> {name: [B, channels, H / stride, W / stride]}`.

    `feature_info` lists the maps fine to coarse. A frozen backbone gets no gradients and stays in
    eval mode (norm statistics, dropout and drop-path as at inference) even inside a model that is
    training; `trainable_stem` keeps an inflated multi-frame stem learning while the rest is frozen.
    """

    feature_info: dict[str, FeatureInfo]

    def __init__(self) -> None:
        super().__init__()
        self.frozen = False

    def freeze(self, trainable_stem: nn.Module | None = None) -> None:
        self.frozen = True
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        if trainable_stem is not None:
            for parameter in trainable_stem.parameters():
                parameter.requires_grad_(True)
        self.eval()

    def unfreeze(self) -> None:
        """Every parameter learns again (the second stage of a two-stage schedule); the caller's
        next `model.train()` puts the norms back in training mode."""
        self.frozen = False
        for parameter in self.parameters():
            parameter.requires_grad_(True)

    def train(self, mode: bool = True) -> Backbone:
        return super().train(mode and not self.frozen)


class StagedBackbone(Backbone):
    """A backbone run as a chain of `stages`; `return_stages` (1-based) name the maps returned."""

    stages: nn.ModuleList
    return_stages: list[int]

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = {}
        x = images
        for k, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if k in self.return_stages:
                features[f"stage{k}"] = x
        return features


def inflate_first_conv(module: nn.Module, frames: int) -> nn.Conv2d:
    """Give the first 3-channel convolution 3 * `frames` input channels; return the new conv.

    The frames arrive stacked on the channel axis ([B, 3T, H, W]). Each frame gets the pretrained
    kernel divided by T, so T identical frames produce exactly the single-frame features: the
    pretrained weights stay useful on day one and training learns how to read motion from there.
    """
    for parent in module.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                inflated = nn.Conv2d(
                    3 * frames, child.out_channels, child.kernel_size, child.stride, child.padding,
                    child.dilation, child.groups, child.bias is not None, child.padding_mode,
                )
                with torch.no_grad():
                    inflated.weight.copy_(child.weight.repeat(1, frames, 1, 1) / frames)
                    if child.bias is not None:
                        inflated.bias.copy_(child.bias)
                setattr(parent, name, inflated)
                return inflated
    raise ValueError(f"{type(module).__name__} has no 3-channel convolution to inflate")
