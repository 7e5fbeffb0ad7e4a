"""A heatmap model (the ball task): T frames in, T_out heatmap logits out, any backbone, decoder
and head; `HeatmapModelConfig` is its config section's schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from tracknet_cli.model_input import IMAGENET_MEAN, IMAGENET_STD
from tracknet_cli.models.backbones.base import Backbone, FeatureInfo

FUSIONS = ("early", "late")


@dataclass
class HeatmapConfig:
    size: list[int] = field(default_factory=lambda: [256, 144])  # [W, H]
    sigma: float = 2.0  # Gaussian sigma in heatmap pixels


@dataclass
class HeatmapModelConfig:
    """The `model` section of a heatmap model; `backbone`, `decoder` and `head` are the parts
    `models.build` assembles, each checked against its own config dataclass."""

    parts: ClassVar[tuple[str, ...]] = ("backbone", "decoder", "head")

    name: str = ""
    task: str = "heatmap"
    frames: int = 3  # T input frames
    output_frames: int = 1  # T_out: 1 (the last frame) or T
    fusion: str = "early"  # early: frames stacked into an inflated stem | late: backbone per frame
    # early fusion also reads the T - 1 differences of consecutive frames: motion made explicit,
    # where a still ball, a head or a court mark cancels out (TrackNetV4's motion cue)
    frame_differences: bool = False
    input_size: list[int] = field(default_factory=lambda: [512, 288])  # [W, H]
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    backbone: dict[str, Any] = field(default_factory=dict)
    decoder: dict[str, Any] = field(default_factory=dict)
    head: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def check(model, require) -> None:
        """Value checks of a `model` section, each failure reported by `require(ok, key, message)`."""
        for key in ("input_size", "heatmap.size"):
            size = model.input_size if key == "input_size" else model.heatmap.size
            require(len(size) == 2 and min(size) > 0, f"model.{key}", f"expected [W, H] > 0, got {list(size)}")
        if len(model.input_size) == len(model.heatmap.size) == 2 and min(*model.input_size, *model.heatmap.size) > 0:
            stride = model.input_size[0] // model.heatmap.size[0]
            require(list(model.heatmap.size) == [w // stride for w in model.input_size]
                    and [w % stride for w in model.input_size] == [0, 0], "model.heatmap.size",
                    f"expected the input size {list(model.input_size)} divided by one whole number, "
                    f"got {list(model.heatmap.size)}")
        require(model.frames >= 1, "model.frames", f"expected at least 1, got {model.frames}")
        require(model.output_frames in (1, model.frames), "model.output_frames",
                f"expected 1 or model.frames ({model.frames}), got {model.output_frames}")
        require(model.heatmap.sigma > 0, "model.heatmap.sigma", "expected a positive number")
        require(model.fusion in FUSIONS, "model.fusion", f"expected early or late, got {model.fusion!r}")
        require(not model.frame_differences or (model.fusion == "early" and model.frames >= 2),
                "model.frame_differences", "needs early fusion and at least 2 frames")

    @staticmethod
    def patch_grid(model) -> tuple[list[int], int] | None:
        """(input size, stride) a training patch must fit and step by: a patch's target must be an
        exact crop of the heatmap. None while the sizes are invalid (reported by `check`)."""
        if min(model.heatmap.size) <= 0:
            return None
        return list(model.input_size), model.input_size[0] // model.heatmap.size[0]

    # ------------------------------------------------------------------------- the model as a graph
    inputs: ClassVar[tuple[str, ...]] = ("frames",)  # names of an exported graph's inputs and outputs
    outputs: ClassVar[tuple[str, ...]] = ("logits",)

    @staticmethod
    def example_input(model, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Random normalised frames [B, T, 3, H, W], one tensor per graph input."""
        width, height = model.input_size
        return (torch.randn(batch, int(model.frames), 3, height, width, generator=generator),)

    @staticmethod
    def frames_per_row(model) -> int:
        """Output frames one batch row gives (T_out): what a throughput in frames/s counts."""
        return int(model.output_frames)

    @staticmethod
    def graph_metadata(model) -> dict:
        """What a consumer of an exported graph needs to feed it, beyond mean and std."""
        return {"frames": int(model.frames), "output_frames": int(model.output_frames),
                "input_size": list(model.input_size), "heatmap_size": list(model.heatmap.size),
                "output": "logits"}

    @staticmethod
    def resized(model, width: int, height: int, frames: int) -> list[str]:
        """Overrides for this architecture at another input size and T (T_out follows: T or 1)."""
        outputs = frames if model.output_frames == model.frames else 1
        stride = model.input_size[0] // model.heatmap.size[0]
        return [f"model.frames={frames}", f"model.output_frames={outputs}", f"model.input_size=[{width},{height}]",
                f"model.heatmap.size=[{width // stride},{height // stride}]"]


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
             inflated to 3T channels: one backbone pass per window, the cheapest. With
             `frame_differences` the T - 1 differences of consecutive frames are stacked too.
      late   the backbone runs on every frame and a 1x1 conv per level mixes the T feature maps:
             T passes per window in training, but a video can reuse each frame's features.
    """

    def __init__(self, backbone: Backbone, decoder: nn.Module, head: nn.Module, frames: int,
                 output_frames: int, fusion: str = "early", heatmap_stride: int = 2,
                 frame_differences: bool = False):
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
        self.frame_differences = frame_differences

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() == 4:
            frames = frames.unsqueeze(1)  # [B, 3, H, W] is one frame
        if frames.shape[1] != self.frames:
            raise ValueError(f"model takes {self.frames} frames per sample, got {frames.shape[1]} "
                             f"(input shape {list(frames.shape)})")
        if self.fusion is None:
            if self.frame_differences:  # [B, T, 3, H, W] -> [B, 2T - 1, 3, H, W]
                frames = torch.cat([frames, frames[:, 1:] - frames[:, :-1]], dim=1)
            return self.decode(self.backbone(frames.flatten(1, 2)), frames.shape[-2:])  # [B, 3T or 3(2T-1), H, W]
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
