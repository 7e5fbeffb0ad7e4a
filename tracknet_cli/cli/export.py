"""`tracknet export`: a checkpoint as a checked ONNX or TorchScript file."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.cli.options import exist_ok_option, weights_option
from tracknet_cli.console import console, key_value_table, print_written


def export(
    weights: Path = weights_option(),
    fmt: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset (17 or newer)."),
    half: bool = typer.Option(False, "--half", help="fp16 weights and activations (ONNX), checked at 1e-2."),
    check: bool = typer.Option(True, "--check/--no-check", help="Compare with PyTorch on a random batch."),
    name: str = typer.Option(None, "--name", help="Run name under runs/export/."),
    exist_ok: bool = exist_ok_option(),
) -> None:
    """Export a trained model for deployment, checked against PyTorch (max |difference| of each
    output at most 1e-4 in fp32, relative where the output exceeds 1). The ONNX file has a dynamic
    batch axis and carries its model name, T, T_out, input and heatmap size, mean, std and version
    as metadata; `predict-video` and `eval` take it as --weights.

    Example: [bold]tracknet export --weights runs/train/exp/weights/best.pt --format onnx[/]
    """
    from tracknet_cli.commands.export import export as run

    with console.status(f"Exporting to {fmt}..."):
        exported = run(weights, fmt, opset, half, check, name, exist_ok, note=console.print)
    result = exported.result
    check_line = ("skipped" if result.max_diff is None else
                  f"passed: max |difference| {result.max_diff:.2e} <= {result.tolerance:g} "
                  "(relative where |value| > 1)")
    console.print(key_value_table(f"Export of {exported.weights}", [
        ("file", result.path), ("format", f"{fmt}{' fp16' if half else ''}"),
        ("size", f"{result.size_bytes / 2**20:.2f} MiB"), ("check against PyTorch", check_line),
    ]))
    print_written(exported.run_dir)
