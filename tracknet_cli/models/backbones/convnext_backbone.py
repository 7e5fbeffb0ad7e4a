"""ConvNeXt backbone: DINOv3 ConvNeXt (Hugging Face) or torchvision's ConvNeXt, four stage maps."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from tracknet_cli.errors import TracknetError
from tracknet_cli.models.backbones.base import FeatureInfo, StagedBackbone, inflate_first_conv
from tracknet_cli.models.backbones.pretrained import (
    load_hf_config,
    load_hf_pretrained,
    preset_shape,
    torchvision_weights,
)

STAGE_STRIDES = (4, 8, 16, 32)
# Shapes of the published DINOv3 ConvNeXt checkpoints (the classic ConvNeXt sizes), for offline
# random-weight builds.
KNOWN_SHAPES = {
    "convnext-tiny": dict(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 9, 3]),
    "convnext-small": dict(hidden_sizes=[96, 192, 384, 768], depths=[3, 3, 27, 3]),
    "convnext-base": dict(hidden_sizes=[128, 256, 512, 1024], depths=[3, 3, 27, 3]),
    "convnext-large": dict(hidden_sizes=[192, 384, 768, 1536], depths=[3, 3, 27, 3]),
}
PRESETS = {  # random-init architectures for CPU work (not ConvNeXt-T, which is "convnext-tiny")
    "tiny": dict(hidden_sizes=[32, 64, 128, 256], depths=[2, 2, 4, 2]),
}


@dataclass
class ConvNeXtBackboneConfig:
    type: str = "convnext"
    pretrained_model_name: str = "facebook/dinov3-convnext-tiny-pretrain-lvd1689m"  # hf source
    use_pretrained: bool = True
    source: str = "hf"  # hf (DINOv3 ConvNeXt) | torchvision
    tv_model: str = "convnext_tiny"  # torchvision source: convnext_tiny|small|base|large
    return_stages: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    freeze: bool = False  # no gradients into the backbone (an inflated stem still learns)
    local_files_only: bool = False  # true: never download, even online (as HF_HUB_OFFLINE=1)
    device_map: str | None = None
    preset: str | None = None  # "tiny": a small random-init ConvNeXt for CPU work


class ConvNeXtBackbone(StagedBackbone):
    """[B, 3 * in_frames, H, W] -> {"stage1": stride 4, ..., "stage4": stride 32} (chosen stages)."""

    def __init__(self, cfg: ConvNeXtBackboneConfig, in_frames: int = 1):
        super().__init__()
        if not cfg.return_stages or not set(cfg.return_stages) <= {1, 2, 3, 4}:
            raise TracknetError(f"model.backbone.return_stages must be among 1-4, got {list(cfg.return_stages)}")
        builders = {"hf": _hf_stages, "torchvision": _torchvision_stages}
        if cfg.source not in builders:
            raise TracknetError(f"model.backbone.source {cfg.source!r} is not 'hf' or 'torchvision'")
        self.stages = builders[cfg.source](cfg)  # stage k: downsampling (the stem for k = 1), blocks
        self.return_stages = sorted(cfg.return_stages)
        self.feature_info = {
            f"stage{k}": FeatureInfo(_channels(self.stages[k - 1]), STAGE_STRIDES[k - 1])
            for k in self.return_stages
        }
        self.stages = self.stages[: self.return_stages[-1]]  # later stages would be dead weight
        stem = inflate_first_conv(self.stages[0], in_frames) if in_frames > 1 else None
        if cfg.freeze:
            self.freeze(trainable_stem=stem)


def _hf_stages(cfg: ConvNeXtBackboneConfig) -> nn.ModuleList:
    # imported here: transformers takes seconds to import, and most models and commands never need it
    from transformers import DINOv3ConvNextConfig, DINOv3ConvNextModel

    if cfg.preset is not None:
        model = DINOv3ConvNextModel(DINOv3ConvNextConfig(**preset_shape(PRESETS, cfg.preset, cfg.use_pretrained)))
    elif cfg.use_pretrained:
        model = load_hf_pretrained(DINOv3ConvNextModel, cfg.pretrained_model_name,
                                   cfg.local_files_only, cfg.device_map)
    else:
        model = DINOv3ConvNextModel(
            load_hf_config(DINOv3ConvNextConfig, cfg.pretrained_model_name, KNOWN_SHAPES))
    return model.model.stages  # the pooled head and its norm are for classification only


def _torchvision_stages(cfg: ConvNeXtBackboneConfig) -> nn.ModuleList:
    from torchvision.models import convnext

    if cfg.preset is not None:
        shape = preset_shape(PRESETS, cfg.preset, cfg.use_pretrained)
        widths = shape["hidden_sizes"]
        setting = [convnext.CNBlockConfig(w, widths[i + 1] if i + 1 < len(widths) else None, d)
                   for i, (w, d) in enumerate(zip(widths, shape["depths"]))]
        model = convnext.ConvNeXt(setting)
    else:
        if not hasattr(convnext, cfg.tv_model) or not cfg.tv_model.startswith("convnext_"):
            raise TracknetError(f"model.backbone.tv_model {cfg.tv_model!r} is not a torchvision ConvNeXt "
                                "(convnext_tiny, convnext_small, convnext_base, convnext_large)")
        model = getattr(convnext, cfg.tv_model)(weights=None)
        if cfg.use_pretrained:
            model.load_state_dict(torchvision_weights(cfg.tv_model, cfg.local_files_only))
    layers = model.features  # stem, stage 1, downsample, stage 2, downsample, stage 3, ...
    return nn.ModuleList(nn.Sequential(layers[2 * k], layers[2 * k + 1]) for k in range(4))


def _channels(stage: nn.Module) -> int:
    """Width of a stage's output: its last convolution is the last block's depthwise 7x7."""
    return [m for m in stage.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
