"""The reference-based detection (refdet) layout: find an object, shown by templates, in a photo.

    DIR/templates/<object_id>/template_{0,1,2}.jpg            three template images per object
    DIR/{train,val}/search/images/<object_id>_frame_NNNN.jpg  search images
    DIR/{train,val}/search/labels/<same name>.txt             "x1 y1 x2 y2" in pixels; an empty
                                                              file means the object is absent

`scan_refdet` reports every defect with its file (and line, in label files) and goes on: a missing
folder, an object without its three readable templates, a search image with a wrong name or whose
object has no templates, an image without a label or a label without an image, a label that is not
one finite box with x2 > x1 and y2 > y1 inside the image, a corrupt image, a file that links
outside the dataset. Samples with a defect are left out; every other sample is kept, so each search
image found is either a sample or named by a defect.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracknet_cli.datasets.labels import RowDefect
from tracknet_cli.datasets.validate import image_size, write_defects_csv
from tracknet_cli.errors import DataError, LabelError
from tracknet_cli.fileio import write_json

SPLITS = ("train", "val")
TEMPLATE_NAMES = tuple(f"template_{i}.jpg" for i in range(3))
SEARCH_NAME = re.compile(r"(?P<object_id>.+)_frame_\d+\.jpg")
# px a box may overhang its image: corner and pixel-centre conventions put the edges 0.5 px apart
BOX_TOLERANCE = 1.0


@dataclass
class RefdetSample:
    split: str
    object_id: str
    image: Path
    label: Path
    box: np.ndarray | None  # [4] float x1, y1, x2, y2 in pixels; None when the object is absent
    size: tuple[int, int]  # (W, H) of the image


@dataclass
class RefdetReport:
    root: Path
    samples: list[RefdetSample]
    objects: dict[str, tuple[Path, ...]]  # object id -> its templates, for objects with all three
    defects: list[LabelError]
    seconds: float

    def summary(self) -> dict:
        return {
            "root": str(self.root),
            "objects": len(self.objects),
            "templates": sum(len(paths) for paths in self.objects.values()),
            "splits": {split: self._split_counts(split) for split in SPLITS},
            "defects": len(self.defects),
            "defect_kinds": dict(Counter(d.kind for d in self.defects).most_common()),
            "seconds": round(self.seconds, 2),
        }

    def _split_counts(self, split: str) -> dict[str, int]:
        samples = [s for s in self.samples if s.split == split]
        with_object = sum(s.box is not None for s in samples)
        return {"images": len(samples), "with_object": with_object,
                "without_object": len(samples) - with_object}

    def save(self, folder: Path) -> None:
        """`summary.json` and `defects.csv` (kind, file, line, message) into `folder`."""
        write_defects_csv(Path(folder) / "defects.csv", self.defects)
        write_json(Path(folder) / "summary.json", self.summary())


def scan_refdet(
    root: str | Path,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RefdetReport:
    """Check the whole layout under `root` and collect its valid samples and all its defects.

    `on_start(images)` is told how many search images there are; `progress(1)` after each one.
    """
    start = time.perf_counter()
    root = Path(root)
    if not root.is_dir():  # one clear error rather than every folder reported missing
        raise DataError(f"dataset folder {root} does not exist")
    defects: list[LabelError] = []
    objects = _scan_templates(root, defects)
    pairs = [pair for split in SPLITS for pair in _pair_files(root, split, defects)]
    if on_start:
        on_start(len(pairs))
    samples = []
    for split, image, label in pairs:
        sample, sample_defects = _check_sample(root, split, image, label, objects)
        defects += sample_defects
        if sample is not None:
            samples.append(sample)
        if progress:
            progress(1)
    return RefdetReport(root, samples, objects, defects, time.perf_counter() - start)


def read_box(path: Path, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """The box of a label file, or None when the file is empty (the object is absent).

    Raises a `LabelError` naming the line of the first defect; `size` (W, H), when given, must
    hold the box within `BOX_TOLERANCE`.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LabelError(path, None, "not a UTF-8 text file", "box-format") from None
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    if not lines:
        return None
    if len(lines) > 1:  # the object appears at most once in its search image
        raise LabelError(path, lines[1][0], f"{len(lines)} non-empty lines; expected one box "
                         "'x1 y1 x2 y2' or an empty file", "multiple-boxes")
    number, line = lines[0]
    try:
        return _parse_box(line, size)
    except RowDefect as exc:
        raise LabelError(path, number, str(exc), exc.kind) from None


def _parse_box(line: str, size: tuple[int, int] | None) -> np.ndarray:
    fields = line.split()
    if len(fields) != 4:
        raise RowDefect("box-format",
                        f"expected 4 numbers 'x1 y1 x2 y2', found {len(fields)} fields")
    try:
        box = np.array([float(field) for field in fields])
    except ValueError:
        raise RowDefect("box-format", f"{line!r} is not 4 numbers 'x1 y1 x2 y2'") from None
    if not np.isfinite(box).all():
        raise RowDefect("non-finite", f"box {line!r} holds NaN or infinity")
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise RowDefect("degenerate-box", f"box {line!r} needs x2 > x1 and y2 > y1")
    if size is not None and not _inside_image(box, size):
        raise RowDefect("out-of-frame", f"box {line!r} lies outside the {size[0]}x{size[1]} image")
    return box


def _inside_image(box: np.ndarray, size: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = box
    width, height = size
    return (x1 >= -BOX_TOLERANCE and y1 >= -BOX_TOLERANCE
            and x2 <= width + BOX_TOLERANCE and y2 <= height + BOX_TOLERANCE)


def _scan_templates(root: Path, defects: list[LabelError]) -> dict[str, tuple[Path, ...]]:
    """Objects whose three templates are all present and readable; the others become defects."""
    folder = root / "templates"
    if not folder.is_dir():
        defects.append(LabelError(folder, None, "folder not found", "missing-folder"))
        return {}
    objects = {}
    for object_dir in _entries(folder):
        object_defects = _check_templates(root, object_dir)
        defects += object_defects
        if not object_defects:
            objects[object_dir.name] = tuple(object_dir / name for name in TEMPLATE_NAMES)
    return objects


def _check_templates(root: Path, object_dir: Path) -> list[LabelError]:
    present = [object_dir / name for name in TEMPLATE_NAMES if (object_dir / name).is_file()]
    defects = []
    if len(present) < len(TEMPLATE_NAMES):
        missing = [name for name in TEMPLATE_NAMES if object_dir / name not in present]
        defects.append(LabelError(object_dir, None, f"{len(present)} of the {len(TEMPLATE_NAMES)} "
                                  f"templates; missing {', '.join(missing)}", "missing-template"))
    for path in present:
        if _escapes(root, path):
            defects.append(_escape_defect(root, path))
            continue
        try:
            image_size(path)
        except OSError as exc:
            defects.append(LabelError(path, None, f"unreadable template ({exc})",
                                      "corrupt-template"))
    return defects


def _pair_files(root: Path, split: str, defects: list[LabelError]) -> list[tuple[str, Path, Path]]:
    """(split, image, label) for every search image; the label path may not exist.

    Reports missing folders, and label files that belong to no image: here both lists are known.
    """
    images_dir, labels_dir = root / split / "search" / "images", root / split / "search" / "labels"
    for folder in _missing_folders(root, split):
        defects.append(LabelError(folder, None, "folder not found", "missing-folder"))
    images = _entries(images_dir)
    image_stems = {image.stem for image in images}  # a label pairs with its image by stem
    for label in _entries(labels_dir):
        if label.suffix != ".txt":
            defects.append(LabelError(label, None, "not a .txt label file", "bad-name"))
        elif label.stem not in image_stems:
            folder = images_dir.relative_to(root).as_posix()
            defects.append(LabelError(label, None, f"no image {label.stem}.jpg in {folder}/",
                                      "missing-image"))
    return [(split, image, labels_dir / f"{image.stem}.txt") for image in images]


def _missing_folders(root: Path, split: str) -> list[Path]:
    if not (root / split).is_dir():
        return [root / split]  # one defect for a missing split, not one per subfolder
    search = root / split / "search"
    return [folder for folder in (search / "images", search / "labels") if not folder.is_dir()]


def _check_sample(
    root: Path, split: str, image: Path, label: Path, objects: dict[str, tuple[Path, ...]]
) -> tuple[RefdetSample | None, list[LabelError]]:
    """The sample of one search image, or None and every defect found in it."""
    match = SEARCH_NAME.fullmatch(image.name)
    if match is None:  # without a name there is no object to check it against
        return None, [LabelError(image, None, "name is not <object_id>_frame_<digits>.jpg",
                                 "bad-name")]
    escaped = [path for path in (image, label) if _escapes(root, path)]
    if escaped:  # never read a file outside the dataset
        return None, [_escape_defect(root, path) for path in escaped]
    object_id = match["object_id"]
    defects = []
    if object_id not in objects:
        defects.append(LabelError(image, None, f"object {object_id!r} has no usable templates in "
                                  f"templates/{object_id}/", "no-templates"))
    size, box = _read_image_and_box(image, label, defects)
    if defects:
        return None, defects
    return RefdetSample(split, object_id, image, label, box, size), []


def _read_image_and_box(
    image: Path, label: Path, defects: list[LabelError]
) -> tuple[tuple[int, int] | None, np.ndarray | None]:
    size = None
    try:
        size = image_size(image)
    except OSError as exc:
        defects.append(LabelError(image, None, f"unreadable image ({exc})", "corrupt-image"))
    if not label.is_file():
        defects.append(LabelError(image, None, f"no label file {label.parent.name}/{label.name}",
                                  "unlabelled-image"))
        return size, None
    try:
        return size, read_box(label, size)  # without a size only the box's own form is checked
    except LabelError as exc:
        defects.append(exc)
        return size, None


def _entries(folder: Path) -> list[Path]:
    """What a folder holds, sorted, less hidden files (.DS_Store, editor and atomic-write temps)."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if not path.name.startswith("."))


def _escapes(root: Path, path: Path) -> bool:
    return not path.resolve().is_relative_to(root.resolve())


def _escape_defect(root: Path, path: Path) -> LabelError:
    return LabelError(path, None, f"links to {path.resolve()}, outside {root}", "escapes-root")
