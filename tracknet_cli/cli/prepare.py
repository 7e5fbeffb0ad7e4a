"""`tracknet prepare`: render synthetic data, validate and index datasets, convert labelled videos."""

from __future__ import annotations

from pathlib import Path

import typer

from tracknet_cli.console import console, key_value_table, print_written, progress_bar
from tracknet_cli.datasets.refdet_layout import SPLITS, RefdetReport, scan_refdet
from tracknet_cli.datasets.synthetic import SyntheticSpec, generate_synthetic_dataset
from tracknet_cli.datasets.validate import ValidationReport, validate_tracknet
from tracknet_cli.datasets.video_clip import video_to_clip
from tracknet_cli.errors import DataError, LabelError
from tracknet_cli.fileio import write_json
from tracknet_cli.runs import new_run_dir

app = typer.Typer(
    help="Prepare data: synthetic matches, dataset validation and index (TrackNet and refdet "
         "layouts), labelled videos.\n\n"
         "Example: [bold]tracknet prepare tracknet --root data/tennis --cache 512x288[/]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

RUN_OPTIONS = {
    "name": typer.Option(None, "--name", help="Run name under runs/prepare/ (default exp, exp2, ...)."),
    "exist_ok": typer.Option(False, "--exist-ok", help="Reuse the run directory if it exists."),
}
MAX_DEFECTS_SHOWN = 20


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'512x288' -> (512, 288)."""
    if text is None:
        return None
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not WIDTHxHEIGHT, for example 512x288") from None
    if width <= 0 or height <= 0:
        raise typer.BadParameter(f"{text!r}: width and height must be positive")
    return width, height


@app.command()
def synthetic(
    out: Path = typer.Option(Path("data/synthetic"), "--out", help="Folder to render the dataset into."),
    games: int = typer.Option(5, help="Games (game1, game2, ...)."),
    clips: int = typer.Option(4, help="Clips per game."),
    frames: int = typer.Option(150, help="Frames per clip."),
    width: int = typer.Option(1280, help="Frame width in pixels."),
    height: int = typer.Option(720, help="Frame height in pixels."),
    seed: int = typer.Option(0, help="Random seed: the same seed renders the same dataset."),
    cache: str = typer.Option(None, "--cache", help="Also write a frame cache at WxH, e.g. 512x288."),
    workers: int = typer.Option(2, help="Processes rendering clips in parallel."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
    name: str = RUN_OPTIONS["name"],
    exist_ok: bool = RUN_OPTIONS["exist_ok"],
) -> None:
    """Render synthetic broadcast tennis in the TrackNet layout, with labels and videos, and index it.

    Example: [bold]tracknet prepare synthetic --out data/synthetic --games 5 --seed 0[/]
    """
    cache_size = parse_size(cache)
    spec = SyntheticSpec(games=games, clips_per_game=clips, frames_per_clip=frames,
                         width=width, height=height, seed=seed)
    spec.validate()  # before a run folder or a progress bar appears
    run_dir = new_run_dir("prepare", name, exist_ok)
    total = games * clips * frames
    with progress_bar("frames") as progress:
        task = progress.add_task("Rendering", total=total)
        summary = generate_synthetic_dataset(out, spec, workers=workers, overwrite=overwrite,
                                             progress=lambda n: progress.advance(task, n))
    console.print(f"Rendered {summary.frames} frames in {summary.seconds:.1f} s "
                  f"({summary.frames / max(summary.seconds, 1e-9):,.0f} frames/s) into [bold]{out}[/]")
    report = _validate_with_progress(out, cache_size, workers)
    _report(report, run_dir)


@app.command()
def tracknet(
    root: Path = typer.Option(..., "--root", help="Dataset folder holding game*/Clip*/ with Label.csv."),
    cache: str = typer.Option(None, "--cache", help="Write every frame pre-resized to WxH, e.g. 512x288."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero when any defect is found."),
    workers: int = typer.Option(2, help="Processes checking clips in parallel."),
    name: str = RUN_OPTIONS["name"],
    exist_ok: bool = RUN_OPTIONS["exist_ok"],
) -> None:
    """Validate a TrackNet-layout dataset, report every defect by file and line, write its index.

    Example: [bold]tracknet prepare tracknet --root data/tennis --cache 512x288 --strict[/]
    """
    cache_size = parse_size(cache)
    run_dir = new_run_dir("prepare", name, exist_ok)
    report = _validate_with_progress(root, cache_size, workers)
    _report(report, run_dir)
    _fail_if_strict(strict, report.defects, root, run_dir)


@app.command()
def refdet(
    root: Path = typer.Option(..., "--root", help="Folder holding templates/ and train|val/search/."),
    strict: bool = typer.Option(False, "--strict", help="Exit non-zero when any defect is found."),
    name: str = RUN_OPTIONS["name"],
    exist_ok: bool = RUN_OPTIONS["exist_ok"],
) -> None:
    """Validate a reference-based detection dataset (object templates, search images, boxes), report
    every defect by file and line.

    Example: [bold]tracknet prepare refdet --root data/refdet --strict[/]
    """
    run_dir = new_run_dir("prepare", name, exist_ok)
    with progress_bar("images") as progress:
        task = progress.add_task("Checking", total=None)
        report = scan_refdet(root, on_start=lambda n: progress.update(task, total=n),
                             progress=lambda n: progress.advance(task, n))
    _report_refdet(report, run_dir)
    _fail_if_strict(strict, report.defects, root, run_dir)


@app.command()
def video(
    video_path: Path = typer.Argument(..., metavar="VIDEO", help="A labelled video file."),
    labels: Path = typer.Option(..., "--labels", help="Its labels: tennis Label.csv or badminton Frame,Visibility,X,Y CSV."),
    out: Path = typer.Option(..., "--out", help="Clip folder to write, e.g. data/mine/game1/Clip1."),
    quality: int = typer.Option(95, help="JPEG quality of the written frames."),
    name: str = RUN_OPTIONS["name"],
    exist_ok: bool = RUN_OPTIONS["exist_ok"],
) -> None:
    """Turn a labelled video into a TrackNet-layout clip (frames as JPEGs plus Label.csv).

    Example: [bold]tracknet prepare video rally.mp4 --labels rally_ball.csv --out data/mine/game1/Clip1[/]
    """
    run_dir = new_run_dir("prepare", name, exist_ok)
    with progress_bar("frames") as progress:
        task = progress.add_task("Extracting", total=None)
        result = video_to_clip(video_path, labels, out, jpeg_quality=quality,
                               on_start=lambda total: progress.update(task, total=total),
                               progress=lambda n: progress.advance(task, n))
    console.print(key_value_table(f"Clip {out}", result.summary().items()))
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    write_json(run_dir / "summary.json", result.summary())
    print_written(out, "Clip")
    print_written(run_dir, "Report")


def _validate_with_progress(root: Path, cache_size: tuple[int, int] | None, workers: int) -> ValidationReport:
    label = f"Checking{' and caching' if cache_size else ''}"
    with progress_bar("clips") as progress:
        task = progress.add_task(label, total=None)
        return validate_tracknet(root, cache_size, workers=workers,
                                 on_start=lambda n: progress.update(task, total=n),
                                 progress=lambda n: progress.advance(task, n))


def _report(report: ValidationReport, run_dir: Path) -> None:
    summary = report.summary()
    rows = [
        ("games", summary["games"]),
        ("clips", summary["clips"]),
        ("frames indexed", summary["frames"]),
        ("visibility 0/1/2/3", _histogram(summary["visibility"], range(4))),
        ("status 0/1/2 (flying/hit/bounce)", _histogram(summary["status"], range(3))),
        ("resolution", ", ".join(f"{k} ({v})" for k, v in summary["resolution"].items())),
        ("defects", summary["defects"]),
        ("index", report.root / "index.csv"),
        ("frame cache", summary["cache"] or "none (--cache WxH writes one)"),
    ]
    console.print(key_value_table(f"Dataset {report.root}", rows))
    _print_defects(report.defects)
    report.save(run_dir)
    print_written(run_dir, "Report")


def _report_refdet(report: RefdetReport, run_dir: Path) -> None:
    summary = report.summary()
    rows = [("objects", summary["objects"]), ("templates", summary["templates"])]
    for split in SPLITS:
        counts = summary["splits"][split]
        rows.append((f"{split} images (with / without object)",
                     f"{counts['images']} ({counts['with_object']} / {counts['without_object']})"))
    kinds = ", ".join(f"{kind} {count}" for kind, count in summary["defect_kinds"].items())
    rows.append(("defects", f"{summary['defects']} ({kinds})" if kinds else 0))
    console.print(key_value_table(f"Refdet dataset {report.root}", rows))
    _print_defects(report.defects)
    report.save(run_dir)
    print_written(run_dir, "Report")


def _print_defects(defects: list[LabelError]) -> None:
    for defect in defects[:MAX_DEFECTS_SHOWN]:
        console.print(f"  [red]{defect.kind}[/] {defect}", highlight=False)
    if len(defects) > MAX_DEFECTS_SHOWN:
        console.print(f"  ... and {len(defects) - MAX_DEFECTS_SHOWN} more in defects.csv")


def _fail_if_strict(strict: bool, defects: list[LabelError], root: Path, run_dir: Path) -> None:
    if strict and defects:
        raise DataError(f"{len(defects)} defects in {root} (--strict); see {run_dir / 'defects.csv'}")


def _histogram(counts: dict[int, int], codes: range) -> str:
    return " / ".join(str(counts.get(code, 0)) for code in codes)
