"""A small temporal convolution net that reads a ball track and marks its hits and bounces.

    net = EventNet(EventNetConfig())
    logits = net(features)  # [B, F, N] per-frame track features -> [B, 3, N] (none, hit, bounce)

The track is a few numbers per frame (`inference.events.track_features`), so the net is tiny: a
stem and residual blocks of dilated 1-D convolutions, each seeing both sides of a frame. With
dilations 1, 2, 4, 8, 16 and kernel 3 a frame's output reads 67 frames (about 2 s at 30 fps): the
flights on both sides of a hit or a bounce, and across the gap where a racket hides the ball.
23 k parameters: the 4,640 frames of benchmarks/events.py take about 0.1 s on a 2-core CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

EVENT_CLASSES = 3  # 0 nothing, 1 hit, 2 bounce: the TrackNet label's status codes


@dataclass(frozen=True)
class EventNetConfig:
    features: int = 10  # per-frame inputs (`inference.events.FEATURES`)
    channels: int = 32
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)

    def as_dict(self) -> dict:
        return {**asdict(self), "dilations": list(self.dilations)}

    @classmethod
    def from_dict(cls, values: dict) -> EventNetConfig:
        return cls(**{**values, "dilations": tuple(values["dilations"])})


class _Block(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.norm = nn.GroupNorm(1, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, N]
        return x + self.mix(torch.relu(self.norm(self.conv(x))))


class EventNet(nn.Module):
    def __init__(self, cfg: EventNetConfig):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Conv1d(cfg.features, cfg.channels, 5, padding=2)
        self.blocks = nn.Sequential(*(_Block(cfg.channels, d) for d in cfg.dilations))
        self.head = nn.Conv1d(cfg.channels, EVENT_CLASSES, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(features))  # [B, C, N]
        return self.head(self.blocks(x))  # [B, 3, N] logits
