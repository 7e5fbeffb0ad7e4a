"""Render a synthetic reference-based detection dataset in the layout `scan_refdet` checks:

    OUT/templates/<object_id>/template_{0,1,2}.jpg
    OUT/{train,val}/search/images/<object_id>_frame_NNNN.jpg
    OUT/{train,val}/search/labels/<object_id>_frame_NNNN.txt   "x1 y1 x2 y2", or empty: absent

Every object appears in both splits, in scenes of its own: the task is to find a given object,
so val asks for the same objects in new scenes. Each object's templates and search images are
one job; jobs share no random streams (see refdet_scene.py), so they render in parallel worker
processes and the result does not depend on `workers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tracknet_cli.datasets.refdet_layout import SPLITS, TEMPLATE_NAMES
from tracknet_cli.datasets.synthetic.generate import (
    Progress,
    check_workers,
    clear_output,
    render_into,
)
from tracknet_cli.datasets.synthetic.refdet_scene import render_search, render_template
from tracknet_cli.datasets.synthetic.refdet_spec import RefdetSpec
from tracknet_cli.errors import DataError
from tracknet_cli.fileio import atomic_write_text

DATASET_FOLDERS = ("templates", *SPLITS)  # what a rendered dataset consists of in OUT


def object_id(index: int) -> str:
    return f"obj{index:02d}"


@dataclass
class RefdetSummary:
    """What was rendered: templates, and search images per split with and without the object."""

    objects: int = 0
    templates: int = 0
    images: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    absent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    seconds: float = 0.0

    def add(self, other: RefdetSummary) -> None:
        self.objects += other.objects
        self.templates += other.templates
        for split in SPLITS:
            self.images[split] += other.images[split]
            self.absent[split] += other.absent[split]

    @property
    def search_images(self) -> int:
        return sum(self.images.values())


def generate_refdet_dataset(out: str | Path, spec: RefdetSpec, workers: int = 2,
                            progress: Progress | None = None,
                            overwrite: bool = False) -> RefdetSummary:
    """Render `spec` into `out`. `progress(n)` is told about every n search images finished.

    Refuses to write into a folder that already holds templates/, train/ or val/ unless
    `overwrite`, in which case those folders (and nothing else) are deleted first.
    """
    spec.validate()
    check_workers(workers)
    out = Path(out)
    clear_output(out, overwrite, _dataset_folders)
    for split in SPLITS:  # even a split with no images is there: the layout needs its folders
        for kind in ("images", "labels"):
            (out / split / "search" / kind).mkdir(parents=True)
    jobs = [(out, spec, index) for index in range(spec.objects)]
    return render_into(RefdetSummary(), render_object, jobs, workers, progress,
                       units=lambda done: done.search_images)


def render_object(out: Path, spec: RefdetSpec, index: int,
                  progress: Progress | None = None) -> RefdetSummary:
    """Object `index`'s three templates, then its search images and labels in every split."""
    name = object_id(index)
    for view, template in enumerate(TEMPLATE_NAMES):
        _write_jpeg(out / "templates" / name / template, render_template(spec, index, view),
                    spec.jpeg_quality)
    summary = RefdetSummary(objects=1, templates=len(TEMPLATE_NAMES))
    for split in SPLITS:
        search = out / split / "search"
        for frame in range(spec.frames(split)):
            scene = render_search(spec, split, index, frame)
            stem = f"{name}_frame_{frame:04d}"
            _write_jpeg(search / "images" / f"{stem}.jpg", scene.image, spec.jpeg_quality)
            # the label last: an interrupted render leaves an unlabelled image, which the scan names
            box = "" if scene.box is None else " ".join(map(str, scene.box)) + "\n"
            atomic_write_text(search / "labels" / f"{stem}.txt", box)
            summary.images[split] += 1
            summary.absent[split] += scene.box is None
            if progress is not None:
                progress(1)
    return summary


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DataError(f"could not encode {path} as JPEG")
    jpeg.tofile(path)


def _dataset_folders(out: Path) -> list[Path]:
    return [out / name for name in DATASET_FOLDERS if (out / name).exists()]
