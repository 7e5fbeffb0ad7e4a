"""Heatmap losses, masked per frame. Each returns (sum, count): the caller divides by a count that
can be summed across processes, so data-parallel training matches one process exactly.

All take logits [B, T_out, H, W] (the sigmoid is applied here, in float32), Gaussian targets of the
same shape and a bool mask [B, T_out] of frames whose label may be used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Loss = tuple[torch.Tensor, torch.Tensor]


def _masked(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor):
    """Only the usable frames, as float32 [N, H, W]."""
    return logits[mask].float(), targets[mask].float()


def mse_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> Loss:
    """Mean squared error between sigmoid(logits) and the target, per pixel of usable frames."""
    x, t = _masked(logits, targets, mask)
    return F.mse_loss(torch.sigmoid(x), t, reduction="sum"), torch.tensor(float(t.numel()), device=t.device)


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
               alpha: float = 2.0, beta: float = 4.0) -> Loss:
    """CenterNet's penalty-reduced focal loss, normalised by the number of balls.

    The positive of a frame is its target's peak pixel (targets are sub-pixel Gaussians, so the
    peak is near 1, not exactly 1); elsewhere (1 - target)^beta softens the penalty next to the
    ball. Frames without a ball contribute negatives only.
    """
    x, t = _masked(logits, targets, mask)
    peak = t.flatten(1).amax(dim=1).view(-1, 1, 1)
    positive = (t == peak) & (peak > 0.5)
    log_p, log_not_p = F.logsigmoid(x), F.logsigmoid(-x)
    p = torch.sigmoid(x)
    positive_term = (1 - p) ** alpha * log_p
    negative_term = (1 - t) ** beta * p ** alpha * log_not_p
    total = -torch.where(positive, positive_term, negative_term).sum()
    return total, positive.sum().float()


def wbce_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> Loss:
    """TrackNetV2's weighted binary cross-entropy: each side weighted by the other's probability
    squared, so confident, correct pixels (nearly all background) fade out of the loss."""
    x, t = _masked(logits, targets, mask)
    p = torch.sigmoid(x)
    total = -((1 - p) ** 2 * t * F.logsigmoid(x) + p ** 2 * (1 - t) * F.logsigmoid(-x)).sum()
    return total, torch.tensor(float(t.numel()), device=t.device)
