"""Terminal output shared by the CLI and long-running library work: console, progress bars, tables."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

console = Console()
error_console = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Items per second, e.g. `412 frames/s`."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else "", style="cyan")


def progress_bar(unit: str = "it") -> Progress:
    """A progress bar with count, rate, elapsed time and time left; use as a context manager."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=16),  # the whole line fits an 80-column terminal
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def print_whole(table: Table) -> None:
    """Print `table` without cutting columns: a terminal fits it to the window; a log or a pipe,
    where rich would assume 80 columns, gets it at its natural width."""
    if console.is_terminal:
        console.print(table)
        return
    width = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(file=console.file, width=max(width, console.width), no_color=console.no_color).print(table)


def key_value_table(title: str, rows: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def print_written(path: Path, what: str = "Results") -> None:
    console.print(f"{what} saved to [bold green]{path}[/]")
