"""`tracknet train`: train a model on a dataset, resume a run, or check a config with --dry-run."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.cli.options import exist_ok_option, flags, given_options
from tracknet_cli.config import available_configs
from tracknet_cli.console import console, key_value_table, print_written

# a resumed run has its own
NEW_RUN_OPTIONS = ("model", "data", "training", "name", "exist_ok", "dry_run", "weights", "weights_partial")


def train(
    ctx: typer.Context,
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...",
                                          help="Config overrides, e.g. training.optimizer.lr=1e-4"),
    model: str = typer.Option(None, "--model", help="Model config name or path. Registered: "
                              + ", ".join(available_configs("model")) + "."),
    data: str = typer.Option(None, "--data", help="Data config name or path (default: synthetic; "
                             "refdet_synthetic for reference-based detectors)."),
    training: str = typer.Option(None, "--training", help="Training config name or path (default: "
                                 "default; refdet for reference-based detectors)."),
    epochs: int = typer.Option(None, "--epochs", help="Shortcut for training.epochs."),
    batch_size: int = typer.Option(None, "--batch-size", help="Shortcut for training.batch_size (global)."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N (training.device)."),
    devices: int = typer.Option(1, "--devices", help="Processes for data-parallel training on this machine."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run of this last.pt exactly."),
    weights: str = typer.Option(None, "--weights", help="Fine-tune: start from these weights (a checkpoint, or "
                                "`builtin`) with a fresh optimizer and schedule; without --model, the "
                                "checkpoint's own model."),
    weights_partial: bool = typer.Option(False, "--weights-partial", help="With --weights: load the tensors "
                                         "whose name and shape fit (another head size, say) and say what was skipped."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Print the config, run one train and one val batch; no run is "
                                 "written (a dataset without an index gets one)."),
    msda_backend: str = typer.Option(None, "--msda-backend", help="Deformable attention: auto, torch or triton "
                                     "(TRACKNET_MSDA_BACKEND; auto: Triton on CUDA, PyTorch elsewhere)."),
    name: str = typer.Option(None, "--name", help="Run name under runs/train/ (default exp, exp2, ...)."),
    exist_ok: bool = exist_ok_option(),
) -> None:
    """Train a model; writes runs/train/<name>/ with weights, results.csv and TensorBoard logs.

    Examples: [bold]tracknet train --model fast_heatmap --data synthetic --epochs 10[/]
              [bold]tracknet train --model convnext_refdet --data refdet_synthetic[/]
              [bold]tracknet train --weights builtin --data mine --epochs 5[/]
    """
    from tracknet_cli.commands import train as commands

    commands.set_msda_backend(msda_backend)
    shortcuts = [f"training.{key}={value}" for key, value in
                 (("epochs", epochs), ("batch_size", batch_size), ("device", device)) if value is not None]
    overrides = list(overrides or []) + shortcuts
    if resume is not None:
        if given := given_options(ctx, NEW_RUN_OPTIONS):
            raise typer.BadParameter(f"{flags(given)}: for a new run; --resume continues {resume} with "
                                     "its own config and run directory (KEY=VALUE may change training.epochs)",
                                     param_hint="--resume")
        console.print(f"Resuming [bold]{resume}[/]")
        _report(commands.resume(resume, overrides, devices, console))
    elif model is None and weights is None:
        raise typer.BadParameter(f"choose a model: {', '.join(available_configs('model'))}", param_hint="--model")
    elif dry_run:
        _, result = commands.dry_run(model, data, training, overrides, console, weights, weights_partial)
        console.print(key_value_table("Dry run (no run written)", result.items()))
    else:
        _report(commands.train(model, data, training, overrides, devices, name, exist_ok, console, weights,
                               weights_partial))


def _report(run) -> None:
    result, run_dir = run.result, run.run_dir
    if result is not None and result.interrupted:
        console.print(f"[yellow]Interrupted[/] after epoch {result.epochs_done}; resume with "
                      f"[bold]tracknet train --resume {run_dir / 'weights' / 'last.pt'}[/]")
        raise typer.Exit(130)
    if result is not None and result.best_metric is not None:
        console.print(f"Best {result.metric} {result.best_metric:.4f}")
    print_written(run_dir)
