"""`tracknet eval`: score a checkpoint on a split, with the protocol in every report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from tracknet_cli.cli.options import exist_ok_option, given_options, weights_option
from tracknet_cli.console import console, print_written, progress_bar


def evaluate(
    ctx: typer.Context,
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Config overrides."),
    weights: Path = weights_option(),
    data: str = typer.Option(None, "--data", help="Data config name or path (default: the checkpoint's)."),
    split: str = typer.Option(None, "--split", help="Split to score (default: test; val for refdet models)."),
    pck: list[float] = typer.Option(None, "--pck", help="PCK radius in pixels; repeat for several."),
    tolerance: float = typer.Option(4.0, "--tolerance", help="TP distance in original-frame pixels."),
    visibility: str = typer.Option("1,2,3", "--visibility",
                                   help="Visibility codes that count as ball present (WASB: 1,2)."),
    threshold: float = typer.Option(0.5, "--threshold", help="Heatmap peak needed to call a ball "
                                    "(refdet: box score)."),
    batch_size: int = typer.Option(16, "--batch-size"),
    num_workers: int = typer.Option(2, "--num-workers", help="Loader processes."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    name: str = typer.Option(None, "--name", help="Run name under runs/eval/."),
    exist_ok: bool = exist_ok_option(),
    attention: int = typer.Option(0, "--attention-maps", min=0, help="Draw where the deformable encoder looks "
                                  "from N predicted balls (PNGs in the run's attention/)."),
    events: str = typer.Option("learned", "--events", help="Where the labels mark hits and bounces, score "
                               "those found in each clip's track: learned, flights or none."),
) -> None:
    """Evaluate ball detection: TP/FP1/FP2/FN/TN, precision, recall, F1, L2 error, PCK, and where the
    labels mark hits and bounces (status), event F1 within ±1 and ±2 frames and the bounce error. On a
    reference-based detector: precision, recall, F1 and mean IoU at IoU 0.5, AP@0.5 and COCO AP.

    Example: [bold]tracknet eval --weights runs/train/exp/weights/best.pt --pck 5 --pck 10[/]
    """
    from tracknet_cli.commands.evaluate import evaluate as run
    from tracknet_cli.evaluation.metrics import Protocol
    from tracknet_cli.evaluation.run import EvalOptions

    try:
        codes = tuple(int(code) for code in visibility.split(","))
        protocol = Protocol(tolerance=tolerance, visibility=codes, pck_radii=tuple(pck or (5.0, 10.0)))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    options = EvalOptions(device, threshold, protocol, batch_size, num_workers, attention, events=events)
    with progress_bar("samples") as bar:
        task = bar.add_task(f"Evaluating {split or 'the default split'}", total=None)
        evaluated = run(weights, split, data, options, overrides or [], name, exist_ok, note=console.print,
                        on_start=lambda n: bar.update(task, total=n), progress=lambda n: bar.advance(task, n),
                        given=given_options(ctx, ("events",)))
    console.print(_table(evaluated.evaluation, evaluated.context))
    print_written(evaluated.run_dir)


def _table(evaluation, context: dict) -> Table:
    """The evaluation's summary rows (names over values), in one table that fits 80 columns."""
    table = Table(title=f"{context['model']} on {context['data']} / {context['split']} ({evaluation.extent()})",
                  caption=f"Protocol: {evaluation.protocol_record()['description']}, threshold {context['threshold']}",
                  title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  show_header=False)
    rows = evaluation.summary()
    width = max(len(row) for row in rows)
    for _ in range(width):
        table.add_column(justify="right")
    for row in rows:
        padding = [""] * (width - len(row))
        table.add_row(*[f"[bold]{name}[/]" for name in row], *padding)
        table.add_row(*[_cell(value) for value in row.values()], *padding, end_section=True)
    return table


def _cell(value) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
