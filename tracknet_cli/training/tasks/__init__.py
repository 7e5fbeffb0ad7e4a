"""What the trainer needs to know about a task: its data, its loss, how it validates.

    task = build_task(cfg)          # by cfg.model.task: heatmap (ball) or refdet
    train_set, val_set = task.datasets()
    outputs = model(*task.inputs(batch, device))
    terms = task.losses(outputs, batch, device)        # [(weight, sum, count), ...]
    row = task.validate(model, val_set, device, ...)   # {"val_...": value}, best by task.best_metric

The trainer owns everything else (schedule, precision, accumulation, checkpoints, logging), so a
new task is one module here.
"""

from __future__ import annotations

from omegaconf import DictConfig

from tracknet_cli.training.tasks.heatmap import HeatmapTask
from tracknet_cli.training.tasks.refdet import RefdetTask

TASKS = {"heatmap": HeatmapTask, "refdet": RefdetTask}


def build_task(cfg: DictConfig) -> HeatmapTask | RefdetTask:
    return TASKS[cfg.model.task](cfg)
