"""Small building blocks the decoders and heads share."""

from __future__ import annotations

import math

from torch import nn

ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} is not one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def norm(kind: str, channels: int) -> nn.Module:
    """GroupNorm ('gn', up to 32 groups that divide the channels) or BatchNorm ('bn').

    GroupNorm is the default: heatmap training runs at small per-GPU batches where BatchNorm's
    statistics are noisy.
    """
    if kind == "gn":
        return nn.GroupNorm(math.gcd(32, channels), channels)
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"norm {kind!r} is not 'gn' or 'bn'")


class ConvNormAct(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 norm_kind: str = "gn", act: str = "gelu"):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            norm(norm_kind, out_channels),
            activation(act),
        )


class SqueezeExcite(nn.Module):
    """Channel attention: global average -> bottleneck -> sigmoid gate per channel."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(8, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.GELU(),
            nn.Conv2d(hidden, channels, 1), nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.gate(x)


class ResidualBlock(nn.Module):
    """x + pointwise(act(norm(spatial(x)))): a 3x3 depthwise (or full) conv, then mix channels."""

    def __init__(self, channels: int, norm_kind: str = "gn", act: str = "gelu", depthwise: bool = True,
                 se_reduction: int | None = None, dropout: float = 0.0):
        super().__init__()
        groups = channels if depthwise else 1
        layers = [
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False),
            norm(norm_kind, channels),
            activation(act),
            nn.Conv2d(channels, channels, 1),
        ]
        if se_reduction:
            layers.append(SqueezeExcite(channels, se_reduction))
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)
