"""eval's worst frames: which frames are picked, in what order, and how they are drawn."""

import numpy as np
import pandas as pd

from tracknet_cli.evaluation.worst_frames import (
    DETECTION_ORDER,
    LABEL_BGR,
    PREDICTION_BGR,
    draw_boxes,
    draw_example,
    worst_frames,
)

NAN = float("nan")


def rows(*specs):
    """(outcome, error, confidence, x, y, pred_x, pred_y) per frame."""
    return pd.DataFrame([{"clip": "game1/Clip1", "frame": i, "outcome": o, "error": e, "confidence": c,
                          "x": x, "y": y, "pred_x": px, "pred_y": py}
                         for i, (o, e, c, x, y, px, py) in enumerate(specs)])


def test_each_kind_worst_first_shared_round_robin():
    table = rows(("FP1", 5, .9, 10, 10, 20, 20), ("FP1", 50, .9, 10, 10, 60, 60), ("FP1", 20, .9, 10, 10, 30, 30),
                 ("FN", NAN, .1, 10, 10, NAN, NAN), ("FN", NAN, .4, 10, 10, NAN, NAN),
                 ("FP2", NAN, .9, NAN, NAN, 5, 5), ("FP2", NAN, .6, NAN, NAN, 5, 5), ("TP", 1, .9, 10, 10, 11, 10))
    picked = worst_frames(table, 4)
    assert list(zip(picked["outcome"], picked["frame"])) == [("FP1", 1), ("FN", 3), ("FP2", 5), ("FP1", 2)]
    assert len(worst_frames(table, 100)) == 7  # every wrong frame, never a right one


def test_a_far_prediction_gets_its_own_crop_and_both_are_marked():
    image = np.full((400, 600, 3), 90, np.uint8)
    near = draw_example(image, rows(("FP1", 30, .9, 300, 200, 330, 200)).iloc[0], size=160)
    far = draw_example(image, rows(("FP1", 250, .9, 100, 100, 350, 100)).iloc[0], size=160)
    assert near.shape == (160, 160, 3) and far.shape == (160, 320, 3)
    for drawn in (near, far):
        assert (drawn == LABEL_BGR).all(axis=2).any() and (drawn == PREDICTION_BGR).all(axis=2).any()
    edge = draw_example(image, rows(("FN", NAN, .2, 5, 5, NAN, NAN)).iloc[0], size=160)
    assert edge.shape == (160, 160, 3) and (edge[:40, :40] == 128).all()  # off the frame: grey, same size


def test_a_detectors_worst_images_are_confident_false_boxes_then_misses_with_both_boxes_drawn():
    table = pd.DataFrame([
        {"image": "a.jpg", "outcome": "TP", "score": .9, "iou": .8, "x1": 1, "y1": 1, "x2": 9, "y2": 9,
         "pred_x1": 1, "pred_y1": 1, "pred_x2": 9, "pred_y2": 9},
        {"image": "b.jpg", "outcome": "FP", "score": .6, "iou": .1, "x1": 10, "y1": 10, "x2": 40, "y2": 40,
         "pred_x1": 60, "pred_y1": 10, "pred_x2": 90, "pred_y2": 40},
        {"image": "c.jpg", "outcome": "FP", "score": .95, "iou": NAN, "x1": NAN, "y1": NAN, "x2": NAN, "y2": NAN,
         "pred_x1": 5, "pred_y1": 5, "pred_x2": 30, "pred_y2": 30},
        {"image": "d.jpg", "outcome": "FN", "score": NAN, "iou": NAN, "x1": 10, "y1": 10, "x2": 40, "y2": 40,
         "pred_x1": NAN, "pred_y1": NAN, "pred_x2": NAN, "pred_y2": NAN}])
    assert worst_frames(table, 3, DETECTION_ORDER)["image"].tolist() == ["c.jpg", "d.jpg", "b.jpg"]
    drawn = draw_boxes(np.full((60, 100, 3), 90, np.uint8), table.iloc[1])
    assert (drawn[10, 20:30] == LABEL_BGR).all() and (drawn[10, 70:80] == PREDICTION_BGR).all()
