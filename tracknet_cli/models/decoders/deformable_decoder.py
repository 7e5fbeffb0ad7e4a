"""Deformable-DETR encoder across the backbone's levels, then the FPN decoder.

Every position of every level is a query that attends to `n_points` learned sampling points per
head on each level around its own location: cross-scale context at a cost linear in the number of
positions, which full attention over ~12k tokens (stride 4 to 32 of a 512x288 frame) could not
afford. The core op is `tracknet_cli.ops.ms_deform_attn` (Triton on CUDA, PyTorch elsewhere).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import nn

from tracknet_cli.models.backbones.base import FeatureInfo
from tracknet_cli.models.decoders.fpn_decoder import FPNDecoder, FPNDecoderConfig
from tracknet_cli.ops.ms_deform_attn import ms_deform_attn

Shapes = list[tuple[int, int]]  # (H, W) per level, fine to coarse


@dataclass
class DeformableFPNDecoderConfig:
    type: str = "deformable_fpn"
    d_model: int = 256  # width of the encoder tokens
    n_heads: int = 8
    n_points: int = 4  # sampling points per head and level
    num_encoder_layers: int = 3
    ffn_dim: int = 1024
    dropout: float = 0.1
    lateral_dim: int = 256  # the FPN after the encoder
    fuse: str = "sum"  # sum | concat, as in the FPN decoder
    norm: str = "gn"


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention with Deformable DETR's initialisation.

    `forward(query [N, Lq, C], reference [N, Lq, 2] in [0, 1], value_tokens [N, S, C], shapes)`.
    Offsets start at zero weight with a bias that points head m in direction 2*pi*m/M, point p at
    distance p + 1 pixels; attention starts uniform over the L*P samples.
    """

    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8, n_points: int = 4,
                 backend: str = "auto"):
        super().__init__()
        if d_model % n_heads or d_model % 4:
            raise ValueError(f"model.decoder.d_model {d_model} must be divisible by n_heads "
                             f"({n_heads}) and by 4 (the sine position embedding)")
        self.n_levels, self.n_heads, self.n_points = n_levels, n_heads, n_points
        self.backend = backend
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        # with `record` set, forward keeps (locations, weights, shapes) of its last call: what
        # `tracknet_cli.evaluation.attention_maps` draws
        self.record = False
        self.recorded: tuple[torch.Tensor, torch.Tensor, Shapes] | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.n_heads, dtype=torch.float32) * (2 * math.pi / self.n_heads)
        directions = torch.stack([angles.cos(), angles.sin()], dim=-1)  # [M, 2]
        directions = directions / directions.abs().max(dim=-1, keepdim=True).values  # onto the square
        scale = torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        bias = directions.view(self.n_heads, 1, 1, 2).repeat(1, self.n_levels, self.n_points, 1) * scale
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(bias.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for linear in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, query: torch.Tensor, reference: torch.Tensor, value_tokens: torch.Tensor,
                shapes: Shapes) -> torch.Tensor:
        lq = query.shape[1]
        m, levels, points = self.n_heads, self.n_levels, self.n_points
        value = self.value_proj(value_tokens).unflatten(-1, (m, -1))  # [N, S, M, D]
        # -1, not N, wherever the batch size enters a shape: exported graphs keep it dynamic
        offsets = self.sampling_offsets(query).view(-1, lq, m, levels, points, 2)  # in level pixels
        weights = self.attention_weights(query).view(-1, lq, m, levels * points).softmax(-1)
        weights = weights.view(-1, lq, m, levels, points)
        level_wh = _level_sizes(tuple(shapes), offsets.device, offsets.dtype)  # [L, 2]
        locations = reference[:, :, None, None, None, :] + offsets / level_wh[:, None, :]
        if self.record:
            self.recorded = (locations.detach(), weights.detach(), list(shapes))
        # fp32 whatever autocast chose: in bf16 a location near 1.0 is only good to 1/256 of the
        # level, half a pixel at the stride-4 level, where the ball is found
        out = ms_deform_attn(value.float(), shapes, None, locations.float(), weights.float(),
                             backend=self.backend)  # [N, Lq, M*D]
        return self.output_proj(out.to(query.dtype))


class DeformableEncoderLayer(nn.Module):
    """Post-norm: x = norm(x + attn(x + pos)); x = norm(x + ffn(x)), with dropout on each branch."""

    def __init__(self, cfg: DeformableFPNDecoderConfig, n_levels: int):
        super().__init__()
        self.attention = MSDeformAttn(cfg.d_model, n_levels, cfg.n_heads, cfg.n_points)
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.ffn = nn.Sequential(nn.Linear(cfg.d_model, cfg.ffn_dim), nn.ReLU(inplace=True),
                                 nn.Dropout(cfg.dropout), nn.Linear(cfg.ffn_dim, cfg.d_model))
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, tokens: torch.Tensor, position: torch.Tensor, reference: torch.Tensor,
                shapes: Shapes) -> torch.Tensor:
        attended = self.attention(tokens + position, reference, tokens, shapes)
        tokens = self.norm1(tokens + self.dropout(attended))
        return self.norm2(tokens + self.dropout(self.ffn(tokens)))


class DeformableFPNDecoder(nn.Module):
    """Levels projected to d_model (1x1 conv + GroupNorm), flattened into one token sequence,
    refined by the deformable encoder, split back into maps and decoded by the FPN."""

    def __init__(self, feature_info: dict[str, FeatureInfo], cfg: DeformableFPNDecoderConfig):
        super().__init__()
        self.levels = sorted(feature_info, key=lambda name: feature_info[name].stride)
        self.input_proj = nn.ModuleDict({
            name: nn.Sequential(nn.Conv2d(feature_info[name].channels, cfg.d_model, 1),
                                nn.GroupNorm(math.gcd(32, cfg.d_model), cfg.d_model))
            for name in self.levels
        })
        self.level_embed = nn.Parameter(torch.empty(len(self.levels), cfg.d_model))
        nn.init.normal_(self.level_embed)
        self.layers = nn.ModuleList(DeformableEncoderLayer(cfg, len(self.levels))
                                    for _ in range(cfg.num_encoder_layers))
        encoded_info = {name: FeatureInfo(cfg.d_model, feature_info[name].stride) for name in self.levels}
        fpn_cfg = FPNDecoderConfig(lateral_dim=cfg.lateral_dim, use_p2=True, fuse=cfg.fuse, norm=cfg.norm)
        self.fpn = FPNDecoder(encoded_info, fpn_cfg)
        self.out_channels = self.fpn.out_channels

    def forward(self, features: dict[str, torch.Tensor], out_size: tuple[int, int]) -> torch.Tensor:
        maps = [self.input_proj[name](features[name]) for name in self.levels]  # [N, C, H_l, W_l]
        shapes = [tuple(x.shape[-2:]) for x in maps]
        tokens = torch.cat([x.flatten(2).transpose(1, 2) for x in maps], dim=1)  # [N, S, C]
        position = torch.cat([sine_position(h, w, x.shape[1], x.device, x.dtype) + self.level_embed[i]
                              for i, ((h, w), x) in enumerate(zip(shapes, maps))])  # [S, C]
        reference = pixel_centres(shapes, tokens.device, tokens.dtype)  # [S, 2]
        n = tokens.shape[0]
        position, reference = position.expand(n, -1, -1), reference.expand(n, -1, -1)  # [N, S, ...]
        for layer in self.layers:
            tokens = layer(tokens, position, reference, shapes)
        encoded = tokens.transpose(1, 2).split([h * w for h, w in shapes], dim=2)
        maps = {name: x.unflatten(2, hw) for name, x, hw in zip(self.levels, encoded, shapes)}
        return self.fpn(maps, out_size)


@functools.lru_cache(maxsize=32)
def _level_sizes(shapes: tuple[tuple[int, int], ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[L, 2] (W, H) per level, made once per shapes: a per-call copy to the GPU would wait on it.
    Made outside inference mode, or a later training step could not save it for backward."""
    with torch.inference_mode(False):
        return torch.tensor([[w, h] for h, w in shapes], dtype=dtype, device=device)


def pixel_centres(shapes: Shapes, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """[S, 2] (x, y) in [0, 1] of every position's pixel centre, levels one after another."""
    centres = []
    for h, w in shapes:
        y, x = torch.meshgrid((torch.arange(h, device=device, dtype=dtype) + 0.5) / h,
                              (torch.arange(w, device=device, dtype=dtype) + 0.5) / w, indexing="ij")
        centres.append(torch.stack([x.flatten(), y.flatten()], dim=-1))
    return torch.cat(centres)


def sine_position(h: int, w: int, channels: int, device: torch.device, dtype: torch.dtype,
                  temperature: float = 10000.0) -> torch.Tensor:
    """[h*w, channels] DETR's sine embedding of the normalised pixel centre: y in the first half
    of the channels, x in the second, each as interleaved sin/cos over geometric frequencies."""
    centres = pixel_centres([(h, w)], device, torch.float32) * (2 * math.pi)  # [h*w, 2]
    half = channels // 2
    frequencies = temperature ** (2 * (torch.arange(half, device=device) // 2) / half)
    embedded = []
    for axis in (1, 0):  # y, then x
        angles = centres[:, axis, None] / frequencies  # [h*w, half]
        embedded.append(torch.stack([angles[:, 0::2].sin(), angles[:, 1::2].cos()], dim=-1).flatten(1))
    return torch.cat(embedded, dim=-1).to(dtype)
