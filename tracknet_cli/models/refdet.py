"""Reference-based detection: find the object shown in three template images in a search image.

    model(templates [B, 3, 3, th, tw], search [B, 3, H, W]) ->
        {"objectness": [B, H/4, W/4] logits, "boxes": [B, 4, H/4, W/4] (x1, y1, x2, y2) in pixels}

One backbone from the registry (ConvNeXt-Tiny in `convnext_refdet`, with the heatmap models' module
and weight rules) reads templates and search image alike; a small FPN over its maps gives P2
(stride 4) and P3 (stride 8), coarser maps adding context top-down. The three templates' maps are fused
into one (`attention`: weights from each template's pooled features; `average`), pooled to a small
kernel and correlated depthwise with the search maps at P2 and P3 (SiamRPN++'s depthwise
cross-correlation: each channel asks "where does this feature of the object appear?"). The
correlations and the search features feed an anchor-free head at stride 4: an objectness logit
per cell and the distances from the cell centre to the four box sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from tracknet_cli.errors import TracknetError
from tracknet_cli.model_input import BACKBONE_STRIDE, IMAGENET_MEAN, IMAGENET_STD
from tracknet_cli.models.backbones.base import Backbone
from tracknet_cli.models.decoders.blocks import ConvNormAct
from tracknet_cli.models.decoders.fpn_decoder import FPNDecoder, FPNDecoderConfig

TEMPLATE_FUSIONS = ("attention", "average")
HEAD_STRIDE = 4  # the head predicts on the P2 grid


@dataclass
class RefdetModelConfig:
    """The `model` section of a reference-based detector: three templates of an object in, its box
    in the search image out. `backbone` is a part of the registry (`models.build`)."""

    parts: ClassVar[tuple[str, ...]] = ("backbone",)

    name: str = ""
    task: str = "refdet"
    search_size: list[int] = field(default_factory=lambda: [1024, 576])  # [W, H]
    template_size: list[int] = field(default_factory=lambda: [256, 256])  # [W, H]
    fpn_channels: int = 128
    corr_channels: int = 64
    det_channels: int = 128
    template_fusion: str = "attention"  # attention | average
    kernel_size: int = 5  # fused template maps are pooled to k x k for the correlation
    prior: float = 0.01  # initial objectness probability (bias log(p / (1 - p)) = -4.6)
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    backbone: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def check(model, require) -> None:
        """Value checks of a `model` section, each failure reported by `require(ok, key, message)`."""
        # the head's stride-4 grid and the P3 correlation need sizes that halve cleanly three times
        for key in ("search_size", "template_size"):
            size = list(model[key])
            require(len(size) == 2 and min(size) >= 32 and all(v % 32 == 0 for v in size), f"model.{key}",
                    f"expected [W, H], multiples of 32, got {size}")
        for key in ("fpn_channels", "corr_channels", "det_channels", "kernel_size"):
            require(model[key] >= 1, f"model.{key}", "expected at least 1")
        require(model.kernel_size % 2 == 1, "model.kernel_size", "expected an odd number (a centred kernel)")
        require(model.template_fusion in TEMPLATE_FUSIONS, "model.template_fusion",
                f"expected attention or average, got {model.template_fusion!r}")
        require(0.0 < model.prior < 1.0, "model.prior", "a probability must be in (0, 1)")

    @staticmethod
    def patch_grid(model) -> tuple[list[int], int]:
        """(search size, stride) a training patch must fit and step by: the backbone's
        downsampling must stay in step with the whole image."""
        return list(model.search_size), BACKBONE_STRIDE

    # ------------------------------------------------------------------------- the model as a graph
    inputs: ClassVar[tuple[str, ...]] = ("templates", "search")  # an exported graph's input and output names
    outputs: ClassVar[tuple[str, ...]] = ("objectness", "boxes")

    @staticmethod
    def example_input(model, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Random normalised templates [B, 3, 3, th, tw] and search images [B, 3, H, W]."""
        (tw, th), (width, height) = model.template_size, model.search_size
        return (torch.randn(batch, 3, 3, th, tw, generator=generator),
                torch.randn(batch, 3, height, width, generator=generator))

    @staticmethod
    def frames_per_row(model) -> int:
        """One search image per batch row."""
        return 1

    @staticmethod
    def graph_metadata(model) -> dict:
        return {"search_size": list(model.search_size), "template_size": list(model.template_size)}

    @staticmethod
    def resized(model, width: int, height: int, frames: int) -> list[str]:
        """Overrides for this architecture at another search size (templates keep theirs; T does not apply)."""
        return [f"model.search_size=[{width},{height}]"]


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
    """search [B, C, H, W] correlated channel by channel with kernel [B, C, k, k] -> [B, C, H, W]
    (zero padding, centred). Written as k * k shifted products rather than one grouped convolution
    with B * C groups, so a traced or exported graph is not tied to the batch size it saw."""
    k = kernel.shape[-1]
    h, w = search.shape[-2:]
    padded = F.pad(search, [k // 2] * 4)
    out = torch.zeros_like(search)
    for dy in range(k):
        for dx in range(k):
            out = out + padded[:, :, dy:dy + h, dx:dx + w] * kernel[:, :, dy:dy + 1, dx:dx + 1]
    return out


def average_pooling_matrix(size: int, bins: int) -> torch.Tensor:
    """[bins, size]: row i averages the inputs adaptive average pooling puts in bin i. Pooling as a
    matrix product exports to ONNX for any size (its adaptive pooling needs bins dividing size)."""
    matrix = torch.zeros(bins, size)
    for i in range(bins):
        start, end = (i * size) // bins, -((-(i + 1) * size) // bins)  # floor, ceil
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class RefDetModel(nn.Module):
    """Built by `build_model` from a `model.task: refdet` config and a backbone of the registry."""

    def __init__(self, backbone: Backbone, cfg: RefdetModelConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        strides = {info.stride for info in backbone.feature_info.values()}
        if not {4, 8} <= strides:
            raise TracknetError(f"model.backbone.return_stages of a refdet model must include the maps at "
                                f"strides 4 and 8; they give {sorted(strides)}")
        levels = {name: info for name, info in backbone.feature_info.items() if info.stride >= 4}
        self.fpn = FPNDecoder(levels, FPNDecoderConfig(lateral_dim=cfg.fpn_channels), outputs=2)  # P2, P3
        self.fusion = TemplateFusion(cfg.fpn_channels, cfg.template_fusion)
        # one embedding per level for templates and search image alike (SiamFC's Siamese choice):
        # a feature then correlates positively with itself from the first step, so the head has a
        # matching signal to learn from before the backbone has learnt what to match
        self.corr_proj = nn.ModuleList(nn.Conv2d(cfg.fpn_channels, cfg.corr_channels, 1) for _ in range(2))
        for level, stride in enumerate((4, 8)):  # the template maps' size is fixed by the config
            tw, th = (side // stride for side in cfg.template_size)
            self.register_buffer(f"pool_rows{level}", average_pooling_matrix(th, cfg.kernel_size), persistent=False)
            self.register_buffer(f"pool_cols{level}", average_pooling_matrix(tw, cfg.kernel_size), persistent=False)
        in_channels = cfg.fpn_channels + 2 * cfg.corr_channels
        self.head = nn.Sequential(ConvNormAct(in_channels, cfg.det_channels),
                                  ConvNormAct(cfg.det_channels, cfg.det_channels))
        self.objectness = nn.Conv2d(cfg.det_channels, 1, 1)
        self.box = nn.Conv2d(cfg.det_channels, 4, 1)
        nn.init.constant_(self.objectness.bias, math.log(cfg.prior / (1 - cfg.prior)))

    def pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        """[N, 3, H, W] -> [P2 [N, C, H/4, W/4], P3 [N, C, H/8, W/8]]."""
        features = self.backbone(images)
        return self.fpn.pyramid({name: features[name] for name in self.fpn.levels})

    def _embed(self, level: int, maps: torch.Tensor) -> torch.Tensor:
        """The correlation embedding: projected, then unit length at every position, so a
        correlation sums cosine similarities (bounded, whatever a region's feature energy); it is
        scaled by corr_channels afterwards to sit on the scale of the search features beside it."""
        return F.normalize(self.corr_proj[level](maps), dim=1)

    def forward(self, templates: torch.Tensor, search: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.detect(self.template_kernels(templates), search)

    def template_kernels(self, templates: torch.Tensor) -> list[torch.Tensor]:
        """[B, K, 3, th, tw] -> a correlation kernel per level, each [B, corr_channels, k, k].
        Computed once per object, they serve every search image (a video's frames)."""
        b, k = templates.shape[:2]
        kernels = []
        for level, template in enumerate(self.pyramid(templates.flatten(0, 1))):  # each [B * K, C, h, w]
            fused = self.fusion(template.unflatten(0, (b, k)))  # [B, C, h, w]
            rows, cols = getattr(self, f"pool_rows{level}"), getattr(self, f"pool_cols{level}")
            projected = self._embed(level, fused)  # [B, C, h, w] -> pooled [B, C, k, k]
            kernels.append(torch.einsum("ih,bchw,jw->bcij", rows, projected, cols))
        return kernels

    def detect(self, kernels: list[torch.Tensor], search: torch.Tensor) -> dict[str, torch.Tensor]:
        """Kernels (one set per search image) and search images [B, 3, H, W] -> the output maps."""
        search_levels = self.pyramid(search)
        correlations = []
        for level, (kernel, found) in enumerate(zip(kernels, search_levels)):
            correlation = depthwise_correlation(self._embed(level, found), kernel) * self.cfg.corr_channels
            correlations.append(F.interpolate(correlation, size=search_levels[0].shape[-2:], mode="bilinear",
                                              align_corners=False))
        features = self.head(torch.cat([search_levels[0], *correlations], dim=1))  # stride 4
        return {"objectness": self.objectness(features)[:, 0], "boxes": self._boxes(self.box(features))}

    @staticmethod
    def _boxes(distances: torch.Tensor) -> torch.Tensor:
        """Distances (in cells, through softplus so they stay positive) from each stride-4 cell's
        centre to the left, top, right and bottom sides -> boxes (x1, y1, x2, y2) in pixels."""
        h, w = distances.shape[-2:]
        ys = (torch.arange(h, device=distances.device, dtype=distances.dtype) + 0.5) * HEAD_STRIDE
        xs = (torch.arange(w, device=distances.device, dtype=distances.dtype) + 0.5) * HEAD_STRIDE
        sides = F.softplus(distances) * HEAD_STRIDE  # [B, 4, h, w]
        return torch.stack([xs.view(1, w) - sides[:, 0], ys.view(h, 1) - sides[:, 1],
                            xs.view(1, w) + sides[:, 2], ys.view(h, 1) + sides[:, 3]], dim=1)
