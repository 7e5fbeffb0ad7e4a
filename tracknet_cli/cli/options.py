"""Option values the commands parse alike."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.errors import DataError
from tracknet_cli.runs import BUILTIN_NAME


def parse_size(text: str | None, height_first: bool = False) -> tuple[int, int] | None:
    """'512x288' -> (512, 288), as (W, H); with `height_first`, '288x512' -> (288, 512), as (H, W)."""
    if text is None:
        return None
    form, example = ("HEIGHTxWIDTH", "288x512") if height_first else ("WIDTHxHEIGHT", "512x288")
    try:
        first, second = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not {form}, for example {example}") from None
    if first <= 0 or second <= 0:
        raise typer.BadParameter(f"{text!r}: width and height must be positive")
    return first, second


def weights_option():
    """`--weights`, as every command that runs a trained model takes it. A path that is not there
    is refused at once, before the seconds it takes to import the model code."""
    return typer.Option(None, "--weights", callback=_existing_weights, help="Checkpoint or ONNX export, or "
                        f"`{BUILTIN_NAME}` (default: your newest runs/train/*/weights/best.pt, else the built-in "
                        "ball model).")


def _existing_weights(value: Path | None) -> Path | None:
    if value is not None and str(value) != BUILTIN_NAME and not value.exists():
        raise DataError(f"weights {value} do not exist")
    return value


def exist_ok_option():
    """`--exist-ok`, as every command that writes a run directory takes it."""
    return typer.Option(False, "--exist-ok", help="Reuse the run directory if it exists.")


def given_options(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """Those of the parameters `names` that the command line set."""
    # by name: typer may ship its own copy of click, whose ParameterSource is another enum
    return [name for name in names if ctx.get_parameter_source(name).name != "DEFAULT"]


def flags(names: list[str]) -> str:
    """Parameter names as the options a user typed: `max_gap` -> `--max-gap`."""
    return ", ".join("--" + name.replace("_", "-") for name in names)
