"""`tracknet`: the console script. Each subcommand lives in its own module and is registered here."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from tracknet_cli import __version__
from tracknet_cli.cli import adapt, benchmark, export, predict_video, prepare, train
from tracknet_cli.cli import eval as eval_command
from tracknet_cli.cli.help import HelpGroup
from tracknet_cli.console import error_console
from tracknet_cli.errors import TracknetError
from tracknet_cli.runs import remove_empty_runs

HELP = """Train, evaluate, run and ship ball-tracking models for tennis and badminton video.

Example: [bold]tracknet prepare synthetic --out data/synthetic && tracknet train --model fast_heatmap[/]
"""


class _App(typer.Typer):
    """Turns any error into one red line and a non-zero exit; `--debug` shows the traceback."""

    debug = False

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exit:
            if exit.code:
                remove_empty_runs()
            raise
        except KeyboardInterrupt:
            remove_empty_runs()
            error_console.print("[yellow]interrupted[/]")
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the one place every error is reported
            remove_empty_runs()
            if self.debug or os.environ.get("TRACKNET_DEBUG"):
                traceback.print_exc()
            kind = "error" if isinstance(exc, TracknetError) else f"error ({type(exc).__name__})"
            hint = "" if isinstance(exc, TracknetError) else " [dim](run with --debug for the traceback)[/]"
            error_console.print(f"[bold red]{kind}:[/] {exc}{hint}", highlight=False, soft_wrap=True)
            sys.exit(1)


app = _App(
    cls=HelpGroup,
    help=HELP,
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(prepare.app, name="prepare")
app.command(name="train")(train.train)
app.command(name="eval")(eval_command.evaluate)
app.command(name="predict-video")(predict_video.predict_video)
app.command(name="adapt")(adapt.adapt)
app.command(name="export")(export.export)
app.command(name="benchmark")(benchmark.benchmark)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"tracknet {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _App.debug = debug
