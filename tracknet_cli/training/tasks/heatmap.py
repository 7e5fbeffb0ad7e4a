"""The ball task: frame windows in, heatmaps out, validated by F1 at a pixel tolerance."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from tracknet_cli import distributed
from tracknet_cli.datasets.tracknet import build_dataset
from tracknet_cli.evaluation.evaluator import predict_frames, score
from tracknet_cli.evaluation.metrics import Protocol
from tracknet_cli.model_input import normalize
from tracknet_cli.training.losses import build_loss

VALIDATION_TOLERANCE = 4.0  # px at the original resolution: what best.pt is chosen by


class HeatmapTask:
    best_metric = "val_f1"
    # the per-epoch table's columns, under short names so it fits 80 columns
    headers = {"val_f1": "F1", "val_precision": "P", "val_recall": "R", "val_accuracy": "acc",
               "val_median_l2": "L2 px"}

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.loss_fn = build_loss(cfg.training.loss)
        self.channels_last = bool(cfg.training.channels_last)
        self.spec = None

    def datasets(self):
        train = build_dataset(self.cfg, "train", normalize=False)
        val = build_dataset(self.cfg, "val", normalize=False) if "val" in self.cfg.data.splits else None
        self.spec = train.spec
        return train, val

    def inputs(self, batch: dict, device: torch.device) -> tuple[torch.Tensor]:
        frames = normalize(batch["frames"].to(device, non_blocking=True), self.spec.mean, self.spec.std)
        if device.type == "cuda" and self.channels_last and frames.dim() == 4:
            frames = frames.contiguous(memory_format=torch.channels_last)
        return (frames,)

    def losses(self, logits: torch.Tensor, batch: dict, device: torch.device) -> list:
        targets = batch["heatmaps"].to(device, non_blocking=True)
        mask = batch["mask"].to(device, non_blocking=True)
        return [(1.0, *self.loss_fn(logits, targets, mask))]

    def validate(self, model: torch.nn.Module, dataset, device: torch.device, batch_size: int,
                 num_workers: int, amp_dtype: torch.dtype | None) -> dict:
        """Validation metrics on the main process ({} on the others)."""
        predictions = predict_frames(model, dataset, device, batch_size=batch_size, num_workers=num_workers,
                                     amp_dtype=amp_dtype)
        if not distributed.is_main():
            return {}
        metrics = score(predictions, Protocol(tolerance=VALIDATION_TOLERANCE)).metrics
        return {"val_f1": metrics.f1, "val_precision": metrics.precision, "val_recall": metrics.recall,
                "val_accuracy": metrics.accuracy, "val_median_l2": metrics.median_l2}

    def log_images(self, log, batch: dict, logits: torch.Tensor, step: int) -> None:
        log.heatmaps(batch["frames"], batch["heatmaps"], logits.detach(), step)

    def shapes(self, batch: dict, outputs: torch.Tensor) -> dict:
        return {"input": list(batch["frames"].shape), "target": list(batch["heatmaps"].shape),
                "output": list(outputs.shape)}
