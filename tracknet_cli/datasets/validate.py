"""Validate a TrackNet-layout dataset, write its index and, optionally, a pre-resized frame cache.

Every defect is reported with its file and line and the check goes on: a label row without an
image, an image without a row, an unreadable, corrupt or truncated image, a wrong header, NaN or
out-of-frame coordinates on a visible row, a visibility code outside 0-3, a file name that escapes
its clip folder. Defective rows are left out of the index; everything else is indexed.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from tracknet_cli.datasets.frame_cache import write_clip_cache
from tracknet_cli.datasets.index import (
    INDEX_COLUMNS,
    LABEL_FILE,
    ClipFolder,
    DatasetIndex,
    cache_key,
    find_clips,
)
from tracknet_cli.datasets.labels import read_labels
from tracknet_cli.errors import LabelError
from tracknet_cli.fileio import atomic_path, write_json
from tracknet_cli.geometry import inside_frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass
class ValidationReport:
    root: Path
    index: DatasetIndex
    defects: list[LabelError]
    seconds: float
    cache_dir: Path | None = None
    defect_counts: Counter = field(default_factory=Counter)

    def summary(self) -> dict:
        frames = self.index.frames
        resolutions = Counter(f"{w}x{h}" for w, h in zip(frames["width"], frames["height"]))
        return {
            "root": str(self.root),
            "games": int(frames["game"].nunique()),
            "clips": len(self.index.clip_ids()),
            "frames": len(frames),
            "visibility": {int(k): int(v) for k, v in frames["visibility"].value_counts().sort_index().items()},
            "status": {int(k): int(v) for k, v in frames["status"].value_counts().sort_index().items()},
            "resolution": dict(resolutions.most_common()),
            "defects": len(self.defects),
            "defect_kinds": dict(self.defect_counts.most_common()),
            "cache": str(self.cache_dir) if self.cache_dir else None,
            "seconds": round(self.seconds, 2),
        }

    def save(self, folder: Path) -> None:
        """`summary.json` and `defects.csv` (kind, file, line, message) into `folder`."""
        write_defects_csv(Path(folder) / "defects.csv", self.defects)
        write_json(Path(folder) / "summary.json", self.summary())


def write_defects_csv(path: Path, defects: list[LabelError]) -> None:
    """One row per defect: kind, file, line, message."""
    table = pd.DataFrame(
        [{"kind": d.kind, "file": str(d.path), "line": d.line, "message": d.message}
         for d in defects],
        columns=["kind", "file", "line", "message"],
    ).astype({"line": "Int64"})  # whole line numbers, empty where a file has none
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def validate_tracknet(
    root: str | Path,
    cache_size: tuple[int, int] | None = None,
    workers: int = 2,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ValidationReport:
    """Check every clip under `root`, write `index.csv`/`index.json` (and the cache), report.

    `on_start(clips)` is told how many clips there are; `progress(1)` after each one.
    """
    start = time.perf_counter()
    root = Path(root)
    clips = find_clips(root)
    if on_start:
        on_start(len(clips))
    cache_dir = root / "cache" / cache_key(cache_size) if cache_size else None
    jobs = [(clip, cache_dir, cache_size) for clip in clips]

    results: list[tuple[list[dict], list[LabelError]]] = []
    if workers <= 1:
        for job in jobs:
            results.append(_check_clip(*job))
            if progress:
                progress(1)
    else:
        context = multiprocessing.get_context("spawn")  # safe next to threads and CUDA
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for result in pool.map(_check_clip, *zip(*jobs)):
                results.append(result)
                if progress:
                    progress(1)

    rows = [row for clip_rows, _ in results for row in clip_rows]
    defects = [defect for _, clip_defects in results for defect in clip_defects]
    frames = pd.DataFrame.from_records(rows, columns=INDEX_COLUMNS)
    caches = {cache_key(cache_size): str(cache_dir.relative_to(root))} if cache_dir else {}
    index = DatasetIndex(root, frames, caches)
    index.save()
    return ValidationReport(
        root, index, defects, time.perf_counter() - start, cache_dir,
        Counter(defect.kind for defect in defects),
    )


def _check_clip(
    clip: ClipFolder, cache_dir: Path | None, cache_size: tuple[int, int] | None
) -> tuple[list[dict], list[LabelError]]:
    """Validate one clip; return its index rows and its defects (runs in a worker process)."""
    defects: list[LabelError] = []
    label_path = clip.path / LABEL_FILE
    try:
        labels = read_labels(label_path, on_defect=defects.append)
    except LabelError as fatal:  # missing file or wrong header: nothing in this clip is usable
        return [], [fatal]

    images = {p.name for p in clip.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    images -= _names_on_lines(label_path, {d.line for d in defects})  # reported once, as rows
    rows = []
    for label in labels.itertuples(index=False):
        file_name = label.file or f"{label.frame:04d}.jpg"  # badminton-style labels name no file
        images.discard(file_name)
        image_path = clip.path / file_name
        if not image_path.is_file():
            defects.append(LabelError(label_path, label.line,
                                      f"row names {file_name}, which does not exist", "missing-image"))
            continue
        try:
            width, height = image_size(image_path)
        except OSError as exc:
            defects.append(LabelError(image_path, None, f"unreadable image ({exc}); "
                                      f"labelled on {label_path.name} line {label.line}",
                                      "corrupt-image"))
            continue
        if label.visibility and not inside_frame(np.array([label.x, label.y]), (width, height)):
            defects.append(LabelError(label_path, label.line,
                                      f"visible ball at ({label.x:g}, {label.y:g}) lies outside "
                                      f"the {width}x{height} frame", "out-of-frame"))
            continue
        rows.append({"clip": clip.clip_id, "game": clip.game, "frame": label.frame,
                     "file": file_name, "visibility": label.visibility, "x": label.x,
                     "y": label.y, "status": label.status, "width": width, "height": height})
    for name in sorted(images):
        defects.append(LabelError(clip.path / name, None, f"image has no row in {label_path.name}",
                                  "unlabelled-image"))
    if cache_dir is not None and rows:
        write_clip_cache(cache_dir, clip.clip_id, [clip.path / r["file"] for r in rows], cache_size)
    return rows, defects


def _names_on_lines(label_path: Path, lines: set[int]) -> set[str]:
    """The images the given 1-based lines were about: a tennis row's first field is the file name,
    a badminton row's the frame number (its image NNNN.jpg)."""
    text = label_path.read_text(encoding="utf-8-sig").splitlines()
    firsts = {text[line - 1].split(",")[0].strip() for line in lines if 0 < line <= len(text)}
    return firsts | {f"{int(first):04d}.jpg" for first in firsts if first.isdigit()}


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) after proving the image decodes to its end.

    JPEGs decode in draft mode (libjpeg's DCT scaling, 1/8 size): every byte of the entropy-coded
    stream is still read, so corrupt and truncated files fail, at a fraction of a full decode.
    """
    with Image.open(path) as image:
        size = image.size
        image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
        image.load()
    return size
