"""Detection metrics on hand-built cases: each outcome, the IoU edge, AP by hand, COCO AP."""

import math

import numpy as np
import pytest

from tracknet_cli.evaluation.detection_metrics import average_precision, detection_metrics

OBJECT = np.array([0.0, 0.0, 10.0, 10.0])


def answer(*boxes_scores):
    boxes = np.array([b for b, _ in boxes_scores], dtype=float).reshape(-1, 4)
    return boxes, np.array([s for _, s in boxes_scores], dtype=float)


def test_each_outcome_at_the_operating_point():
    predictions = [
        answer(([0, 0, 10, 10], 0.9)),  # TP, IoU 1
        answer(([20, 20, 30, 30], 0.8)),  # a box that misses: FP and FN
        answer(([0, 0, 10, 10], 0.3)),  # below the threshold: FN
        answer(([0, 0, 5, 5], 0.9)),  # on an image without the object: FP
        answer(),  # nothing on an image without the object: nothing counted
    ]
    targets = [OBJECT, OBJECT, OBJECT, None, None]
    m = detection_metrics(predictions, targets, score_threshold=0.5)
    assert (m.tp, m.fp, m.fn, m.images) == (1, 2, 2, 5)
    assert m.precision == pytest.approx(1 / 3) and m.recall == pytest.approx(1 / 3)
    assert m.f1 == pytest.approx(1 / 3) and m.mean_iou == 1.0


def test_iou_edge_is_inclusive():
    # [0, 0, 10, 5] inside the object: IoU exactly 0.5
    m = detection_metrics([answer(([0, 0, 10, 5], 0.9))], [OBJECT])
    assert (m.tp, m.fp, m.fn) == (1, 0, 0) and m.mean_iou == pytest.approx(0.5)
    m = detection_metrics([answer(([0, 0, 10, 4.9], 0.9))], [OBJECT])
    assert (m.tp, m.fp, m.fn) == (0, 1, 1) and math.isnan(m.mean_iou)


def test_average_precision_by_hand():
    # ranked: 0.9 hit (P 1, R 1/2), 0.8 miss (P 1/2), 0.7 hit (P 2/3, R 1): the envelope is 1 up to
    # recall 1/2 and 2/3 beyond; 101 points: 51 at 1 (0 .. 0.5), 50 at 2/3
    predictions = [answer(([0, 0, 10, 10], 0.9)), answer(([50, 50, 60, 60], 0.8), ([0, 0, 10, 10], 0.7))]
    ap = average_precision(predictions, [OBJECT, OBJECT], 0.5)
    assert ap == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)
    # a second hit on an already found object is a false positive (duplicates do not pay)
    duplicate = [answer(([0, 0, 10, 10], 0.9), ([0, 0, 10, 10], 0.8)), answer()]
    assert average_precision(duplicate, [OBJECT, OBJECT], 0.5) == pytest.approx(51 / 101)
    assert math.isnan(average_precision([answer()], [None], 0.5))  # no object anywhere


def test_coco_ap_averages_over_iou_thresholds():
    # IoU 0.72: a hit up to threshold 0.70 (5 of 10 thresholds), a miss above
    box = [0, 0, 10, 7.2]
    m = detection_metrics([answer((box, 0.9))], [OBJECT])
    assert m.ap50 == pytest.approx(1.0) and m.ap == pytest.approx(0.5)
    with pytest.raises(ValueError, match="2 predictions for 1 images"):
        detection_metrics([answer(), answer()], [OBJECT])
