"""DINOv3 ViT backbone (Hugging Face `transformers`): frames in, a grid of patch features out."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tracknet_cli.errors import TracknetError
from tracknet_cli.models.backbones.base import Backbone, FeatureInfo, inflate_first_conv
from tracknet_cli.models.backbones.pretrained import (
    load_hf_config,
    load_hf_pretrained,
    preset_shape,
)

# Shapes of published checkpoints, so `use_pretrained: false` builds them offline. Every other
# field is the DINOv3ViTConfig default, which matches these checkpoints.
KNOWN_SHAPES = {
    "dinov3-vits16-": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                           intermediate_size=1536, num_register_tokens=4),
    "dinov3-vitb16-": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                           intermediate_size=3072, num_register_tokens=4),
    "dinov3-vitl16-": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                           intermediate_size=4096, num_register_tokens=4),
}
PRESETS = {  # random-init architectures for CPU work
    "tiny": dict(hidden_size=96, num_hidden_layers=4, num_attention_heads=3, intermediate_size=384,
                 num_register_tokens=4),
}


class InputSizeError(TracknetError, ValueError):
    """An input whose size the network cannot take."""


@dataclass
class ViTBackboneConfig:
    type: str = "vit"
    pretrained_model_name: str = "facebook/dinov3-vits16-pretrain-lvd1689m"  # hub name or folder
    use_pretrained: bool = True
    local_files_only: bool = False  # true: never download, even online (as HF_HUB_OFFLINE=1)
    device_map: str | None = None
    patch_size: int = 16
    freeze: bool = False  # no gradients into the ViT (an inflated patch embedding still learns)
    preset: str | None = None  # "tiny": a small random-init ViT for CPU work, instead of the checkpoint


class ViTBackbone(Backbone):
    """[B, 3 * in_frames, H, W] -> {"patch": [B, C, H / 16, W / 16]}, CLS and registers removed."""

    def _freeze_mask_token(self) -> None:
        """The mask token serves masked pretraining only: it never gets a gradient here, which
        data-parallel training refuses in a parameter that asks for one."""
        self.model.embeddings.mask_token.requires_grad_(False)

    def unfreeze(self) -> None:
        super().unfreeze()
        self._freeze_mask_token()

    def __init__(self, cfg: ViTBackboneConfig, in_frames: int = 1):
        super().__init__()
        self.model = _build_hf_model(cfg)
        config = self.model.config
        if config.patch_size != cfg.patch_size:
            raise TracknetError(f"{cfg.pretrained_model_name} has patch size {config.patch_size}, "
                                f"the config says model.backbone.patch_size={cfg.patch_size}")
        self._freeze_mask_token()
        self.patch_size = config.patch_size
        self.prefix_tokens = 1 + config.num_register_tokens  # CLS, then registers, then patches
        self.feature_info = {"patch": FeatureInfo(config.hidden_size, config.patch_size)}
        stem = None
        if in_frames > 1:
            stem = inflate_first_conv(self.model.embeddings, in_frames)
        if cfg.freeze:
            self.freeze(trainable_stem=stem)

    def patch_grid(self, images: torch.Tensor) -> torch.Tensor:
        """[B, C_in, H, W] -> [B, H / p, W / p, C], patches in row-major order."""
        height, width = images.shape[-2:]
        self._check_size(height, width)
        tokens = self.model(pixel_values=images).last_hidden_state  # [B, prefix + h * w, C]
        patches = tokens[:, self.prefix_tokens:]
        return patches.unflatten(1, (height // self.patch_size, width // self.patch_size))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"patch": self.patch_grid(images).permute(0, 3, 1, 2)}

    def _check_size(self, height: int, width: int) -> None:
        p = self.patch_size
        if height % p or width % p:
            def near(n: int) -> str:
                return f"{n // p * p} or {(n // p + 1) * p}"
            raise InputSizeError(
                f"input {width}x{height} (WxH) is not a multiple of the ViT patch size {p}: use a "
                f"width of {near(width)} and a height of {near(height)} (model.input_size)"
            )


def _build_hf_model(cfg: ViTBackboneConfig) -> torch.nn.Module:
    """A DINOv3ViTModel; transformers is imported here, as it takes seconds and is rarely needed."""
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    if cfg.preset is not None:
        shape = preset_shape(PRESETS, cfg.preset, cfg.use_pretrained)
        return DINOv3ViTModel(DINOv3ViTConfig(patch_size=cfg.patch_size, **shape))
    if cfg.use_pretrained:
        return load_hf_pretrained(DINOv3ViTModel, cfg.pretrained_model_name, cfg.local_files_only,
                                  cfg.device_map)
    return DINOv3ViTModel(load_hf_config(DINOv3ViTConfig, cfg.pretrained_model_name, KNOWN_SHAPES))
