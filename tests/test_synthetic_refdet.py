"""The synthetic refdet generator: layout the scan accepts, absent frames, determinism, boxes that
bound the drawn object, the CLI, refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.test_cli import tracknet
from tracknet_cli.datasets.refdet_layout import SPLITS, read_box, scan_refdet
from tracknet_cli.datasets.synthetic import RefdetSpec, generate_refdet_dataset, render_search
from tracknet_cli.datasets.synthetic.refdet_objects import (
    draw_object,
    lookalike_recipe,
    object_recipe,
)
from tracknet_cli.datasets.synthetic.refdet_scene import absent_frames
from tracknet_cli.errors import DataError

TINY = RefdetSpec(objects=3, frames_per_object=8, val_frames_per_object=4, width=256, height=144,
                  template_size=64, seed=5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, object, list[int]]:
    """The tiny dataset rendered in-process, with what its progress callback was told."""
    out = tmp_path_factory.mktemp("refdet") / "tiny"
    calls: list[int] = []
    summary = generate_refdet_dataset(out, TINY, workers=1, progress=calls.append)
    return out, summary, calls


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_layout_passes_the_scan_with_the_counts_asked_for(tiny):
    out, summary, calls = tiny
    report = scan_refdet(out)
    assert report.defects == []
    counts = report.summary()
    assert (counts["objects"], counts["templates"]) == (3, 9)
    # round(0.15 * 8) = 1 and round(0.15 * 4) = 1 absent frame per object and split
    assert counts["splits"]["train"] == {"images": 24, "with_object": 21, "without_object": 3}
    assert counts["splits"]["val"] == {"images": 12, "with_object": 9, "without_object": 3}
    assert summary.images == {"train": 24, "val": 12} and summary.absent == {"train": 3, "val": 3}
    assert sum(calls) == 36
    assert sorted(report.objects) == ["obj00", "obj01", "obj02"]
    names = sorted(p.name for p in (out / "val/search/images").iterdir())
    assert names == [f"obj{o:02d}_frame_{f:04d}.jpg" for o in range(3) for f in range(4)]
    assert cv2.imread(str(out / "templates/obj01/template_2.jpg")).shape == (64, 64, 3)
    assert cv2.imread(str(out / "train/search/images/obj02_frame_0007.jpg")).shape == (144, 256, 3)


def test_empty_labels_are_the_absent_frames(tiny):
    out, _, _ = tiny
    for split in SPLITS:
        for index in range(TINY.objects):
            absent = absent_frames(TINY, split, index)
            for frame in range(TINY.frames(split)):
                label = out / split / "search/labels" / f"obj{index:02d}_frame_{frame:04d}.txt"
                assert (label.read_text() == "") == (frame in absent), label


def test_same_seed_same_bytes_in_parallel_other_seed_differs(tiny, tmp_path):
    out, _, _ = tiny
    calls: list[int] = []
    generate_refdet_dataset(tmp_path / "again", TINY, workers=2, progress=calls.append)
    assert sum(calls) == 36
    ours, again = files(out), files(tmp_path / "again")
    assert sorted(ours) == sorted(again)
    assert [name for name in ours if ours[name] != again[name]] == []

    generate_refdet_dataset(tmp_path / "other", dataclasses.replace(TINY, seed=6), workers=1)
    other = files(tmp_path / "other")
    assert sorted(other) == sorted(ours)
    images = [name for name in ours if name.endswith(".jpg")]
    assert all(other[name] != ours[name] for name in images)
    labels = [name for name in ours if name.endswith(".txt")]
    assert sum(other[name] != ours[name] for name in labels) > len(labels) // 2


def test_label_files_hold_the_rendered_box(tiny):
    out, _, _ = tiny
    for split in SPLITS:
        for index in range(TINY.objects):
            for frame in range(TINY.frames(split)):
                scene = render_search(TINY, split, index, frame)
                label = out / split / "search/labels" / f"obj{index:02d}_frame_{frame:04d}.txt"
                box = read_box(label, (TINY.width, TINY.height))
                expected = None if scene.box is None else list(scene.box)
                assert (None if box is None else box.tolist()) == expected


def test_box_is_the_tight_bound_of_what_the_object_changes_in_the_image():
    """Rendered with and without the target (noise off, all else equal), the pixels that change
    are the target's: the label box must hold them all and touch them on every side. The margin
    covers anti-aliased edges and the occasional slight blur."""
    spec = dataclasses.replace(TINY, width=512, height=288)
    margin = 3
    checked = 0
    for frame in range(12):
        scene = render_search(spec, "train", 1, frame, noise=False)
        if scene.box is None:
            assert not scene.visible.any()
            continue
        ys, xs = np.nonzero(scene.visible)
        assert scene.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        bare = render_search(spec, "train", 1, frame, draw_target=False, noise=False)
        changed = np.abs(scene.image.astype(int) - bare.image).max(axis=2) > 12
        ys, xs = np.nonzero(changed)
        x1, y1, x2, y2 = scene.box
        assert x1 - margin <= xs.min() <= x1 + margin and x2 - margin <= xs.max() + 1 <= x2 + margin
        assert y1 - margin <= ys.min() <= y1 + margin and y2 - margin <= ys.max() + 1 <= y2 + margin
        checked += 1
    assert checked >= 9


def test_lookalikes_share_the_silhouette_only():
    """A look-alike has the target's outline but another texture kind and other colours, so the
    templates can tell them apart at any size (a shared palette could not be told apart small)."""
    rng = np.random.default_rng(0)
    for index in range(6):
        target = object_recipe(0, index)
        for _ in range(4):
            lookalike = lookalike_recipe(target, rng)
            np.testing.assert_array_equal(lookalike.outline, target.outline)
            assert lookalike.pattern != target.pattern
            assert not np.array_equal(lookalike.palette, target.palette)
            assert draw_object(lookalike).alpha.shape == draw_object(target).alpha.shape


def test_cli_renders_and_scans(tmp_path):
    out = tmp_path / "data/refdet"
    result = tracknet("prepare", "synthetic", "--task", "refdet", "--out", str(out), "--objects",
                      "2", "--frames-per-object", "3", "--val-frames", "2", "--search-size",
                      "256x144", "--template-size", "64", "--workers", "1", "--name", "r",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "runs/prepare/r/summary.json").read_text())
    assert (report["defects"], report["objects"]) == (0, 2)
    assert report["splits"]["val"]["images"] == 4
    assert (out / "templates/obj01/template_0.jpg").is_file()


def test_cli_rejects_options_of_the_other_task(tmp_path):
    result = tracknet("prepare", "synthetic", "--task", "refdet", "--games", "2", "--out",
                      str(tmp_path / "x"), cwd=tmp_path)
    assert result.returncode != 0 and "--task ball" in result.stderr
    assert not (tmp_path / "x").exists()


def test_refuses_to_overwrite_unless_asked(tmp_path):
    spec = dataclasses.replace(TINY, objects=1, frames_per_object=1, val_frames_per_object=0)
    out = tmp_path / "data"
    (out / "train").mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="overwrite"):
        generate_refdet_dataset(out, spec, workers=1)
    generate_refdet_dataset(out, spec, workers=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "templates", "train", "val"]
    with pytest.raises(DataError, match="already holds a dataset"):
        generate_refdet_dataset(out, spec, workers=1)


@pytest.mark.parametrize("change, message", [
    ({"objects": 0}, "objects"),
    ({"frames_per_object": 0}, "frames_per_object"),
    ({"val_frames_per_object": -1}, "val_frames_per_object"),
    ({"width": 100}, "width"),
    ({"template_size": 8}, "template_size"),
    ({"absent_share": 1.0}, "absent_share"),
    ({"seed": -1}, "seed"),
    ({"jpeg_quality": 0}, "jpeg_quality"),
])
def test_rejects_bad_specs(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        generate_refdet_dataset(tmp_path / "bad", dataclasses.replace(TINY, **change))
    assert not (tmp_path / "bad").exists()
