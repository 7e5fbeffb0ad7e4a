"""Multi-scale deformable attention (Deformable DETR), with a PyTorch and a Triton backend.

    out = ms_deform_attn(value, spatial_shapes, level_start_index, sampling_locations,
                         attention_weights, backend="auto")

For each batch item n, query q and head m, the output is the sum over levels l and points p of
`attention_weights[n, q, m, l, p]` times the bilinear sample of level l of `value[n, :, m, :]` at
`sampling_locations[n, q, m, l, p]`: (x, y) in [0, 1] image coordinates, pixel coordinate
`x * W - 0.5` (align_corners=False), neighbours outside the level read as zero. See `dispatch`
for the shapes and the choice of backend.
"""

from tracknet_cli.ops.ms_deform_attn.dispatch import (
    BACKEND_ENV_VAR,
    available_backends,
    ms_deform_attn,
    resolve_backend,
)

__all__ = ["BACKEND_ENV_VAR", "available_backends", "ms_deform_attn", "resolve_backend"]
