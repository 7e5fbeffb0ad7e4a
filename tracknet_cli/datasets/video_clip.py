"""`tracknet prepare video`: a labelled video becomes a TrackNet-layout clip folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tracknet_cli.datasets.index import LABEL_FILE
from tracknet_cli.datasets.labels import read_labels, write_tennis_labels
from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.errors import DataError
from tracknet_cli.geometry import inside_frame


@dataclass
class ClipResult:
    out: Path
    frames_written: int
    frames_in_video: int
    header_frame_count: int
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "clip": str(self.out),
            "labelled frames written": self.frames_written,
            "frames decoded": self.frames_in_video,
            "frames in header": self.header_frame_count,
            "warnings": len(self.warnings),
        }


def video_to_clip(
    video: str | Path,
    labels: str | Path,
    out: str | Path,
    jpeg_quality: int = 95,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ClipResult:
    """Write each labelled frame of `video` as a JPEG plus one `Label.csv` into the folder `out`.

    The clip is assembled in `<out>.partial` and renamed at the end, so an interrupted run never
    leaves a folder that looks complete. Frames the labels name but the video does not hold (a
    truncated file) and visible balls outside the frame are dropped with a warning.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} already exists and is not empty; choose another --out")
    table = read_labels(labels)
    table["file"] = [name or f"{frame:04d}.jpg" for name, frame in zip(table["file"], table["frame"])]
    wanted = dict(zip(table["frame"], table["file"]))

    partial = out.with_name(out.name + ".partial")
    written: set[int] = set()
    with VideoReader(video) as reader:  # a video that does not open leaves no folder behind
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if on_start:
            on_start(reader.info.frame_count or len(wanted))
        try:
            for frame_index, frame in enumerate(reader):
                if frame_index in wanted:
                    _write_jpeg(partial / wanted[frame_index], frame, jpeg_quality)
                    written.add(frame_index)
                if progress:
                    progress(1)
        except BaseException:  # a full disk, Ctrl-C: the next try starts over, so keep nothing
            shutil.rmtree(partial, ignore_errors=True)
            raise
        info, decoded = reader.info, reader.frames_read

    warnings = _check_against_video(table, written, decoded, info.frame_count, (info.width, info.height))
    kept = table[table["frame"].isin(written)]
    kept = kept[(kept["visibility"] == 0)
                | inside_frame(kept[["x", "y"]].to_numpy(), (info.width, info.height))]
    if kept.empty:
        shutil.rmtree(partial)
        raise DataError(f"no labelled frame of {labels} could be taken from {video}")
    write_tennis_labels(partial / LABEL_FILE, kept)
    for frame_index in written - set(kept["frame"]):
        (partial / wanted[frame_index]).unlink()
    if out.exists():
        out.rmdir()
    partial.rename(out)
    return ClipResult(out, len(kept), decoded, info.frame_count, warnings)


def _write_jpeg(path: Path, frame: np.ndarray, quality: int) -> None:
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DataError(f"could not encode {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded.tofile(path)


def _check_against_video(table: pd.DataFrame, written: set[int], decoded: int, claimed: int,
                         size: tuple[int, int]) -> list[str]:
    warnings = []
    if claimed and decoded < claimed:
        warnings.append(f"the video header promises {claimed} frames but only {decoded} decode "
                        "(truncated file?); the frames that decoded were kept")
    missing = sorted(set(table["frame"]) - written)
    if missing:
        warnings.append(f"{len(missing)} label rows name frames the video does not hold "
                        f"(frames {missing[0]}..{missing[-1]}); dropped")
    visible = table[(table["visibility"] > 0) & table["frame"].isin(written)]
    outside = visible[~inside_frame(visible[["x", "y"]].to_numpy(), size)]
    for row in outside.itertuples():
        warnings.append(f"line {row.line}: visible ball at ({row.x:g}, {row.y:g}) is outside the "
                        f"{size[0]}x{size[1]} video; dropped")
    return warnings
