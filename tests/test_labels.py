import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import fixture_path
from tracknet_cli.datasets.labels import (
    read_labels,
    write_badminton_labels,
    write_tennis_labels,
)
from tracknet_cli.errors import LabelError

# (file, rows, visible, not visible, first (x, y)) counted from the files themselves
BADMINTON_FIXTURES = [
    ("match1_1_05_02_ball.csv", 517, 490, 27, (492.0, 446.0)),
    ("match2_1_11_11_ball.csv", 717, 559, 158, (667.0, 253.0)),
    ("match3_1_05_02_ball.csv", 779, 723, 56, (600.0, 323.0)),
]


@pytest.mark.parametrize("name,rows,visible,hidden,first", BADMINTON_FIXTURES)
def test_real_badminton_labels_read_exactly(name, rows, visible, hidden, first):
    table = read_labels(fixture_path(f"labels/badminton/{name}"))
    assert len(table) == rows
    assert table["frame"].tolist() == list(range(rows))
    assert (table["visibility"] == 1).sum() == visible
    assert (table["visibility"] == 0).sum() == hidden
    assert (table.loc[0, "x"], table.loc[0, "y"]) == first
    assert table.loc[table["visibility"] == 0, ["x", "y"]].isna().all().all()
    assert (table["status"] == -1).all()


def _table():
    return pd.DataFrame({
        "frame": [0, 1, 2, 3],
        "file": ["0000.jpg", "0001.jpg", "0002.jpg", "0003.jpg"],
        "visibility": [1, 0, 2, 3],
        "x": [100.25, np.nan, 640.0, 12.5],
        "y": [200.5, np.nan, 360.0, 700.0],
        "status": [0, 0, 1, 2],
    })


def test_tennis_round_trip_and_empty_fields(tmp_path):
    path = tmp_path / "Label.csv"
    write_tennis_labels(path, _table())
    lines = path.read_text().splitlines()
    assert lines[0] == "file name,visibility,x-coordinate,y-coordinate,status"
    assert lines[2] == "0001.jpg,0,,,"
    assert lines[1] == "0000.jpg,1,100.25,200.5,0"
    back = read_labels(path)
    expected = _table()
    expected.loc[1, "status"] = -1  # the format leaves a ball-less row's status empty
    pd.testing.assert_frame_equal(back[expected.columns], expected, check_dtype=False)
    assert back["line"].tolist() == [2, 3, 4, 5]


def test_tennis_variant_header(tmp_path):
    path = tmp_path / "Label.csv"
    path.write_text("File Name,Visibility Class,X,Y,Trajectory Pattern\n0000.jpg,1,10,20,2\n0001.jpg,0,,,\n")
    table = read_labels(path)
    assert table["visibility"].tolist() == [1, 0]
    assert (table.loc[0, "x"], table.loc[0, "y"], table.loc[0, "status"]) == (10.0, 20.0, 2)


def test_badminton_round_trip_with_extra_columns(tmp_path):
    table = _table().assign(Confidence=[0.9, 0.0, 0.5, 0.75], Interpolated=[0, 0, 1, 0])
    path = tmp_path / "ball.csv"
    write_badminton_labels(path, table, extra_columns=["Confidence", "Interpolated"])
    lines = path.read_text().splitlines()
    assert lines[0] == "Frame,Visibility,X,Y,Confidence,Interpolated"
    assert lines[2] == "1,0,0,0,0,0"
    back = read_labels(path)
    assert back["Confidence"].tolist() == [0.9, 0.0, 0.5, 0.75]
    assert math.isnan(back.loc[1, "x"]) and back.loc[2, "x"] == 640.0


@pytest.mark.parametrize("row,line_no,kind,words", [
    ("0002.jpg,1,nan,5,0", 3, "coordinates", "x is nan"),
    ("0002.jpg,1,,5,0", 3, "coordinates", "not a number"),
    ("0002.jpg,7,1,5,0", 3, "visibility", "visibility 7 is outside 0-3"),
    ("../game2/0002.jpg,1,1,5,0", 3, "file-name", "escapes its clip folder"),
    ("/etc/passwd,1,1,5,0", 3, "file-name", "escapes its clip folder"),
    ("0002.jpg,1,1,5", 3, "row", "expected 5 fields"),
    ("0001.jpg,1,1,5,0", 3, "duplicate", "frame 1 is labelled twice"),
])
def test_defects_name_file_and_line(tmp_path, row, line_no, kind, words):
    path = tmp_path / "Label.csv"
    path.write_text(f"file name,visibility,x-coordinate,y-coordinate,status\n0001.jpg,1,3,4,0\n{row}\n")
    with pytest.raises(LabelError) as info:
        read_labels(path)
    assert info.value.line == line_no and info.value.kind == kind
    assert words in str(info.value) and f"{path}:{line_no}" in str(info.value)


def test_defects_collected_and_rest_kept(tmp_path):
    path = tmp_path / "Label.csv"
    path.write_text("file name,visibility,x-coordinate,y-coordinate,status\n"
                    "0000.jpg,1,3,4,0\n0001.jpg,9,3,4,0\n0002.jpg,1,inf,4,0\n0003.jpg,0,,,\n")
    defects = []
    table = read_labels(path, on_defect=defects.append)
    assert [d.line for d in defects] == [3, 4]
    assert table["frame"].tolist() == [0, 3]


def test_wrong_header_is_reported_on_line_1(tmp_path):
    path = tmp_path / "Label.csv"
    path.write_text("name,vis,x,y\n0000.jpg,1,3,4\n")
    with pytest.raises(LabelError, match="unknown header") as info:
        read_labels(path, on_defect=lambda d: None)
    assert info.value.line == 1 and info.value.kind == "header"


def test_missing_file(tmp_path):
    with pytest.raises(LabelError, match="not found"):
        read_labels(tmp_path / "nope.csv")


def test_a_label_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "Label.csv"
    path.write_bytes("file name,visibility,x-coordinate,y-coordinate,status\n0000.jpg,1,10,20,0\n"
                     "0001.jpg,1,11,21,0 café\n".encode("latin-1"))  # a spreadsheet's Latin-1 export
    with pytest.raises(LabelError, match="Label.csv:3: not UTF-8 text") as info:
        read_labels(path)
    assert info.value.kind == "encoding"
