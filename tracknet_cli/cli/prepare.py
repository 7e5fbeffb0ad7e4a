"""`tracknet prepare`: render synthetic data, validate and index datasets, convert labelled videos."""

from __future__ import annotations

from dataclasses import asdict, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tracknet_cli.cli.help import HelpGroup
from tracknet_cli.cli.options import exist_ok_option, flags, given_options, parse_size
from tracknet_cli.console import console, key_value_table, print_written, progress_bar
from tracknet_cli.datasets.card import write_card
from tracknet_cli.datasets.video import video_files
from tracknet_cli.errors import DataError, LabelError
from tracknet_cli.fileio import file_digest, write_json
from tracknet_cli.runs import new_run_dir

if TYPE_CHECKING:  # the datasets import torch and pandas: loaded when a command runs, not for --help
    from tracknet_cli.datasets.refdet_layout import RefdetReport
    from tracknet_cli.datasets.synthetic import BackgroundSpec, RefdetSpec, SyntheticSpec
    from tracknet_cli.datasets.validate import ValidationReport

app = typer.Typer(
    cls=HelpGroup,
    help="Prepare data: synthetic matches, dataset validation and index (TrackNet and refdet "
         "layouts), labelled videos.\n\n"
         "Example: [bold]tracknet prepare tracknet --root data/tennis --cache 512x288[/]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

RUN_OPTIONS = {
    "name": typer.Option(None, "--name", help="Run name under runs/prepare/ (default exp, exp2, ...)."),
    "exist_ok": exist_ok_option(),
}
MAX_DEFECTS_SHOWN = 20


class SyntheticTask(str, Enum):
    ball = "ball"
    refdet = "refdet"


DEFAULT_OUT = {SyntheticTask.ball: Path("data/synthetic"), SyntheticTask.refdet: Path("data/refdet_synthetic")}
# options that only one task reads: given with the other task they would be silently ignored
TASK_OPTIONS = {
    SyntheticTask.ball: ("preset", "games", "clips", "frames", "width", "height", "cache", "backgrounds",
                         "background_clips"),
    SyntheticTask.refdet: ("objects", "frames_per_object", "val_frames", "search_size",
                           "template_size"),
}


@app.command()
def synthetic(
    ctx: typer.Context,
    task: SyntheticTask = typer.Option(
        SyntheticTask.ball, "--task",
        help="ball: broadcast tennis in the TrackNet layout; refdet: textured objects to find in cluttered "
             "scenes, in the refdet layout."),
    out: Path = typer.Option(None, "--out", help="Folder to render the dataset into (default data/synthetic, "
                                                  "or data/refdet_synthetic for --task refdet)."),
    preset: str = typer.Option(
        "broadcast", "--preset",
        help="ball: what to render, a preset under configs/synthetic/ (broadcast: the TV view; "
             "realworld: cameras, venues, light, recording and dead time varied) or a YAML path. "
             "The options below override it."),
    games: int = typer.Option(None, help="ball: games (game1, game2, ...) (default: the preset's)."),
    clips: int = typer.Option(None, help="ball: clips per game (default: the preset's)."),
    frames: int = typer.Option(None, help="ball: frames per clip (default: the preset's)."),
    width: int = typer.Option(None, help="ball: frame width in pixels (default: the preset's)."),
    height: int = typer.Option(None, help="ball: frame height in pixels (default: the preset's)."),
    cache: str = typer.Option(None, "--cache", help="ball: also write a frame cache at WxH, e.g. 512x288."),
    backgrounds: list[Path] = typer.Option(None, "--backgrounds", help="ball: also render ball flights into "
                                           "the shots of this real video (a folder: each video in it) that "
                                           "show a court; repeat for several. Games are added after the "
                                           "synthetic ones."),
    background_clips: int = typer.Option(8, "--background-clips", help="ball: clips rendered per usable shot "
                                         "of --backgrounds."),
    objects: int = typer.Option(8, help="refdet: objects, each with three templates, in both splits."),
    frames_per_object: int = typer.Option(40, help="refdet: train search images per object."),
    val_frames: int = typer.Option(10, help="refdet: val search images per object."),
    search_size: str = typer.Option("1024x576", "--search-size", help="refdet: search image size WxH."),
    template_size: int = typer.Option(256, help="refdet: template side in pixels (square)."),
    quality: int = typer.Option(90, help="JPEG quality of the written images."),
    seed: int = typer.Option(0, help="Random seed: the same seed renders the same dataset."),
    workers: int = typer.Option(2, help="Processes rendering clips (ball) or objects (refdet) in parallel."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already in --out."),
    name: str = RUN_OPTIONS["name"],
    exist_ok: bool = RUN_OPTIONS["exist_ok"],
) -> None:
    """Render a synthetic dataset: broadcast tennis in the TrackNet layout, with labels and videos
    (--task ball), or objects to find by their templates in cluttered scenes (--task refdet); then
    validate it.

    Example: [bold]tracknet prepare synthetic --out data/synthetic --games 5 --seed 0[/]

    Example: [bold]tracknet prepare synthetic --preset realworld --out data/realworld --backgrounds clip.mp4[/]

    Example: [bold]tracknet prepare synthetic --task refdet --out data/refdet_synthetic --objects 8[/]
    """
    from tracknet_cli.datasets.synthetic import BackgroundSpec, RefdetSpec

    _reject_options_of_other_task(ctx, task)
    out = out or DEFAULT_OUT[task]
    if task is SyntheticTask.refdet:
        search_width, search_height = parse_size(search_size)
        spec = RefdetSpec(objects=objects, frames_per_object=frames_per_object,
                          val_frames_per_object=val_frames, width=search_width,
                          height=search_height, template_size=template_size, seed=seed,
                          jpeg_quality=quality)
        _synthetic_refdet(out, spec, workers, overwrite, _validated_run_dir(spec, name, exist_ok))
    else:
        cache_size = parse_size(cache)
        spec = _ball_spec(ctx, preset, games=games, clips_per_game=clips, frames_per_clip=frames,
                          width=width, height=height, seed=seed, jpeg_quality=quality)
        composites = BackgroundSpec(clips_per_shot=background_clips, frames_per_clip=spec.frames_per_clip,
                                    width=spec.width, height=spec.height, seed=spec.seed,
                                    jpeg_quality=spec.jpeg_quality)
        composites.validate()
        _synthetic_ball(out, preset, spec, cache_size, workers, overwrite, _validated_run_dir(spec, name, exist_ok),
                        video_files(backgrounds or [], "--backgrounds"), composites)


def _ball_spec(ctx: typer.Context, preset: str, **options) -> SyntheticSpec:
    """The preset's spec with the options the command line gave (by spec field) put over it."""
    from tracknet_cli.datasets.synthetic import load_preset

    fields = {"games": "games", "clips_per_game": "clips", "frames_per_clip": "frames",
              "width": "width", "height": "height", "seed": "seed", "jpeg_quality": "quality"}
    given = set(given_options(ctx, tuple(fields.values())))
    return replace(load_preset(preset),
                   **{field: options[field] for field, flag in fields.items() if flag in given})


def _validated_run_dir(spec: SyntheticSpec | RefdetSpec, name: str | None, exist_ok: bool) -> Path:
    """The run folder, made only once the spec is known to render: a typo leaves no empty run."""
    spec.validate()
    return new_run_dir("prepare", name, exist_ok)


def _reject_options_of_other_task(ctx: typer.Context, task: SyntheticTask) -> None:
    for other, names in TASK_OPTIONS.items():
        given = given_options(ctx, names)
        if other is not task and given:
            raise typer.BadParameter(f"{flags(given[:1])} is for --task {other.value}, not --task {task.value}")


def _synthetic_ball(out: Path, preset: str, spec: SyntheticSpec, cache_size: tuple[int, int] | None, workers: int,
                    overwrite: bool, run_dir: Path, backgrounds: list[Path], composites: BackgroundSpec) -> None:
    from tracknet_cli.datasets.synthetic import generate_background_dataset, generate_synthetic_dataset

    total = spec.games * spec.clips_per_game * spec.frames_per_clip
    with progress_bar("frames") as progress:
        task_id = progress.add_task("Rendering", total=total)
        summary = generate_synthetic_dataset(out, spec, workers=workers, overwrite=overwrite,
                                             progress=lambda n: progress.advance(task_id, n))
    console.print(f"Rendered {summary.frames} frames in {summary.seconds:.1f} s "
                  f"({summary.frames / max(summary.seconds, 1e-9):,.0f} frames/s) into [bold]{out}[/]")
    if backgrounds:
        with progress_bar("frames") as progress:
            task_id = progress.add_task("Real backgrounds", total=None)
            real = generate_background_dataset(out, backgrounds, composites, workers=workers, append=True,
                                               progress=lambda n: progress.advance(task_id, n))
        console.print(f"Rendered {real.frames} frames into {len(real.shots)} real shots "
                      f"({', '.join(real.shots)}) in {real.seconds:.1f} s")
        for reason in real.skipped:
            console.print(f"[yellow]skipped {reason}[/]")
    write_card(out, made_by="tracknet prepare synthetic", preset=preset, spec=asdict(spec),
               backgrounds=[{"video": video.name, "sha256": file_digest(video)} for video in backgrounds],
               background_spec=asdict(composites) if backgrounds else None)
    report = _validate_with_progress(out, cache_size, workers)
    _report(report, run_dir)


def _synthetic_refdet(out: Path, spec: RefdetSpec, workers: int, overwrite: bool,
                      run_dir: Path) -> None:
    from tracknet_cli.datasets.synthetic import generate_refdet_dataset

    total = spec.objects * (spec.frames_per_object + spec.val_frames_per_object)
    with progress_bar("images") as progress:
        task_id = progress.add_task("Rendering", total=total)
        summary = generate_refdet_dataset(out, spec, workers=workers, overwrite=overwrite,
                                          progress=lambda n: progress.advance(task_id, n))
    images = summary.search_images
    console.print(f"Rendered {images} search images and {summary.templates} templates in "
                  f"{summary.seconds:.1f} s ({images / max(summary.seconds, 1e-9):,.0f} images/s) "
                  f"into [bold]{out}[/]")
    _report_refdet(_scan_refdet_with_progress(out), run_dir)


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

    Example: [bold]tracknet prepare refdet --root data/refdet_synthetic --strict[/]
    """
    run_dir = new_run_dir("prepare", name, exist_ok)
    report = _scan_refdet_with_progress(root)
    _report_refdet(report, run_dir)
    _fail_if_strict(strict, report.defects, root, run_dir)


@app.command()
def video(
    video_path: Path = typer.Argument(..., metavar="VIDEO", help="A labelled video file."),
    labels: Path = typer.Option(..., "--labels",
                                help="Its labels: tennis Label.csv or badminton Frame,Visibility,X,Y CSV."),
    out: Path = typer.Option(..., "--out", help="Clip folder to write, e.g. data/mine/game1/Clip1."),
    quality: int = typer.Option(95, help="JPEG quality of the written frames."),
    name: str = RUN_OPTIONS["name"],
    exist_ok: bool = RUN_OPTIONS["exist_ok"],
) -> None:
    """Turn a labelled video into a TrackNet-layout clip (frames as JPEGs plus Label.csv).

    Example: [bold]tracknet prepare video rally.mp4 --labels rally_ball.csv --out data/mine/game1/Clip1[/]
    """
    from tracknet_cli.datasets.video_clip import video_to_clip

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


def _scan_refdet_with_progress(root: Path) -> RefdetReport:
    from tracknet_cli.datasets.refdet_layout import scan_refdet

    with progress_bar("images") as progress:
        task = progress.add_task("Checking", total=None)
        return scan_refdet(root, on_start=lambda n: progress.update(task, total=n),
                           progress=lambda n: progress.advance(task, n))


def _validate_with_progress(root: Path, cache_size: tuple[int, int] | None, workers: int) -> ValidationReport:
    from tracknet_cli.datasets.validate import validate_tracknet

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
    from tracknet_cli.datasets.refdet_layout import SPLITS

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
