"""Ball label files: read the formats of the field, write the two we own.

Every reader returns one table with the canonical columns of `LABEL_COLUMNS`:

    frame       int    0-based frame index in the clip
    file        str    image file name relative to the clip folder ("" when the format has none)
    visibility  int    0 no ball, 1 easy, 2 hard (blurred), 3 occluded (position estimated)
    x, y        float  ball centre in original pixels, NaN when visibility is 0
    status      int    0 flying, 1 hit, 2 bounce, -1 unknown (formats without it)
    line        int    1-based line in the file, so later checks can name it

Formats (chosen by the header):
    tennis     `file name,visibility,x-coordinate,y-coordinate,status` (TrackNet; also the variant
               `File Name,Visibility Class,X,Y,Trajectory Pattern`), empty fields on rows without a ball
    badminton  `Frame,Visibility,X,Y` (shuttlecock dataset), `0,0` where not visible; extra
               trailing columns (our `Confidence`, `Interpolated`) are kept as extra columns

A defect is reported as a `LabelError` naming the file and the 1-based line (the header is line 1).
Readers raise on the first defect, or, given `on_defect`, report each and skip the row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pandas as pd

from tracknet_cli.errors import LabelError
from tracknet_cli.fileio import atomic_write_text

LABEL_COLUMNS = ["frame", "file", "visibility", "x", "y", "status"]
TENNIS_HEADER = ["file name", "visibility", "x-coordinate", "y-coordinate", "status"]
TENNIS_VARIANT_HEADER = ["File Name", "Visibility Class", "X", "Y", "Trajectory Pattern"]
BADMINTON_HEADER = ["Frame", "Visibility", "X", "Y"]

DefectHandler = Callable[[LabelError], None]


class RowDefect(ValueError):
    """A row that cannot be used; `kind` names the sort of defect for reports."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def read_labels(path: str | Path, on_defect: DefectHandler | None = None) -> pd.DataFrame:
    """Read a tennis or badminton label file into the canonical table."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(path, None, "label file not found", kind="missing-labels")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle)]
    except UnicodeDecodeError as exc:  # a spreadsheet's Latin-1 or UTF-16 export
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise LabelError(path, line, f"not UTF-8 text (byte {exc.object[exc.start]:#04x}); save it as UTF-8",
                         kind="encoding") from None
    except csv.Error as exc:  # a NUL byte, an unterminated quote
        raise LabelError(path, None, f"not a readable CSV: {exc}", kind="csv") from None
    if not rows:
        raise LabelError(path, 1, "empty file, expected a header", kind="header")
    header = [cell.strip() for cell in rows[0]]
    if [h.lower() for h in header] in (
        [h.lower() for h in TENNIS_HEADER],
        [h.lower() for h in TENNIS_VARIANT_HEADER],
    ):
        parse_row = _parse_tennis_row
    elif header[: len(BADMINTON_HEADER)] == BADMINTON_HEADER:
        parse_row = _parse_badminton_row
    else:
        raise LabelError(
            path,
            1,
            f"unknown header {','.join(header)!r}; expected {','.join(TENNIS_HEADER)!r} (tennis) "
            f"or {','.join(BADMINTON_HEADER)!r} (badminton)",
            kind="header",
        )
    extra_columns = header[len(BADMINTON_HEADER) :] if parse_row is _parse_badminton_row else []

    records = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines, often a trailing one
        try:
            if len(row) != len(header):
                raise RowDefect("row", f"expected {len(header)} fields, found {len(row)}")
            record = parse_row(row, line_no - 2)
            record.update(_parse_extra(row[len(BADMINTON_HEADER) :], extra_columns))
        except RowDefect as exc:
            defect = LabelError(path, line_no, str(exc), kind=exc.kind)
            if on_defect is None:
                raise defect from None
            on_defect(defect)
            continue
        record["line"] = line_no
        records.append(record)

    table = pd.DataFrame.from_records(records, columns=LABEL_COLUMNS + extra_columns + ["line"])
    _report_duplicate_frames(path, table, on_defect)
    table = table.drop_duplicates("frame", keep="first")
    table = table.astype({"frame": "int64", "visibility": "int64", "status": "int64"})
    return table.sort_values("frame", kind="stable").reset_index(drop=True)


def _parse_tennis_row(row: list[str], position: int) -> dict:
    file_name = check_file_name(row[0].strip())
    visibility = _parse_int(row[1], "visibility", allowed=range(4))
    x, y = _parse_point(row[2], row[3], visibility)
    status = _parse_int(row[4], "status", allowed=range(3)) if row[4].strip() else -1
    stem = PurePosixPath(file_name).stem
    frame = int(stem) if stem.isdigit() else position
    return {"frame": frame, "file": file_name, "visibility": visibility, "x": x, "y": y,
            "status": status}


def _parse_badminton_row(row: list[str], position: int) -> dict:
    frame = _parse_int(row[0], "frame")
    if frame < 0:
        raise RowDefect("frame", f"frame index {frame} is negative")
    visibility = _parse_int(row[1], "visibility", allowed=range(4))
    x, y = _parse_point(row[2], row[3], visibility)
    return {"frame": frame, "file": "", "visibility": visibility, "x": x, "y": y, "status": -1}


def _parse_extra(cells: list[str], names: list[str]) -> dict:
    out = {}
    for name, cell in zip(names, cells):
        try:
            out[name] = float(cell)
        except ValueError:
            out[name] = cell.strip()
    return out


def _parse_int(text: str, name: str, allowed: range | None = None) -> int:
    try:
        value = float(text)
        if not value.is_integer():
            raise ValueError
    except ValueError:
        raise RowDefect(name, f"{name} {text.strip()!r} is not an integer") from None
    value = int(value)
    if allowed is not None and value not in allowed:
        raise RowDefect(name, f"{name} {value} is outside {allowed.start}-{allowed.stop - 1}")
    return value


def _parse_point(x_text: str, y_text: str, visibility: int) -> tuple[float, float]:
    if visibility == 0:
        return math.nan, math.nan  # tennis leaves them empty, badminton writes 0,0
    point = []
    for name, text in (("x", x_text), ("y", y_text)):
        try:
            value = float(text)
        except ValueError:
            raise RowDefect(
                "coordinates", f"{name} {text.strip()!r} is not a number on a visible row"
            ) from None
        if not math.isfinite(value):
            raise RowDefect("coordinates", f"{name} is {text.strip()} on a visible row")
        point.append(value)
    return point[0], point[1]


def check_file_name(name: str) -> str:
    """A label's file name must name a file inside its clip folder; return it normalised."""
    if not name:
        raise RowDefect("file-name", "empty file name")
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if normalised.startswith("/") or ":" in parts[0] or ".." in parts:
        raise RowDefect("file-name", f"file name {name!r} escapes its clip folder")
    return str(PurePosixPath(*[p for p in parts if p != "."]))


def _report_duplicate_frames(path: Path, table: pd.DataFrame, on_defect: DefectHandler | None):
    duplicated = table[table.duplicated("frame", keep="first")]
    for line, frame in zip(duplicated["line"], duplicated["frame"]):
        defect = LabelError(path, int(line), f"frame {frame} is labelled twice", kind="duplicate")
        if on_defect is None:
            raise defect
        on_defect(defect)


def write_tennis_labels(path: str | Path, table: pd.DataFrame) -> None:
    """Write the TrackNet tennis format; rows without a ball get empty coordinate fields."""
    lines = [",".join(TENNIS_HEADER)]
    for row in table.itertuples(index=False):
        file_name = row.file or f"{row.frame:04d}.jpg"
        if row.visibility == 0:
            lines.append(f"{file_name},0,,,")
            continue
        status = "" if row.status < 0 else str(row.status)
        lines.append(f"{file_name},{row.visibility},{_fmt(row.x)},{_fmt(row.y)},{status}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def write_badminton_labels(
    path: str | Path, table: pd.DataFrame, extra_columns: list[str] | tuple[str, ...] = ()
) -> None:
    """Write `Frame,Visibility,X,Y` (plus `extra_columns` from the table), `0,0` without a ball."""
    lines = [",".join(BADMINTON_HEADER + list(extra_columns))]
    for row in table.to_dict("records"):
        visible = row["visibility"] != 0
        cells = [
            str(row["frame"]),
            str(row["visibility"]),
            _fmt(row["x"]) if visible else "0",
            _fmt(row["y"]) if visible else "0",
        ]
        cells += [_fmt(row[name]) if isinstance(row[name], float) else str(row[name])
                  for name in extra_columns]
        lines.append(",".join(cells))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _fmt(value: float) -> str:
    """Shortest faithful text for a pixel coordinate: 3 decimals at most, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
