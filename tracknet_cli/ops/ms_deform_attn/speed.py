"""Speed of multi-scale deformable attention per backend at the shapes that matter, shared by
`tracknet benchmark --kernels` and benchmarks/ms_deform_attn.py.

Shapes (M=8 heads, D=32, L=4 levels, P=4 points, one query per position: Lq = S):
  a  the encoder of a 288x512 input, levels 72x128, 36x64, 18x32, 9x16 (S=12240), batch 8
  b  Deformable DETR's, levels 100x167, 50x84, 25x42, 13x21 (S=22223), batch 2
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tracknet_cli.ops.ms_deform_attn import ms_deform_attn
from tracknet_cli.timing import median_ms

HEADS, HEAD_DIM, POINTS = 8, 32, 4
SHAPES = {
    "a": {"levels": ((72, 128), (36, 64), (18, 32), (9, 16)), "batch": 8},
    "b": {"levels": ((100, 167), (50, 84), (25, 42), (13, 21)), "batch": 2},
}
IMPLEMENTATIONS = ("torch", "torch.compile", "triton")


def make_inputs(levels, batch: int, dtype: torch.dtype, device: str,
                grad: bool) -> list[torch.Tensor]:
    """value [N, S, M, D], locations [N, Lq, M, L, P, 2], weights [N, Lq, M, L, P], grad_out."""
    torch.manual_seed(0)
    s = sum(h * w for h, w in levels)
    inputs = [torch.randn(batch, s, HEADS, HEAD_DIM, dtype=dtype, device=device),
              torch.rand(batch, s, HEADS, len(levels), POINTS, 2, dtype=dtype, device=device),
              torch.rand(batch, s, HEADS, len(levels), POINTS, dtype=dtype, device=device) / 16]
    inputs = [t.requires_grad_(grad) for t in inputs]
    return [*inputs, torch.randn(batch, s, HEADS * HEAD_DIM, dtype=dtype, device=device)]


def attention(implementation: str, levels) -> Callable:
    if implementation == "torch.compile":
        return torch.compile(lambda v, l, w: ms_deform_attn(v, levels, None, l, w, backend="torch"))
    return lambda v, l, w: ms_deform_attn(v, levels, None, l, w, backend=implementation)


def speed(shape: str, batch: int, dtype: torch.dtype, implementation: str, device: str,
          repeats: int, levels=None) -> dict:
    """Forward and forward+backward milliseconds of one implementation at SHAPES[shape], or at
    `levels` ((H, W) per level) under the name `shape`."""
    row = {"shapes": shape, "batch": batch, "dtype": str(dtype).removeprefix("torch."),
           "implementation": implementation}
    if implementation == "triton" and device != "cuda":
        return {**row, "forward_ms": "n/a (no CUDA)", "forward_backward_ms": "n/a (no CUDA)"}
    levels = levels or SHAPES[shape]["levels"]
    fn = attention(implementation, levels)
    value, loc, weights, grad_out = make_inputs(levels, batch, dtype, device, grad=True)

    def forward():
        with torch.no_grad():
            fn(value, loc, weights)

    def forward_backward():
        for tensor in (value, loc, weights):
            tensor.grad = None
        fn(value, loc, weights).backward(grad_out)

    return {**row, "forward_ms": median_ms(forward, device, repeats),
            "forward_backward_ms": median_ms(forward_backward, device, repeats)}
