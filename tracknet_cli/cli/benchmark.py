"""`tracknet benchmark`: size and speed of the models per backend, in one table."""

from __future__ import annotations

import typer
from rich import box
from rich.table import Table

from tracknet_cli.cli.options import exist_ok_option, parse_size
from tracknet_cli.console import console, print_whole, print_written


def benchmark(
    models: str = typer.Option("all", "--models", help="all, or comma-separated model names."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    input_size: str = typer.Option("288x512", "--input", help="HEIGHTxWIDTH of the model input (a refdet "
                                   "model's search image; its templates keep their configured size)."),
    frames: int = typer.Option(3, "--frames", help="T, frames per window of the heatmap models."),
    batch: str = typer.Option("1,8", "--batch", help="Batch sizes: latency at 1, throughput at the largest."),
    backends: str = typer.Option("eager", "--backends", help="Comma-separated: eager, compile, onnxruntime."),
    kernels: bool = typer.Option(False, "--kernels", help="Add the deformable attention op's table."),
    repeats: int = typer.Option(5, "--repeats", help="Timed runs per figure (the median is kept)."),
    floor: float = typer.Option(None, "--floor", help="Exit 1 when a row's throughput (frames/s) is lower."),
    name: str = typer.Option(None, "--name", help="Run name under runs/benchmark/."),
    exist_ok: bool = exist_ok_option(),
) -> None:
    """Parameters, GMACs per frame, latency (batch 1), throughput (largest batch) and peak memory of
    each model per backend; writes benchmark.csv and benchmark.json.

    Example: [bold]tracknet benchmark --models fast_heatmap --device cpu --backends eager,onnxruntime[/]
    """
    from tracknet_cli.benchmark import COLUMNS, BenchmarkSettings
    from tracknet_cli.commands.benchmark import benchmark as run

    settings = BenchmarkSettings(device=device, input_hw=parse_size(input_size, height_first=True), frames=frames,
                                 batches=_ints(batch, "--batch"), repeats=repeats,
                                 backends=tuple(b.strip() for b in backends.split(",")))
    if models != "all":
        settings.models = [m.strip() for m in models.split(",")]
    with console.status("Benchmarking...") as status:
        measured = run(settings, kernels, floor, name, exist_ok,
                       on_row=lambda r: status.update(f"Benchmarked {r['model']} {r['backend']}"))
    height, width = settings.input_hw
    print_whole(_table(f"{width}x{height}, T={frames} (heatmap models), batches {list(settings.batches)}, "
                       "random weights", measured.rows, COLUMNS))
    if measured.kernels:
        print_whole(_table("Multi-scale deformable attention (M=8, D=32, L=4, P=4)", measured.kernels,
                           list(measured.kernels[0])))
    print_written(measured.run_dir)
    if measured.slow:
        console.print(f"[bold red]Below the floor of {floor} frames/s:[/] {measured.below_floor()}")
        raise typer.Exit(1)


def _table(title: str, rows: list[dict], columns: list[str]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD)
    text = ("model", "backend", "status")
    longest_name = max((len(str(row.get("model", ""))) for row in rows), default=0)
    for column in columns:
        table.add_column(HEADERS.get(column, column), overflow="fold",
                         min_width=longest_name if column == "model" else None,
                         justify="left" if column in text else "right")
    for row in rows:
        table.add_row(*["-" if row.get(column) is None else str(row[column]) for column in columns])
    return table


# short headers keep the table whole in an 80-column terminal; the files keep the full names
HEADERS = {"params_m": "M params", "gmacs_per_frame": "GMACs/f", "latency_ms_b1": "ms/f b1",
           "throughput_fps": "fps", "peak_mb": "peak MB", "implementation": "impl",
           "forward_ms": "fwd ms", "forward_backward_ms": "fwd+bwd ms"}


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected comma-separated whole numbers") from None
    if min(values) < 1:
        raise typer.BadParameter(f"{option} {text!r}: batch sizes start at 1")
    return values
