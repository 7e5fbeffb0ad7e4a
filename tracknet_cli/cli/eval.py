"""`tracknet eval`: score a checkpoint on a split, with the protocol in every report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from tracknet_cli.console import console, print_written, progress_bar
from tracknet_cli.runs import new_run_dir, newest_weights


def evaluate(
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Config overrides."),
    weights: Path = typer.Option(None, "--weights", help="Checkpoint (default: newest runs/train/*/weights/best.pt)."),
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
    exist_ok: bool = typer.Option(False, "--exist-ok"),
    attention: int = typer.Option(0, "--attention-maps", min=0, help="Draw where the deformable encoder looks "
                                  "from N predicted balls (PNGs in the run's attention/)."),
) -> None:
    """Evaluate ball detection: TP/FP1/FP2/FN/TN, precision, recall, F1, L2 error, PCK. On a
    reference-based detector: precision, recall, F1 and mean IoU at IoU 0.5, AP@0.5 and COCO AP.

    Example: [bold]tracknet eval --weights runs/train/exp/weights/best.pt --pck 5 --pck 10[/]
    """
    from tracknet_cli.evaluation.evaluate import evaluate_checkpoint, save_evaluation
    from tracknet_cli.evaluation.metrics import Protocol

    if weights is None:
        weights = newest_weights()
        console.print(f"Using the newest checkpoint [bold]{weights}[/]")
    try:
        codes = tuple(int(code) for code in visibility.split(","))
        protocol = Protocol(tolerance=tolerance, visibility=codes, pck_radii=tuple(pck or (5.0, 10.0)))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    run_dir = new_run_dir("eval", name, exist_ok)
    with progress_bar("samples") as bar:
        task = bar.add_task(f"Evaluating {split or 'the default split'}", total=None)
        evaluation, context = evaluate_checkpoint(
            weights, split, data, protocol, threshold, batch_size, device, num_workers, overrides or [],
            on_start=lambda n: bar.update(task, total=n), progress=lambda n: bar.advance(task, n),
            attention_maps=attention)
    save_evaluation(evaluation, context, run_dir)
    table = _detection_table if context["task"] == "refdet" else _metrics_table
    console.print(table(evaluation, context))
    print_written(run_dir)


_SHORT = {"accuracy": "acc", "precision": "P", "recall": "R", "f1": "F1", "mean_l2": "L2 mean",
          "median_l2": "L2 median"}


def _metrics_table(evaluation, context: dict) -> Table:
    """Counts over rates, in one table that fits an 80-column terminal."""
    metrics = evaluation.metrics.as_dict()
    counts = metrics.pop("counts")
    rates = {_SHORT.get(k, k.upper() if k.startswith("pck") else k): v for k, v in metrics.items() if k != "frames"}
    table = Table(title=f"{context['model']} on {context['data']} / {context['split']} "
                        f"({metrics['frames']} frames)",
                  caption=f"Protocol: {evaluation.protocol.describe()}, threshold {context['threshold']}",
                  title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    width = max(len(counts), len(rates))
    for _ in range(width):
        table.add_column(justify="right")
    for row in (counts, rates):
        names = list(row) + [""] * (width - len(row))
        values = [("-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)) for v in row.values()]
        table.add_row(*[f"[bold]{n}[/]" for n in names])
        table.add_row(*(values + [""] * (width - len(values))), end_section=True)
    table.show_header = False
    return table


def _detection_table(evaluation, context: dict) -> Table:
    metrics = evaluation.metrics
    table = Table(title=f"{context['model']} on {context['data']} / {context['split']} ({metrics.images} images)",
                  caption=f"Protocol: {evaluation.protocol_record()['description']}",
                  title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    cells = {"TP": metrics.tp, "FP": metrics.fp, "FN": metrics.fn, "P": metrics.precision, "R": metrics.recall,
             "F1": metrics.f1, "IoU": metrics.mean_iou, "AP50": metrics.ap50, "AP": metrics.ap}
    for name in cells:
        table.add_column(name, justify="right")
    table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in cells.values()))
    return table
