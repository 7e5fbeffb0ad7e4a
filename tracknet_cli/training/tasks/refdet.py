"""Reference-based detection: templates and a search image in, objectness and boxes out,
validated by AP at IoU 0.5."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from tracknet_cli import distributed
from tracknet_cli.datasets.refdet import build_refdet_dataset
from tracknet_cli.datasets.refdet_layout import scan_refdet
from tracknet_cli.evaluation.refdet_evaluator import predict_detections, score_detections
from tracknet_cli.models.refdet import HEAD_STRIDE
from tracknet_cli.training.losses.detection import centre_targets, refdet_losses

SCORE_THRESHOLD = 0.5  # the operating point of the validation P/R/F1


class RefdetTask:
    best_metric = "val_ap50"
    # the per-epoch table's columns (results.csv also has precision and recall)
    headers = {"val_ap50": "AP50", "val_ap": "AP", "val_f1": "F1", "val_mean_iou": "IoU"}

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.loss_cfg = cfg.training.loss

    def datasets(self):
        report = scan_refdet(self.cfg.data.root)  # once for both splits
        train = build_refdet_dataset(self.cfg, "train", report, train=True)
        has_val = any(sample.split == "val" for sample in report.samples)
        return train, build_refdet_dataset(self.cfg, "val", report) if has_val else None

    def inputs(self, batch: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return (batch["templates"].to(device, non_blocking=True), batch["search"].to(device, non_blocking=True))

    def losses(self, outputs: dict, batch: dict, device: torch.device) -> list:
        return refdet_losses(outputs, batch["box"].to(device), batch["present"].to(device), self.loss_cfg)

    def validate(self, model: torch.nn.Module, dataset, device: torch.device, batch_size: int,
                 num_workers: int, amp_dtype: torch.dtype | None) -> dict:
        """Validation metrics on the main process ({} on the others)."""
        results = predict_detections(model, dataset, device, batch_size, num_workers, amp_dtype)
        if not distributed.is_main():
            return {}
        metrics = score_detections(results, SCORE_THRESHOLD).metrics
        return {"val_ap50": metrics.ap50, "val_ap": metrics.ap, "val_f1": metrics.f1,
                "val_precision": metrics.precision, "val_recall": metrics.recall, "val_mean_iou": metrics.mean_iou}

    def log_images(self, log, batch: dict, outputs: dict, step: int) -> None:
        """The first search image, its objectness target and the predicted objectness."""
        logits = outputs["objectness"].detach()
        targets = centre_targets(torch.nan_to_num(batch["box"]), batch["present"], tuple(logits.shape[-2:]),
                                 HEAD_STRIDE, self.loss_cfg.pos_radius)
        log.heatmaps(batch["search"][:, None], targets[:, None], logits[:, None].cpu(), step)

    def shapes(self, batch: dict, outputs: dict) -> dict:
        return {"templates": list(batch["templates"].shape), "search": list(batch["search"].shape),
                "objectness": list(outputs["objectness"].shape), "boxes": list(outputs["boxes"].shape)}
