"""Reference-based detection losses against hand-computed values."""

import math

import pytest
import torch

from tracknet_cli.errors import ConfigError
from tracknet_cli.training.losses.detection import box_loss, centre_targets, objectness_loss

# (pred, target, 1 - IoU, 1 - GIoU, 1 - DIoU, 1 - CIoU), worked out by hand:
BOXES = {
    # overlap: intersection 1, union 7, hull 3x3 (area 9, diagonal^2 18), centres 2 apart (d^2 = 2)
    "overlapping": ((0, 0, 2, 2), (1, 1, 3, 3),
                    1 - 1 / 7, 1 - (1 / 7 - 2 / 9), 1 - (1 / 7 - 2 / 18), 1 - (1 / 7 - 2 / 18)),
    # apart: IoU 0, union 2, hull 3x1 (area 3, diagonal^2 10), centres 2 apart (d^2 = 4)
    "disjoint": ((0, 0, 1, 1), (2, 0, 3, 1), 1.0, 1 + 1 / 3, 1 + 4 / 10, 1 + 4 / 10),
    # inside: IoU 4/16, the hull is the target, same centre, same aspect ratio
    "nested": ((1, 1, 3, 3), (0, 0, 4, 4), 0.75, 0.75, 0.75, 0.75),
}
_V = 4 / math.pi**2 * (math.atan(1.0) - math.atan(2.0)) ** 2  # aspect term of 2x1 against 2x2
ASPECT = ((0, 0, 2, 1), (0, 0, 2, 2), 0.5, 0.5, 1 - (0.5 - 0.25 / 8), 1 - (0.5 - 0.25 / 8 - _V / (0.5 + _V) * _V))


@pytest.mark.parametrize("case", [*BOXES.values(), ASPECT], ids=[*BOXES, "aspect"])
@pytest.mark.parametrize("index,iou_type", list(enumerate(["iou", "giou", "diou", "ciou"])))
def test_box_losses_match_hand_values(case, index, iou_type):
    pred, target = (torch.tensor([box], dtype=torch.float64) for box in case[:2])
    total, count = box_loss(pred, target, iou_type)
    assert count.item() == 1
    assert total.item() == pytest.approx(case[2 + index], abs=1e-6)


def test_box_loss_sums_over_boxes_and_refuses_unknown_types():
    pred = torch.tensor([BOXES["overlapping"][0], BOXES["nested"][0]], dtype=torch.float32)
    target = torch.tensor([BOXES["overlapping"][1], BOXES["nested"][1]], dtype=torch.float32)
    total, count = box_loss(pred, target, "giou")
    assert count.item() == 2 and total.item() == pytest.approx(BOXES["overlapping"][3] + 0.75, abs=1e-5)
    empty, none = box_loss(pred[:0], target[:0], "ciou")
    assert empty.item() == 0 and none.item() == 0
    with pytest.raises(ConfigError, match="'siou' is not one of"):
        box_loss(pred, target, "siou")


def test_focal_objectness_hand_values():
    logits = torch.zeros(1, 1, 2)  # p = 0.5 everywhere
    targets = torch.tensor([[[1.0, 0.0]]])
    total, positives = objectness_loss(logits, targets)
    # positive: 0.25 * (1 - 0.5)^2 * ln 2; negative: 0.75 * 0.5^2 * ln 2
    assert total.item() == pytest.approx((0.25 + 0.75) * 0.25 * math.log(2), abs=1e-6)
    assert positives.item() == 1


def test_centre_targets_mark_cells_near_the_centre():
    boxes = torch.tensor([[8.0, 8.0, 24.0, 24.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 9.0, 9.0]])
    present = torch.tensor([True, True, False])
    targets = centre_targets(boxes, present, (8, 8), stride=4, pos_radius=1.0)
    assert targets.shape == (3, 8, 8)
    # box 0: centre (16, 16) is the corner of cells 3 and 4: the four cells around it are 0.71 away
    assert targets[0].nonzero().tolist() == [[3, 3], [3, 4], [4, 3], [4, 4]]
    assert targets[1].sum() == 1 and targets[1, 0, 0] == 1  # a tiny box still gets its cell
    assert targets[2].sum() == 0  # the object is absent
