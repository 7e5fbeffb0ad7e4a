"""Losses of reference-based detection: focal objectness on a stride-4 grid, IoU-family box loss.

The formulas are torchvision's (`torchvision.ops`), which implements and tests them; this module
chooses among them by config name, builds the objectness targets and keeps the (sum, count)
convention of the heatmap losses, so data-parallel training matches one process.
"""

from __future__ import annotations

import torch

from tracknet_cli.errors import ConfigError
from tracknet_cli.models.refdet import HEAD_STRIDE

Loss = tuple[torch.Tensor, torch.Tensor]
WeightedLoss = tuple[float, torch.Tensor, torch.Tensor]  # (weight, sum, count)


def iou_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """1 - IoU of matching boxes [N, 4] (x1, y1, x2, y2); torchvision has only the pairwise IoU."""
    width = (torch.minimum(pred[:, 2], target[:, 2]) - torch.maximum(pred[:, 0], target[:, 0])).clamp(min=0)
    height = (torch.minimum(pred[:, 3], target[:, 3]) - torch.maximum(pred[:, 1], target[:, 1])).clamp(min=0)
    intersection = width * height
    area = (pred[:, 2:] - pred[:, :2]).prod(dim=1) + (target[:, 2:] - target[:, :2]).prod(dim=1)
    loss = 1 - intersection / (area - intersection).clamp(min=1e-7)
    return loss.sum() if reduction == "sum" else loss


# training.loss.iou_type -> its torchvision.ops loss, looked up when used (torchvision.ops takes
# seconds to import, and ball models never need it); "iou" is ours
BOX_LOSSES = {"iou": None, "giou": "generalized_box_iou_loss", "diou": "distance_box_iou_loss",
              "ciou": "complete_box_iou_loss"}


def box_loss(pred: torch.Tensor, target: torch.Tensor, iou_type: str = "giou") -> Loss:
    """(sum over boxes, number of boxes) of the `iou_type` loss of matching boxes [N, 4]."""
    if iou_type not in BOX_LOSSES:
        raise ConfigError(f"training.loss.iou_type {iou_type!r} is not one of {sorted(BOX_LOSSES)}")
    if len(pred) == 0:
        return pred.sum() * 0, torch.zeros((), device=pred.device)
    from torchvision import ops

    loss = getattr(ops, BOX_LOSSES[iou_type]) if BOX_LOSSES[iou_type] else iou_loss
    total = loss(pred.float(), target.float(), reduction="sum")
    return total, torch.tensor(float(len(pred)), device=pred.device)


def objectness_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Loss:
    """(sigmoid focal loss summed over the grid [B, h, w], number of positive cells): RetinaNet's
    normalisation by positives, so the thousands of easy background cells do not drown them."""
    from torchvision.ops import sigmoid_focal_loss  # imported here: see BOX_LOSSES

    total = sigmoid_focal_loss(logits.float(), targets.float(), alpha=alpha, gamma=gamma, reduction="sum")
    return total, targets.sum().float()


def centre_targets(boxes: torch.Tensor, present: torch.Tensor, grid_hw: tuple[int, int], stride: int,
                   pos_radius: float) -> torch.Tensor:
    """[B, h, w] objectness targets: 1 on the cells whose centre lies within `pos_radius` cells of
    the box centre, 0 elsewhere and everywhere on images without the object.

    boxes [B, 4] in search-image pixels, present [B] bool. The cell at the centre is always
    positive, so a small object still gets one.
    """
    height, width = grid_hw
    ys = (torch.arange(height, device=boxes.device, dtype=torch.float32) + 0.5) * stride  # cell centres
    xs = (torch.arange(width, device=boxes.device, dtype=torch.float32) + 0.5) * stride
    cx = (boxes[:, 0] + boxes[:, 2]).float() / 2
    cy = (boxes[:, 1] + boxes[:, 3]).float() / 2
    distance = torch.hypot(xs.view(1, 1, -1) - cx.view(-1, 1, 1), ys.view(1, -1, 1) - cy.view(-1, 1, 1)) / stride
    nearest = distance.flatten(1).argmin(dim=1)  # [B]
    targets = (distance <= pos_radius).float()
    targets.view(len(boxes), -1)[torch.arange(len(boxes)), nearest] = 1.0
    return targets * present.view(-1, 1, 1).float()


def refdet_losses(outputs: dict[str, torch.Tensor], boxes: torch.Tensor, present: torch.Tensor,
                  cfg) -> list[WeightedLoss]:
    """The detector's two terms from `training.loss`: focal objectness over the stride-4 grid and
    the box loss on the positive cells, each (weight, sum, count).

    outputs: the model's {"objectness" [B, h, w], "boxes" [B, 4, h, w]}; boxes [B, 4] in
    search-image pixels (any value where the object is absent), present [B] bool.
    """
    logits, predicted = outputs["objectness"], outputs["boxes"]
    boxes = torch.nan_to_num(boxes)
    targets = centre_targets(boxes, present, tuple(logits.shape[-2:]), HEAD_STRIDE, cfg.pos_radius)
    positive = targets > 0  # [B, h, w]
    matched = boxes[:, None, None, :].expand(-1, *positive.shape[1:], -1)[positive]  # [N, 4]
    objectness = objectness_loss(logits, targets, cfg.focal_alpha, cfg.focal_gamma)
    box = box_loss(predicted.permute(0, 2, 3, 1)[positive], matched, cfg.iou_type)
    return [(cfg.lambda_obj, *objectness), (cfg.lambda_bbox, *box)]
