"""Metrics of reference-based detection, where an image holds the object once or not at all.

Operating point (a score threshold and IoU 0.5): each image's best box above the threshold is its
answer; a TP overlaps the object by IoU >= 0.5, an FP is a box on an image without the object or a
box that misses it, an FN an object without a matching box (a miss counts as FP and FN). Precision,
recall, F1 and the mean IoU of the TPs follow.
Ranking (every box of every image, by score): average precision at IoU 0.5 and COCO's AP averaged
over IoU 0.50:0.05:0.95, with COCO's 101-point interpolated precision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

COCO_THRESHOLDS = np.round(np.arange(0.5, 0.96, 0.05), 2)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass
class DetectionMetrics:
    images: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_iou: float  # over the TPs; NaN without any
    ap50: float
    ap: float  # COCO AP@[0.50:0.95]
    score_threshold: float

    def as_dict(self) -> dict:
        return asdict(self)


def detection_metrics(predictions: list[tuple[np.ndarray, np.ndarray]], targets: list[np.ndarray | None],
                      score_threshold: float = 0.5, iou_threshold: float = 0.5) -> DetectionMetrics:
    """`predictions[i]` = (boxes [K, 4], scores [K]) of image i; `targets[i]` its box [4] or None."""
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} images")
    best_ious = [_best_iou(boxes, scores, target, score_threshold)
                 for (boxes, scores), target in zip(predictions, targets)]
    tp = sum(iou is not None and iou >= iou_threshold for iou in best_ious)
    answered = sum(_has_box(scores, score_threshold) for _, scores in predictions)
    present = sum(target is not None for target in targets)
    fp, fn = answered - tp, present - tp
    precision = tp / answered if answered else 0.0
    recall = tp / present if present else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    tp_ious = [iou for iou in best_ious if iou is not None and iou >= iou_threshold]
    aps = [average_precision(predictions, targets, threshold) for threshold in COCO_THRESHOLDS]
    return DetectionMetrics(len(targets), tp, fp, fn, precision, recall, f1,
                            float(np.mean(tp_ious)) if tp_ious else float("nan"), aps[0], float(np.mean(aps)),
                            score_threshold)


def average_precision(predictions: list[tuple[np.ndarray, np.ndarray]], targets: list[np.ndarray | None],
                      iou_threshold: float) -> float:
    """AP of all boxes ranked by score: a box is a TP when it is the first to overlap its image's
    object by `iou_threshold`; precision interpolated at 101 recall points, as COCO does."""
    present = sum(target is not None for target in targets)
    if present == 0:
        return float("nan")
    ranked = []  # (score, image, iou with the image's object or -1)
    for image, ((boxes, scores), target) in enumerate(zip(predictions, targets)):
        ious = box_ious(boxes, target)
        ranked += [(float(s), image, float(iou)) for s, iou in zip(scores, ious)]
    ranked.sort(key=lambda entry: -entry[0])
    matched, hits = set(), []
    for _, image, iou in ranked:
        hit = iou >= iou_threshold and image not in matched
        if hit:
            matched.add(image)
        hits.append(hit)
    hits = np.array(hits, dtype=bool)
    recall = np.cumsum(hits) / present
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision  # envelope
    sampled = [precision[np.searchsorted(recall, r, side="left")] if r <= (recall[-1] if len(recall) else -1)
               else 0.0 for r in RECALL_POINTS]
    return float(np.mean(sampled))


def box_ious(boxes: np.ndarray, target: np.ndarray | None) -> np.ndarray:
    """[K] IoU of each box with the object; -1 where there is no object."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if target is None or len(boxes) == 0:
        return np.full(len(boxes), -1.0)
    from torchvision.ops import box_iou  # imported here: torchvision.ops takes seconds, ball models never need it

    return box_iou(torch.from_numpy(boxes), torch.from_numpy(np.asarray(target, dtype=np.float64)[None]))[:, 0].numpy()


def _has_box(scores: np.ndarray, threshold: float) -> bool:
    return bool(len(scores)) and float(np.max(scores)) >= threshold


def _best_iou(boxes: np.ndarray, scores: np.ndarray, target: np.ndarray | None, threshold: float) -> float | None:
    """IoU of the image's answer (its best box above the threshold) with the object; None when the
    image gives no answer or has no object."""
    if not _has_box(scores, threshold) or target is None:
        return None
    return float(box_ious(boxes, target)[int(np.argmax(scores))])
