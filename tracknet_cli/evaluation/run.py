"""What every evaluation takes and what it writes, whatever the task.

An evaluation (`evaluator.Evaluation`, `refdet_evaluator.RefdetEvaluation`) has `metrics`
(with `as_dict()`) and `metrics_record()` (what metrics.json holds of them), `predictions` (a row
per frame or image), `per_clip` (a row per clip or object), `protocol_record()`, `attention_maps`
and `examples` (file name -> PNG: where an encoder looks, the worst frames cropped) and
`summary()`: the rows of the table a command prints, each {name: value}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from tracknet_cli.evaluation.metrics import Protocol
from tracknet_cli.evaluation.report import write_eval_report
from tracknet_cli.fileio import atomic_path, write_json


@dataclass
class EvalOptions:
    device: str | torch.device = "auto"  # auto, cpu, cuda; resolved before an evaluator runs
    threshold: float = 0.5  # heatmap peak (ball) or box score (detector) that counts as a detection
    protocol: Protocol = field(default_factory=Protocol)  # how ball frames are judged
    batch_size: int = 16
    num_workers: int = 2
    attention_maps: int = 0  # draw where a deformable encoder looks from this many predicted balls
    worst_frames: int = 12  # crops of the frames the model gets most wrong, for the report
    events: str = "learned"  # ball: how hits and bounces are found where labelled (`inference.events.METHODS`)


def save_evaluation(evaluation, context: dict, run_dir: Path) -> None:
    """metrics.json (with the protocol), predictions.csv (a row per frame or image), per_clip.csv
    (a row per clip, or per object for refdet), attention/*.png, worst/*.png and report.html."""
    write_json(run_dir / "metrics.json", {**context, "protocol": evaluation.protocol_record(),
                                          "metrics": evaluation.metrics_record()})
    for name, table in (("predictions.csv", evaluation.predictions), ("per_clip.csv", evaluation.per_clip)):
        with atomic_path(run_dir / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.3f")
    for folder, images in (("attention", evaluation.attention_maps), ("worst", evaluation.examples)):
        for name, png in images.items():
            with atomic_path(run_dir / folder / name) as tmp:
                tmp.write_bytes(png)
    write_eval_report(run_dir / "report.html", evaluation, context)
