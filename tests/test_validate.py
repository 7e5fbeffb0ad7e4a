"""`prepare tracknet` validation: every defect by file and line, the index, the frame cache."""

import json
import os

import numpy as np
import pytest

from tests.conftest import make_tiny_dataset
from tracknet_cli.datasets.frame_cache import clip_cache_path
from tracknet_cli.datasets.index import DatasetIndex
from tracknet_cli.datasets.validate import validate_tracknet
from tracknet_cli.errors import DataError


def _edit_row(label_file, frame, new_row):
    lines = label_file.read_text().splitlines()
    lines[frame + 1] = new_row
    label_file.write_text("\n".join(lines) + "\n")


def plant_defects(root):
    """One of each defect prepare must report; returns (kind, file name, line) expected."""
    c11, c12, c21, c22 = (root / "game1/Clip1", root / "game1/Clip2", root / "game2/Clip1",
                          root / "game2/Clip2")
    (c11 / "0004.jpg").unlink()
    (c12 / "0099.jpg").write_bytes((c12 / "0000.jpg").read_bytes())
    (c21 / "0002.jpg").write_bytes(b"\xff\xd8 garbage, not a JPEG stream" * 10)
    data = (c21 / "0006.jpg").read_bytes()
    (c21 / "0006.jpg").write_bytes(data[: len(data) // 2])
    text = (c22 / "Label.csv").read_text().replace("file name,visibility", "filename,vis", 1)
    (c22 / "Label.csv").write_text(text)
    _edit_row(c11 / "Label.csv", 7, "0007.jpg,1,nan,40,0")
    _edit_row(c12 / "Label.csv", 8, "0008.jpg,1,5000,40,0")
    _edit_row(c12 / "Label.csv", 1, "0001.jpg,4,60,40,0")
    _edit_row(c11 / "Label.csv", 9, "../../game2/Clip1/0009.jpg,1,60,40,0")
    return {
        ("missing-image", "game1/Clip1/Label.csv", 6),
        ("unlabelled-image", "game1/Clip2/0099.jpg", None),
        ("corrupt-image", "game2/Clip1/0002.jpg", None),
        ("corrupt-image", "game2/Clip1/0006.jpg", None),
        ("header", "game2/Clip2/Label.csv", 1),
        ("coordinates", "game1/Clip1/Label.csv", 9),
        ("out-of-frame", "game1/Clip2/Label.csv", 10),
        ("visibility", "game1/Clip2/Label.csv", 3),
        ("file-name", "game1/Clip1/Label.csv", 11),
        ("unlabelled-image", "game1/Clip1/0009.jpg", None),  # its row named another file
    }


def test_clean_dataset_has_no_defects(tiny_dataset):
    report = validate_tracknet(tiny_dataset, workers=1)
    assert report.defects == []
    summary = report.summary()
    assert (summary["games"], summary["clips"], summary["frames"]) == (2, 4, 40)
    assert summary["visibility"] == {0: 4, 1: 32, 3: 4}
    assert summary["resolution"] == {"320x180": 40}
    index = DatasetIndex.load(tiny_dataset)
    assert len(index.frames) == 40 and index.clip_ids()[0] == "game1/Clip1"


def test_a_defective_badminton_row_is_reported_once(tiny_dataset):
    clip = tiny_dataset / "game1/Clip1"
    rows = ["Frame,Visibility,X,Y"] + [f"{frame},1,{40 + frame},{30 + frame}" for frame in range(10)]
    rows[3] = "2,7,42,32"  # frame 2: a visibility code that does not exist
    (clip / "Label.csv").write_text("\n".join(rows) + "\n")
    defects = [d for d in validate_tracknet(tiny_dataset, workers=1).defects if "game1/Clip1" in d.path.as_posix()]
    assert [(d.path.name, d.line) for d in defects] == [("Label.csv", 4)]  # not again as an unlabelled 0002.jpg


@pytest.mark.parametrize("damaged", ["index.json", "index.csv"])
def test_a_damaged_index_file_is_named(tiny_dataset, damaged):
    validate_tracknet(tiny_dataset, workers=1)
    (tiny_dataset / damaged).write_bytes(b"\x00{ not json, nor csv \xff")
    with pytest.raises(DataError, match=f"{damaged} cannot be read .*run `tracknet prepare tracknet"):
        DatasetIndex.load(tiny_dataset)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_planted_defect_is_reported(tiny_dataset, workers):
    expected = plant_defects(tiny_dataset)
    report = validate_tracknet(tiny_dataset, workers=workers)
    found = {(d.kind, d.path.relative_to(tiny_dataset).as_posix(), d.line) for d in report.defects}
    assert found == expected
    frames = DatasetIndex.load(tiny_dataset).frames
    # the clip with a wrong header is out; defective rows are out; everything else is in
    assert "game2/Clip2" not in set(frames["clip"])
    assert len(frames) == 30 - 7  # 3 clips with a good header lose their 7 defective rows
    assert not frames[frames["visibility"] > 0][["x", "y"]].isna().any().any()


def test_cache_is_written_and_indexed(tiny_dataset):
    report = validate_tracknet(tiny_dataset, cache_size=(64, 36), workers=1)
    index = DatasetIndex.load(tiny_dataset)
    assert index.cache_dir((64, 36)) == report.cache_dir == tiny_dataset / "cache" / "64x36"
    array = np.load(clip_cache_path(report.cache_dir, "game1/Clip2"), mmap_mode="r")
    assert array.shape == (10, 36, 64, 3) and array.dtype == np.uint8
    assert json.loads((tiny_dataset / "index.json").read_text())["caches"] == {"64x36": "cache/64x36"}
    assert not list(report.cache_dir.rglob("*.tmp*"))


def test_stale_index_is_refused_by_content_not_by_timestamps(tiny_dataset):
    validate_tracknet(tiny_dataset, workers=1)
    index_time = (tiny_dataset / "index.json").stat().st_mtime
    label = tiny_dataset / "game1/Clip1/Label.csv"
    os.utime(label, (index_time + 60, index_time + 60))  # as a copy without -p leaves it
    assert len(DatasetIndex.load(tiny_dataset).frames) == 40
    label.write_text(label.read_text().replace("0009.jpg,1", "0009.jpg,0"))
    with pytest.raises(DataError, match="game1/Clip1/Label.csv is not the file the index was written from"):
        DatasetIndex.load(tiny_dataset)


def test_not_a_dataset(tmp_path):
    with pytest.raises(DataError, match="no game\\*/Clip\\*/ folders"):
        validate_tracknet(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        validate_tracknet(tmp_path / "nope")


def test_real_video_resolution_is_kept(tmp_path):
    root = make_tiny_dataset(tmp_path / "wide", games=(3,), clips=1, size=(480, 200))
    assert validate_tracknet(root, workers=1).summary()["resolution"] == {"480x200": 10}
