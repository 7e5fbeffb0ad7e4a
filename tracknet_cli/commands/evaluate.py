"""`tracknet eval`: score trained weights on a split, with the protocol in every report."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

from tracknet_cli.config import apply_overrides, load_data_config
from tracknet_cli.devices import select_device
from tracknet_cli.evaluation.attention_maps import deformable_decoder
from tracknet_cli.evaluation.run import EvalOptions, save_evaluation
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import check_data_format, refuse_other_tasks_options, task_of
from tracknet_cli.weights import choose_weights, load_weights


@dataclass
class EvalRun:
    evaluation: object  # the task's evaluation: metrics, predictions, per_clip, summary()
    context: dict  # what was scored with what: weights, model, task, data, split, threshold, epoch
    run_dir: Path


def evaluate(weights: str | Path | None = None, split: str | None = None, data: str | Path | None = None,
             options: EvalOptions | None = None, overrides: list[str] | tuple[str, ...] = (),
             name: str | None = None, exist_ok: bool = False, note: Callable[[str], None] | None = None,
             on_start: Callable[[int], None] | None = None,
             progress: Callable[[int], None] | None = None, given: Collection[str] = ()) -> EvalRun:
    """Score `weights` (a checkpoint or an ONNX export; default: the newest trained best.pt) on
    `split` (default: the task's, test for ball models) of its own dataset or of the data config
    `data`, into `runs/eval/<name>/`: metrics.json, predictions.csv, per_clip.csv. `given` names the
    options the user set (`events`): one the weights' task does not read is refused, not ignored."""
    options = options or EvalOptions()
    weights = choose_weights(weights, note)
    options = replace(options, device=select_device(options.device))
    model, cfg, checkpoint = load_weights(weights, options.device)
    if options.attention_maps:  # refused before the scoring, not after it
        deformable_decoder(model)
    if data is not None:
        cfg.data = load_data_config(data)
    cfg = apply_overrides(cfg, overrides)
    check_data_format(cfg)
    task = task_of(cfg)
    refuse_other_tasks_options(given, task, weights, lambda task: task.eval_options)
    split = split or task.eval_split
    run_dir = new_run_dir("eval", name, exist_ok)
    evaluation = task.evaluate(model, cfg, split, options, on_start, progress)
    context = {"weights": str(weights), "model": cfg.model.name, "task": task.name, "data": cfg.data.name,
               "root": cfg.data.root, "split": split, "threshold": options.threshold,
               "epoch": checkpoint["epoch"], **evaluation.context}
    save_evaluation(evaluation, context, run_dir)
    return EvalRun(evaluation, context, run_dir)
