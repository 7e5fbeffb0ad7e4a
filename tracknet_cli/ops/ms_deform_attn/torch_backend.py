"""The PyTorch backend: `grid_sample` per level, in chunks of queries.

Runs on any device, is differentiable by autograd, traceable and exportable to ONNX (opset >= 16,
GridSample). fp16 and bf16 inputs are computed in fp32, like the Triton backend: in half
precision grid_sample's coordinates overflow far outside the image and its location gradients
are summed over D in half precision.

The big intermediate is the sampled values, [N*M, D, Lq, L*P]. Queries are taken in chunks that
hold at most `chunk_elements` of them per batch item, and levels one at a time, so the forward's peak memory no
longer grows with Lq; inputs that fit run as one chunk. Under autograd each chunk's samples are
still kept for backward (the weights' gradient needs them), so a training step holds them all;
the Triton backend keeps only its inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tracknet_cli.ops.ms_deform_attn.inputs import LevelShapes

# 4 Mi sampled values (16 MiB in fp32) per batch item and chunk: large enough that the per-chunk
# overhead is noise, small enough to bound an encoder layer's intermediates (12 chunks for a
# 512x288 input). Per batch item, so the chunks do not depend on the batch size: an exported graph
# keeps a dynamic batch axis.
DEFAULT_CHUNK_ELEMENTS = 1 << 22


def ms_deform_attn_torch(value: torch.Tensor, shapes: LevelShapes,
                         sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                         chunk_elements: int | float = DEFAULT_CHUNK_ELEMENTS) -> torch.Tensor:
    """[N, Lq, M*D] from value [N, S, M, D], sampling_locations [N, Lq, M, L, P, 2] and
    attention_weights [N, Lq, M, L, P]; `chunk_elements=float("inf")` takes all queries at once."""
    work = torch.promote_types(value.dtype, torch.float32)  # fp32, or fp64 for fp64 inputs
    n, _, m, d = value.shape
    _, lq, _, levels, points, _ = sampling_locations.shape
    # One [N*M, D, H, W] map per level, the layout grid_sample reads: a single copy of value.
    maps = [level.flatten(2).transpose(1, 2).reshape(-1, d, h, w).to(work)
            for level, (h, w) in zip(value.split([h * w for h, w in shapes], dim=1), shapes)]
    step = max(1, int(min(lq, chunk_elements // max(1, m * d * levels * points))))
    if step >= lq:
        out = _attend(maps, sampling_locations, attention_weights)
        return out.to(value.dtype, memory_format=torch.contiguous_format)
    # slices, not split(): an exported graph keeps constant bounds that hold for any batch size
    out = torch.cat([_attend(maps, sampling_locations[:, start:start + step], attention_weights[:, start:start + step])
                     for start in range(0, lq, step)], dim=1)
    return out.to(value.dtype)


def _attend(maps: list[torch.Tensor], loc: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted samples for one chunk of q queries: loc [N, q, M, L, P, 2] -> [N, q, M*D]."""
    _, q, m, _, _, _ = loc.shape
    d = maps[0].shape[1]
    # grid_sample's [-1, 1], which it maps back to x*W - 0.5 (align_corners=False)
    grids = (2 * loc.to(maps[0].dtype) - 1).transpose(1, 2).flatten(0, 1)  # [N*M, q, L, P, 2]
    weights = weights.to(maps[0].dtype).transpose(1, 2).flatten(0, 1)[:, None]  # [N*M, 1, q, L, P]
    out = None
    # Level by level: only one level's samples are alive at a time (no stack of all L).
    for level, value_map in enumerate(maps):
        sampled = F.grid_sample(value_map, grids[:, :, level], mode="bilinear",
                                padding_mode="zeros", align_corners=False)  # [N*M, D, q, P]
        term = (sampled * weights[:, :, :, level]).sum(-1)  # [N*M, D, q]
        out = term if out is None else out + term
    return out.view(-1, m * d, q).transpose(1, 2)  # [N, q, M*D], not contiguous
