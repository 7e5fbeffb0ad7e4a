"""`tracknet export`: trained weights as a checked ONNX or TorchScript file in a run directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tracknet_cli.export import ExportResult, check_export_options
from tracknet_cli.export import export as export_checkpoint
from tracknet_cli.runs import new_run_dir
from tracknet_cli.weights import choose_weights


@dataclass
class ExportRun:
    result: ExportResult
    weights: Path
    run_dir: Path


def export(weights: str | Path | None = None, fmt: str = "onnx", opset: int = 17, half: bool = False,
           check: bool = True, name: str | None = None, exist_ok: bool = False,
           note: Callable[[str], None] | None = None) -> ExportRun:
    """Export `weights` (default: the newest trained best.pt) into `runs/export/<name>/`."""
    check_export_options(fmt, opset, half)
    weights = choose_weights(weights, note)
    run_dir = new_run_dir("export", name, exist_ok)
    return ExportRun(export_checkpoint(weights, run_dir, fmt, opset, half, check), weights, run_dir)
