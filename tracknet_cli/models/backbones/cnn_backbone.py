"""A plain conv-BN-ReLU backbone in TrackNet's tradition, for models trained from scratch.

ConvNeXt's patchify stem, LayerNorm and near-zero layer scale make a strong network when it
starts from pretrained weights, but from random weights it needs many thousand steps before it
finds a 2-pixel ball. Stacked 3x3 convolutions with BatchNorm learn the same task in a few hundred
steps (measured on the synthetic data), which is what a CPU-trained preset needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from tracknet_cli.errors import TracknetError
from tracknet_cli.models.backbones.base import FeatureInfo, StagedBackbone


@dataclass
class CNNBackboneConfig:
    type: str = "cnn"
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # one per stage
    depths: list[int] = field(default_factory=lambda: [2, 2, 3])  # 3x3 layers per stage, the first strided
    return_stages: list[int] = field(default_factory=lambda: [1, 2, 3])
    use_pretrained: bool = False  # every backbone has the key; there are no weights to load here


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class CNNBackbone(StagedBackbone):
    """[B, 3 * in_frames, H, W] -> {"stage1": stride 2, "stage2": stride 4, ...} (chosen stages).

    Stage k halves the resolution with its first convolution, so stage k has stride 2^k. The first
    layer takes the stacked frames directly: there are no pretrained weights to inflate.
    """

    def __init__(self, cfg: CNNBackboneConfig, in_frames: int = 1):
        super().__init__()
        if len(cfg.channels) != len(cfg.depths) or min(cfg.depths, default=0) < 1:
            raise TracknetError(f"model.backbone.channels {list(cfg.channels)} and depths {list(cfg.depths)} "
                                f"need one entry per stage, each depth at least 1")
        if cfg.use_pretrained:
            raise TracknetError("model.backbone.use_pretrained: the cnn backbone has no pretrained "
                                "weights; it trains from scratch (set it to false)")
        stages = range(1, len(cfg.channels) + 1)
        if not cfg.return_stages or not set(cfg.return_stages) <= set(stages):
            raise TracknetError(f"model.backbone.return_stages must be among {list(stages)}, "
                                f"got {list(cfg.return_stages)}")
        widths = [3 * in_frames, *cfg.channels]
        self.stages = nn.ModuleList(
            nn.Sequential(conv_bn_relu(widths[k], widths[k + 1], stride=2),
                          *[conv_bn_relu(widths[k + 1], widths[k + 1]) for _ in range(cfg.depths[k] - 1)])
            for k in range(max(cfg.return_stages))  # later stages would be dead weight
        )
        self.return_stages = sorted(cfg.return_stages)
        self.feature_info = {f"stage{k}": FeatureInfo(cfg.channels[k - 1], 2**k) for k in self.return_stages}
