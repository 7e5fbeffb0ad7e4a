"""Run a reference-based detector over a refdet split and score it image by image.

Every image keeps its boxes down to a low score floor (`SCORE_FLOOR`), so average precision sees
the whole ranking; the operating-point metrics (precision, recall, F1, mean IoU) take each image's
best box at or above the score threshold. Boxes and labels are compared in the original image's
pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Subset

from tracknet_cli import distributed
from tracknet_cli.datasets.refdet import RefdetDataset, build_refdet_dataset
from tracknet_cli.devices import autocast, autocast_dtype
from tracknet_cli.evaluation.detection_metrics import DetectionMetrics, box_ious, detection_metrics
from tracknet_cli.evaluation.run import EvalOptions
from tracknet_cli.evaluation.worst_frames import DETECTION_ORDER, crop_examples, draw_boxes, worst_frames
from tracknet_cli.models.postprocess import decode_detections

SCORE_FLOOR = 0.05  # boxes below this score are dropped before ranking (as detectron2 does)
IOU_THRESHOLD = 0.5
BOX_COLUMNS = ["x1", "y1", "x2", "y2"]


@dataclass
class ImageDetections:
    object_id: str
    image: str
    target: np.ndarray | None  # [4] the object's box in image pixels; None when absent
    boxes: np.ndarray  # [K, 4] in image pixels, best first
    scores: np.ndarray  # [K]


@dataclass
class RefdetEvaluation:
    predictions: pd.DataFrame  # one row per image: label, best box above the threshold, IoU, outcome
    metrics: DetectionMetrics
    per_clip: pd.DataFrame  # one row per object (the ball evaluation's per-clip file)
    attention_maps: dict[str, bytes] = field(default_factory=dict)  # none for refdet models
    examples: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG: the worst images, boxes drawn
    context: dict = field(default_factory=dict)  # what was scored, for metrics.json: {"images": N}

    def protocol_record(self) -> dict:
        threshold = self.metrics.score_threshold
        return {"description": f"IoU {IOU_THRESHOLD} at score {threshold:g}, AP@0.5 and COCO AP@[.5:.95] "
                               f"over boxes scoring >= {SCORE_FLOOR}, original image pixels",
                "iou_threshold": IOU_THRESHOLD, "score_threshold": threshold, "score_floor": SCORE_FLOOR,
                "resolution": "original"}

    def metrics_record(self) -> dict:
        return self.metrics.as_dict()

    def summary(self) -> list[dict]:
        """The printed table: one row of counts, rates, IoU and AP."""
        m = self.metrics
        return [{"TP": m.tp, "FP": m.fp, "FN": m.fn, "P": m.precision, "R": m.recall, "F1": m.f1,
                 "IoU": m.mean_iou, "AP50": m.ap50, "AP": m.ap}]

    def extent(self) -> str:
        return f"{self.metrics.images} images"


def evaluate_refdet(model: torch.nn.Module, cfg: DictConfig, split: str, options: EvalOptions,
                    on_start: Callable[[int], None] | None = None,
                    progress: Callable[[int], None] | None = None) -> RefdetEvaluation:
    """Score a reference-based detector on `split` of `cfg.data` at the score `options.threshold`."""
    dataset = build_refdet_dataset(cfg, split)
    if on_start:
        on_start(len(dataset))
    detections = predict_detections(model, dataset, options.device, options.batch_size, options.num_workers,
                                    autocast_dtype(options.device, cfg.training.amp), progress)
    evaluation = score_detections(detections, options.threshold)
    if options.worst_frames:
        evaluation.examples = crop_examples(worst_frames(evaluation.predictions, options.worst_frames, DETECTION_ORDER),
                                            lambda row: Path(row["image"]), lambda row: Path(row["image"]).stem,
                                            draw_boxes)
    evaluation.context = {"images": len(dataset)}
    return evaluation


@torch.no_grad()
def predict_detections(model: torch.nn.Module, dataset: RefdetDataset, device: torch.device,
                       batch_size: int = 16, num_workers: int = 2, amp_dtype: torch.dtype | None = None,
                       progress: Callable[[int], None] | None = None, top_k: int = 20) -> list[ImageDetections]:
    """Boxes and scores of every image of `dataset`; in a distributed run each process takes a share
    of the images and rank 0 receives them all."""
    share = list(range(distributed.rank(), len(dataset), distributed.world_size()))
    loader = DataLoader(Subset(dataset, share), batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    search_size = dataset.search_size
    model.eval()
    results = []
    for batch in loader:
        with autocast(device, amp_dtype):
            out = model(batch["templates"].to(device, non_blocking=True), batch["search"].to(device, non_blocking=True))
        scores, boxes = out["objectness"].float().sigmoid(), out["boxes"].float()
        for i in range(len(scores)):
            size = tuple(int(v) for v in batch["meta"]["size"][i])
            found, found_scores = decode_detections(scores[i], boxes[i], search_size, size, SCORE_FLOOR, top_k=top_k)
            target = None
            if batch["present"][i]:  # back from search-size to image pixels: the dataset's scaling inverted
                target = batch["box"][i].double().numpy() * np.array([size[0] / search_size[0],
                                                                      size[1] / search_size[1]] * 2)
            results.append(ImageDetections(batch["meta"]["object"][i], batch["meta"]["image"][i], target,
                                           found, found_scores))
        if progress:
            progress(len(scores))
    return distributed.gather_to_main(results)


def score_detections(results: list[ImageDetections], score_threshold: float = 0.5) -> RefdetEvaluation:
    """Metrics over all images, a row per image and metrics per object."""
    metrics = detection_metrics([(r.boxes, r.scores) for r in results], [r.target for r in results],
                                score_threshold, IOU_THRESHOLD)
    rows = [_image_row(r, score_threshold) for r in results]
    predictions = pd.DataFrame(rows).sort_values(["object", "image"], kind="stable").reset_index(drop=True)
    per_object = []
    for object_id in sorted({r.object_id for r in results}):
        mine = [r for r in results if r.object_id == object_id]
        object_metrics = detection_metrics([(r.boxes, r.scores) for r in mine], [r.target for r in mine],
                                           score_threshold, IOU_THRESHOLD)
        per_object.append({"object": object_id, **object_metrics.as_dict()})
    return RefdetEvaluation(predictions, metrics, pd.DataFrame(per_object))


def _image_row(result: ImageDetections, score_threshold: float) -> dict:
    """The image's label, its answer (best box at or above the threshold) and the outcome."""
    label = result.target if result.target is not None else np.full(4, np.nan)
    answered = len(result.scores) > 0 and result.scores[0] >= score_threshold
    answer = result.boxes[0] if answered else np.full(4, np.nan)
    iou = float(box_ious(answer[None], result.target)[0]) if answered and result.target is not None else np.nan
    if result.target is None:
        outcome = "FP" if answered else "TN"
    elif not answered:
        outcome = "FN"
    else:
        outcome = "TP" if iou >= IOU_THRESHOLD else "FP+FN"  # a miss: a wrong box and no right one
    return {"object": result.object_id, "image": result.image, "present": result.target is not None,
            **dict(zip(BOX_COLUMNS, label)), **{f"pred_{c}": v for c, v in zip(BOX_COLUMNS, answer)},
            "score": float(result.scores[0]) if answered else np.nan, "iou": iou, "outcome": outcome}
