"""The Triton backend: an autograd.Function around the kernels of `triton_kernels`.

Needs CUDA tensors, or CPU tensors when TRITON_INTERPRET=1 was set before the kernels were
imported (Triton's interpreter: how the kernels are tested without a GPU). Storage in fp32, fp16
or bf16; all arithmetic in fp32. Saves only its inputs for backward, which recomputes the
bilinear weights.
"""

from __future__ import annotations

import functools

import torch
from torch.autograd.function import once_differentiable

from tracknet_cli.errors import TracknetError
from tracknet_cli.ops.ms_deform_attn import triton_kernels
from tracknet_cli.ops.ms_deform_attn.inputs import LevelShapes, level_starts

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def ms_deform_attn_triton(
    value: torch.Tensor, shapes: LevelShapes, sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """[N, Lq, M*D]; inputs already checked against each other by `inputs.check_inputs`."""
    _check_supported(value)
    levels = _level_table(shapes, value.device)
    return _MSDeformAttn.apply(value.contiguous(), levels, sampling_locations.contiguous(),
                               attention_weights.contiguous())


def _check_supported(value: torch.Tensor) -> None:
    if value.device.type != "cuda" and not triton_kernels.INTERPRET:
        raise TracknetError(f"the triton backend needs CUDA tensors, got {value.device} ones; use "
                            "backend='torch', or set TRITON_INTERPRET=1 before importing triton to "
                            "run the kernels on the CPU (slow, for tests)")
    if value.dtype not in SUPPORTED_DTYPES:
        raise TracknetError(f"the triton backend takes float32, float16 or bfloat16, got "
                            f"{value.dtype}; use backend='torch'")


@functools.lru_cache(maxsize=64)
def _level_table(shapes: LevelShapes, device: torch.device) -> torch.Tensor:
    """[L, 3] int64 (H, W, start) on the device; made once per set of shapes, so steady-state
    calls do no host-to-device copy (which would synchronise). Made outside inference mode, or a
    later training step could not save it for backward."""
    rows = [(h, w, start) for (h, w), start in zip(shapes, level_starts(shapes))]
    with torch.inference_mode(False):
        return torch.tensor(rows, dtype=torch.int64, device=device)


class _MSDeformAttn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, value, levels, sampling_locations, attention_weights):
        ctx.save_for_backward(value, levels, sampling_locations, attention_weights)
        return triton_kernels.forward(value, levels, sampling_locations, attention_weights)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        value, levels, sampling_locations, attention_weights = ctx.saved_tensors
        grads = triton_kernels.backward(grad_out.contiguous(), value, levels, sampling_locations,
                                        attention_weights)
        return grads[0], None, grads[1], grads[2]
