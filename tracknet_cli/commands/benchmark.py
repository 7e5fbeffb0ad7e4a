"""`tracknet benchmark`: the size and speed table of registered models, written to a run directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from tracknet_cli.benchmark import COLUMNS, BenchmarkSettings, benchmark_models, kernel_rows
from tracknet_cli.errors import TracknetError
from tracknet_cli.fileio import atomic_path, write_json
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import available_models


@dataclass
class BenchmarkRun:
    settings: BenchmarkSettings
    rows: list[dict]  # a row per model and backend (benchmark.COLUMNS)
    kernels: list[dict]  # the deformable attention op per implementation, with --kernels
    run_dir: Path
    slow: list[dict] = field(default_factory=list)  # rows below the floor (or failed), with a floor

    def below_floor(self) -> str:
        return "; ".join(f"{r['model']} {r['backend']} {r.get('throughput_fps', 'failed')}" for r in self.slow)


def benchmark(settings: BenchmarkSettings, kernels: bool = False, floor: float | None = None,
              name: str | None = None, exist_ok: bool = False,
              on_row: Callable[[dict], None] | None = None) -> BenchmarkRun:
    """Measure `settings.models` per backend into `runs/benchmark/<name>/` (benchmark.csv and
    .json); with `floor`, the rows slower than that many frames/s are named in `slow`."""
    registered = available_models()
    unknown = sorted(set(settings.models) - set(registered))
    if unknown:
        raise TracknetError(f"--models: {unknown} not among the models: {', '.join(registered)}")
    run_dir = new_run_dir("benchmark", name, exist_ok)
    rows = benchmark_models(settings, on_row)
    kernel = kernel_rows(settings) if kernels else []
    with atomic_path(run_dir / "benchmark.csv") as tmp:
        pd.DataFrame(rows, columns=COLUMNS).to_csv(tmp, index=False)
    write_json(run_dir / "benchmark.json", {"settings": asdict(settings), "models": rows, "kernels": kernel})
    slow = [r for r in rows if floor is not None and (r["status"] != "ok" or r["throughput_fps"] < floor)]
    return BenchmarkRun(settings, rows, kernel, run_dir, slow)
