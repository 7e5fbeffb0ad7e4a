"""The refdet layout: templates and search images scanned, every defect by file, line and kind;
the dataset built on a scan."""

import csv
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tracknet_cli.cli.app import app
from tracknet_cli.datasets.refdet import RefdetDataset
from tracknet_cli.datasets.refdet_layout import scan_refdet
from tracknet_cli.errors import DataError

SIZE = (64, 48)  # (W, H) of the search images
TEMPLATE_SIZE = (24, 24)
# split -> {image stem: label text}; an empty label means the object is absent
LABELS = {
    "train": {
        "cup_frame_0000": "10 8 30 20\n",
        "cup_frame_0001": "-0.8 -1 64.9 49\n",  # overhangs by at most the 1 px tolerance
        "cup_frame_0002": "",
        "toy_car_frame_0000": "5 5 20 40\n",
        "toy_car_frame_0001": "0 0 64 48",
    },
    "val": {
        "cup_frame_0010": "12 10 40 30\n",
        "toy_car_frame_0010": "",
    },
}
IMAGES = 7


def write_jpeg(path, size, shade=90):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((size[1], size[0], 3), shade, np.uint8)
    cv2.rectangle(image, (2, 2), (size[0] // 2, size[1] // 2), (255, 255, 255), -1)
    assert cv2.imwrite(str(path), image)


def make_refdet_layout(root):
    for object_id in ("cup", "toy_car"):
        for i in range(3):
            write_jpeg(root / "templates" / object_id / f"template_{i}.jpg", TEMPLATE_SIZE, 60 + i)
    for split, labels in LABELS.items():
        for stem, text in labels.items():
            add_sample(root, split, stem, text)
    return root


def add_sample(root, split, stem, text, image_name=None):
    write_jpeg(root / split / "search" / "images" / (image_name or f"{stem}.jpg"), SIZE)
    label = root / split / "search" / "labels" / f"{stem}.txt"
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text(text)


@pytest.fixture
def layout(tmp_path):
    return make_refdet_layout(tmp_path / "refdet")


def found(report):
    return {(d.kind, d.path.relative_to(report.root).as_posix(), d.line) for d in report.defects}


def images_of(object_id):
    return {f"{split}/search/images/{stem}.jpg" for split, labels in LABELS.items()
            for stem in labels if stem.startswith(f"{object_id}_frame_")}


def test_valid_layout_scans_clean(layout):
    report = scan_refdet(layout)
    assert report.defects == []
    summary = report.summary()
    assert (summary["objects"], summary["templates"], summary["defects"]) == (2, 6, 0)
    assert summary["splits"] == {"train": {"images": 5, "with_object": 4, "without_object": 1},
                                 "val": {"images": 2, "with_object": 1, "without_object": 1}}
    samples = {s.image.stem: s for s in report.samples}
    assert samples["cup_frame_0001"].box.tolist() == [-0.8, -1.0, 64.9, 49.0]
    assert samples["toy_car_frame_0000"].box.dtype == np.float64
    assert samples["cup_frame_0002"].box is None
    val = samples["cup_frame_0010"]
    assert (val.split, val.object_id, val.size) == ("val", "cup", SIZE)
    assert val.label == layout / "val/search/labels/cup_frame_0010.txt"
    assert report.objects["toy_car"][2] == layout / "templates/toy_car/template_2.jpg"


def _label(root, stem, text, split="train"):
    (root / split / "search" / "labels" / f"{stem}.txt").write_text(text)


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path):
    path.write_bytes(b"\xff\xd8 garbage, not a JPEG stream" * 10)


def _link_outside(root, relative):
    outside = root.parent / "outside" / relative.replace("/", "_")
    write_jpeg(outside, SIZE)
    (root / relative).unlink()
    os.symlink(outside, root / relative)


def _link_inside(root):
    image = root / "val/search/images/cup_frame_0010.jpg"
    image.unlink()
    os.symlink(root / "train/search/images/cup_frame_0000.jpg", image)


CUP_0 = "train/search/labels/cup_frame_0000.txt"
# (plant the defect, defects expected as (kind, file, line), samples still kept)
CASES = {
    "no templates folder": (
        lambda r: shutil.rmtree(r / "templates"),
        {("missing-folder", "templates", None)}
        | {("no-templates", image, None) for image in images_of("cup") | images_of("toy_car")},
        0),
    "no split folder": (lambda r: shutil.rmtree(r / "val"), {("missing-folder", "val", None)}, 5),
    "no labels folder": (
        lambda r: shutil.rmtree(r / "val/search/labels"),
        {("missing-folder", "val/search/labels", None),
         ("unlabelled-image", "val/search/images/cup_frame_0010.jpg", None),
         ("unlabelled-image", "val/search/images/toy_car_frame_0010.jpg", None)},
        5),
    "two templates": (
        lambda r: (r / "templates/cup/template_2.jpg").unlink(),
        {("missing-template", "templates/cup", None)}
        | {("no-templates", image, None) for image in images_of("cup")},
        3),
    "corrupt template": (
        lambda r: _garbage(r / "templates/toy_car/template_1.jpg"),
        {("corrupt-template", "templates/toy_car/template_1.jpg", None)}
        | {("no-templates", image, None) for image in images_of("toy_car")},
        4),
    "bad name": (
        lambda r: add_sample(r, "train", "cup_0003", "1 1 9 9"),
        {("bad-name", "train/search/images/cup_0003.jpg", None)}, IMAGES),
    "not a jpg": (
        lambda r: add_sample(r, "train", "cup_frame_0003", "1 1 9 9", "cup_frame_0003.png"),
        {("bad-name", "train/search/images/cup_frame_0003.png", None)}, IMAGES),
    "label not .txt": (
        lambda r: (r / "train/search/labels/cup_frame_0000.json").write_text("{}"),
        {("bad-name", "train/search/labels/cup_frame_0000.json", None)}, IMAGES),
    "object without templates": (
        lambda r: add_sample(r, "val", "mug_frame_0001", "1 1 9 9"),
        {("no-templates", "val/search/images/mug_frame_0001.jpg", None)}, IMAGES),
    "image without label": (
        lambda r: (r / CUP_0).unlink(),
        {("unlabelled-image", "train/search/images/cup_frame_0000.jpg", None)}, IMAGES - 1),
    "label without image": (
        lambda r: (r / "val/search/images/cup_frame_0010.jpg").unlink(),
        {("missing-image", "val/search/labels/cup_frame_0010.txt", None)}, IMAGES - 1),
    "three numbers": (lambda r: _label(r, "cup_frame_0000", "10 8 30\n"),
                      {("box-format", CUP_0, 1)}, IMAGES - 1),
    "a word, after a blank line": (lambda r: _label(r, "cup_frame_0000", "\n10 8 thirty 20\n"),
                                   {("box-format", CUP_0, 2)}, IMAGES - 1),
    "commas": (lambda r: _label(r, "cup_frame_0000", "10,8,30,20\n"),
               {("box-format", CUP_0, 1)}, IMAGES - 1),
    "nan": (lambda r: _label(r, "cup_frame_0000", "10 nan 30 20\n"),
            {("non-finite", CUP_0, 1)}, IMAGES - 1),
    "inf": (lambda r: _label(r, "cup_frame_0000", "10 8 inf 20\n"),
            {("non-finite", CUP_0, 1)}, IMAGES - 1),
    "x2 == x1": (lambda r: _label(r, "cup_frame_0000", "30 8 30 20\n"),
                 {("degenerate-box", CUP_0, 1)}, IMAGES - 1),
    "y2 < y1": (lambda r: _label(r, "cup_frame_0000", "10 20 30 8\n"),
                {("degenerate-box", CUP_0, 1)}, IMAGES - 1),
    "past the right edge": (lambda r: _label(r, "cup_frame_0000", "10 8 65.5 20\n"),
                            {("out-of-frame", CUP_0, 1)}, IMAGES - 1),
    "above the top edge": (lambda r: _label(r, "cup_frame_0000", "10 -1.5 30 20\n"),
                           {("out-of-frame", CUP_0, 1)}, IMAGES - 1),
    "two boxes": (lambda r: _label(r, "cup_frame_0000", "10 8 30 20\n\n12 9 31 21\n"),
                  {("multiple-boxes", CUP_0, 3)}, IMAGES - 1),
    "truncated image": (lambda r: _truncate(r / "val/search/images/toy_car_frame_0010.jpg"),
                        {("corrupt-image", "val/search/images/toy_car_frame_0010.jpg", None)},
                        IMAGES - 1),
    "garbage image": (lambda r: _garbage(r / "train/search/images/cup_frame_0001.jpg"),
                      {("corrupt-image", "train/search/images/cup_frame_0001.jpg", None)},
                      IMAGES - 1),
    "image links outside": (
        lambda r: _link_outside(r, "train/search/images/toy_car_frame_0001.jpg"),
        {("escapes-root", "train/search/images/toy_car_frame_0001.jpg", None)}, IMAGES - 1),
    "template links outside": (
        lambda r: _link_outside(r, "templates/cup/template_0.jpg"),
        {("escapes-root", "templates/cup/template_0.jpg", None)}
        | {("no-templates", image, None) for image in images_of("cup")},
        3),
    "link inside the dataset is fine": (_link_inside, set(), IMAGES),
}


@pytest.mark.parametrize("plant, expected, kept", CASES.values(), ids=CASES.keys())
def test_each_defect_is_reported_and_the_rest_scans(layout, plant, expected, kept):
    plant(layout)
    report = scan_refdet(layout)
    assert found(report) == expected
    assert len(report.samples) == kept
    assert report.summary()["defects"] == len(expected)


def test_defects_are_all_collected(layout):
    for name in ("two templates", "nan", "truncated image"):
        CASES[name][0](layout)
    (layout / "train/search/labels/toy_car_frame_0001.txt").unlink()
    report = scan_refdet(layout)
    assert found(report) == (
        {("missing-template", "templates/cup", None), ("non-finite", CUP_0, 1),
         ("unlabelled-image", "train/search/images/toy_car_frame_0001.jpg", None),
         ("corrupt-image", "val/search/images/toy_car_frame_0010.jpg", None)}
        | {("no-templates", image, None) for image in images_of("cup")}
    )  # cup_frame_0000 is named twice: no templates and a NaN box
    assert [s.image.name for s in report.samples] == ["toy_car_frame_0000.jpg"]


def test_not_a_dataset(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan_refdet(tmp_path / "nope")


def test_prepare_refdet_reports_and_strict_fails(layout, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clean = CliRunner().invoke(app, ["prepare", "refdet", "--root", str(layout), "--strict",
                                     "--name", "clean"])
    assert clean.exit_code == 0, clean.output
    assert "train images (with / without object)" in clean.output and "5 (4 / 1)" in clean.output
    assert json.loads((tmp_path / "runs/prepare/clean/summary.json").read_text())["defects"] == 0

    CASES["two boxes"][0](layout)
    result = CliRunner().invoke(app, ["prepare", "refdet", "--root", str(layout), "--name", "bad"])
    assert result.exit_code == 0, result.output  # reported, not fatal
    assert "multiple-boxes" in result.output and "runs/prepare/bad" in result.output
    with (tmp_path / "runs/prepare/bad/defects.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["kind"], r["line"]) for r in rows] == [("multiple-boxes", "3")]
    assert rows[0]["file"].endswith("cup_frame_0000.txt")

    strict = CliRunner().invoke(app, ["prepare", "refdet", "--root", str(layout), "--strict",
                                      "--name", "bad"])
    assert strict.exit_code == 1 and isinstance(strict.exception, DataError)
    assert "1 defects" in str(strict.exception)
    assert (tmp_path / "runs/prepare/bad2/defects.csv").is_file()


def test_help_shows_an_example():
    result = CliRunner().invoke(app, ["prepare", "refdet", "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and "tracknet prepare refdet" in result.output


# --- the dataset over a scanned layout --------------------------------------------------------

def test_dataset_samples_scale_boxes_and_normalise(layout):
    report = scan_refdet(layout)
    train = RefdetDataset(report, "train", search_size=(128, 96), template_size=(32, 32))
    assert len(train) == 5
    samples = {Path(train[i]["meta"]["image"]).stem: train[i] for i in range(len(train))}
    cup = samples["cup_frame_0000"]
    assert cup["templates"].shape == (3, 3, 32, 32) and cup["search"].shape == (3, 96, 128)
    assert cup["present"] and cup["meta"]["object"] == "cup" and cup["meta"]["size"].tolist() == list(SIZE)
    # 10 8 30 20 in a 64x48 image is 20 16 60 40 at 128x96 (pixel edges scale by the size ratio)
    assert cup["box"].tolist() == [20.0, 16.0, 60.0, 40.0]
    absent = samples["cup_frame_0002"]
    assert not absent["present"] and torch.isnan(absent["box"]).all()
    # the white corner rectangle of the search image is bright after normalisation, the rest dark
    assert cup["search"][:, 10, 10].min() > 1.5 and cup["search"][:, 90, 120].max() < 0
    with pytest.raises(DataError, match="no usable test samples"):
        RefdetDataset(report, "test")
