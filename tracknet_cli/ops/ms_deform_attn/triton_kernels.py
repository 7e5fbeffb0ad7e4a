"""Triton kernels of multi-scale deformable attention, forward and backward, and their launchers.

One program per (batch item n, head m, block of BLOCK_Q queries). It walks the L levels and P
points; for each it gathers the D-vectors of the four bilinear corners as [BLOCK_Q, BLOCK_D]
tiles (D padded to a power of two, masked) and accumulates in fp32 whatever the storage dtype.
Corners outside a level are masked loads that read zero: the same zero padding as grid_sample.

Every offset that multiplies an index by a stride is int64: N*Lq*M*L*P*2 or N*S*M*D may pass
2**31. Autotuning is keyed on D, L and P (and dtypes), never on Lq or S, which change per input.
Whether the kernels run compiled or in Triton's CPU interpreter is fixed when this module is
imported, from TRITON_INTERPRET.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
# The interpreter runs each config in Python while autotuning: one is enough to test with.
_CONFIGS = [triton.Config({"BLOCK_Q": q}, num_warps=w)
            for q, w in ((16, 2), (32, 4), (64, 4), (32, 8))]
CONFIGS = _CONFIGS[:1] if INTERPRET else _CONFIGS


@triton.jit
def _queries(M, Lq, BLOCK_Q: tl.constexpr):
    """This program's batch item n, head m, its queries' rows in [N, Lq, M] (int64), their mask."""
    pid = tl.program_id(0)
    q_blocks = tl.cdiv(Lq, BLOCK_Q)
    head = pid // q_blocks  # n * M + m: consecutive programs share a head and so its value rows
    n = head // M
    m = head % M
    q = (pid % q_blocks) * BLOCK_Q + tl.arange(0, BLOCK_Q)
    rows = (n.to(tl.int64) * Lq + q) * M + m  # [BLOCK_Q]
    return n, m, rows, q < Lq


@triton.jit
def _level(levels_ptr, level, value_rows):
    """Height, width and first row in value [N*S] of one level; value_rows = n * S (int64)."""
    H = tl.load(levels_ptr + 3 * level)
    W = tl.load(levels_ptr + 3 * level + 1)
    first = value_rows + tl.load(levels_ptr + 3 * level + 2)
    return H, W, first


@triton.jit
def _pixel(loc_ptr, offsets, size, mask):
    """Integer corner and fraction of one normalised coordinate at align_corners=False."""
    size = size.to(tl.float32)
    pix = tl.load(loc_ptr + offsets, mask=mask, other=0.0).to(tl.float32) * size - 0.5
    low = tl.floor(pix)
    # Clamped before the int cast, which would overflow far outside; a clamped corner is still
    # outside the level (below -1 or at >= size), so it reads zero as before.
    clamped = tl.minimum(tl.maximum(low, -2.0), size)
    return clamped.to(tl.int32), pix - low


@triton.jit
def _point(loc_ptr, attn_ptr, rows, level, point, H, W, q_mask, L: tl.constexpr, P: tl.constexpr):
    """Index of each query's (level, point) in attn (2x that in loc), its weight, and the integer
    top-left corner and fractions of its location."""
    sample = rows * (L * P) + level * P + point  # [BLOCK_Q] int64
    weight = tl.load(attn_ptr + sample, mask=q_mask, other=0.0).to(tl.float32)
    x, fx = _pixel(loc_ptr, 2 * sample, W, q_mask)
    y, fy = _pixel(loc_ptr, 2 * sample + 1, H, q_mask)
    return sample, weight, x, fx, y, fy


@triton.jit
def _corner(first, M, m, D, H, W, x, y, q_mask, d, d_mask):
    """Offsets [BLOCK_Q, BLOCK_D] in value of the D-vectors at integer pixels (x, y) of a level
    that starts at row `first`, and the mask of those inside it."""
    inside = q_mask & (x >= 0) & (x < W) & (y >= 0) & (y < H)
    offsets = ((first + y.to(tl.int64) * W + x) * M + m) * D  # [BLOCK_Q]
    return offsets[:, None] + d[None, :], inside[:, None] & d_mask[None, :]


@triton.autotune(configs=CONFIGS, key=["D", "L", "P"])
@triton.jit
def _forward_kernel(value_ptr, levels_ptr, loc_ptr, attn_ptr, out_ptr, S, M, Lq, D,
                    L: tl.constexpr, P: tl.constexpr,
                    BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr):
    n, m, rows, q_mask = _queries(M, Lq, BLOCK_Q)
    d = tl.arange(0, BLOCK_D)
    d_mask = d < D
    acc = tl.zeros((BLOCK_Q, BLOCK_D), dtype=tl.float32)
    for level in tl.static_range(L):
        H, W, first = _level(levels_ptr, level, n.to(tl.int64) * S)
        for point in tl.static_range(P):
            _, weight, x, fx, y, fy = _point(loc_ptr, attn_ptr, rows, level, point, H, W, q_mask,
                                             L, P)
            for corner in tl.static_range(4):
                dx = corner % 2
                dy = corner // 2
                offsets, mask = _corner(first, M, m, D, H, W, x + dx, y + dy, q_mask, d, d_mask)
                v = tl.load(value_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
                bilinear = (dx * fx + (1 - dx) * (1 - fx)) * (dy * fy + (1 - dy) * (1 - fy))
                acc += (weight * bilinear)[:, None] * v
    out = out_ptr + rows[:, None] * D + d[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=q_mask[:, None] & d_mask[None, :])


@triton.autotune(configs=CONFIGS, key=["D", "L", "P"], reset_to_zero=["grad_value_ptr"])
@triton.jit
def _backward_kernel(value_ptr, levels_ptr, loc_ptr, attn_ptr, grad_out_ptr,
                     grad_value_ptr, grad_loc_ptr, grad_attn_ptr, S, M, Lq, D,
                     L: tl.constexpr, P: tl.constexpr,
                     BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr):
    """grad_value (fp32, accumulated with atomics: many queries read one pixel) and, owned by
    this program alone, grad_loc and grad_attn of its queries."""
    n, m, rows, q_mask = _queries(M, Lq, BLOCK_Q)
    d = tl.arange(0, BLOCK_D)
    d_mask = d < D
    grad_out = tl.load(grad_out_ptr + rows[:, None] * D + d[None, :],
                       mask=q_mask[:, None] & d_mask[None, :], other=0.0).to(tl.float32)
    for level in tl.static_range(L):
        H, W, first = _level(levels_ptr, level, n.to(tl.int64) * S)
        for point in tl.static_range(P):
            sample, weight, x, fx, y, fy = _point(loc_ptr, attn_ptr, rows, level, point, H, W,
                                                  q_mask, L, P)
            grad_weight = tl.zeros((BLOCK_Q,), dtype=tl.float32)
            grad_x = tl.zeros((BLOCK_Q,), dtype=tl.float32)  # d loss / d pixel x, over weight
            grad_y = tl.zeros((BLOCK_Q,), dtype=tl.float32)
            for corner in tl.static_range(4):
                dx = corner % 2
                dy = corner // 2
                offsets, mask = _corner(first, M, m, D, H, W, x + dx, y + dy, q_mask, d, d_mask)
                v = tl.load(value_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
                wx = dx * fx + (1 - dx) * (1 - fx)  # bilinear factors; d wx / d x = 2*dx - 1
                wy = dy * fy + (1 - dy) * (1 - fy)
                tl.atomic_add(grad_value_ptr + offsets, (weight * wx * wy)[:, None] * grad_out,
                              mask=mask, sem="relaxed")
                dot = tl.sum(grad_out * v, axis=1)  # [BLOCK_Q]: grad_out . corner vector
                grad_weight += wx * wy * dot
                grad_x += (2 * dx - 1) * wy * dot
                grad_y += (2 * dy - 1) * wx * dot
            # pixel = loc * size - 0.5, so d pixel / d loc = size
            grad_x *= weight * W.to(tl.float32)
            grad_y *= weight * H.to(tl.float32)
            dtype = grad_loc_ptr.dtype.element_ty  # also grad_attn's: the inputs share one dtype
            tl.store(grad_attn_ptr + sample, grad_weight.to(dtype), mask=q_mask)
            tl.store(grad_loc_ptr + 2 * sample, grad_x.to(dtype), mask=q_mask)
            tl.store(grad_loc_ptr + 2 * sample + 1, grad_y.to(dtype), mask=q_mask)


def _grid(n: int, m: int, lq: int):
    return lambda meta: (n * m * triton.cdiv(lq, meta["BLOCK_Q"]),)


def forward(value: torch.Tensor, levels: torch.Tensor, loc: torch.Tensor,
            attn: torch.Tensor) -> torch.Tensor:
    """[N, Lq, M*D] from contiguous value [N, S, M, D], levels [L, 3] int64 (H, W, start),
    loc [N, Lq, M, L, P, 2] and attn [N, Lq, M, L, P]."""
    n, s, m, d = value.shape
    lq, num_levels, points = loc.shape[1], loc.shape[3], loc.shape[4]
    out = value.new_empty(n, lq, m * d)
    if out.numel():  # a launch over no programs is an error
        _forward_kernel[_grid(n, m, lq)](value, levels, loc, attn, out, s, m, lq, d,
                                         L=num_levels, P=points,
                                         BLOCK_D=triton.next_power_of_2(d))
    return out


def backward(grad_out: torch.Tensor, value: torch.Tensor, levels: torch.Tensor, loc: torch.Tensor,
             attn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of value, loc and attn (in their dtypes) from contiguous grad_out [N, Lq, M*D]."""
    n, s, m, d = value.shape
    lq, num_levels, points = loc.shape[1], loc.shape[3], loc.shape[4]
    grad_value = torch.zeros(value.shape, dtype=torch.float32, device=value.device)
    grad_loc = torch.zeros_like(loc)  # zeros: an empty output launches nothing
    grad_attn = torch.zeros_like(attn)
    if grad_out.numel():
        _backward_kernel[_grid(n, m, lq)](value, levels, loc, attn, grad_out, grad_value, grad_loc,
                                          grad_attn, s, m, lq, d, L=num_levels, P=points,
                                          BLOCK_D=triton.next_power_of_2(d))
    return grad_value.to(value.dtype), grad_loc, grad_attn
