"""The command line as a user meets it: help with examples, version, one-line errors, prepare."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_tiny_dataset
from tests.test_validate import plant_defects
from tracknet_cli import __version__
from tracknet_cli.cli.help import unwrapped


def tracknet(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tracknet_cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", [[], ["prepare"], ["prepare", "synthetic"], ["train"], ["eval"], ["adapt"],
                                     ["prepare", "tracknet"], ["prepare", "video"]])
def test_every_help_shows_an_example(command):
    result = tracknet(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout and "tracknet " in result.stdout


def test_help_lists_commands_in_lifecycle_order_and_wraps_at_the_terminal():
    result = subprocess.run([sys.executable, "-m", "tracknet_cli", "--help"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "COLUMNS": "100"})
    lines = result.stdout.splitlines()
    first = [next(i for i, line in enumerate(lines) if line.startswith(f"│ {name} "))
             for name in ("prepare", "train", "eval", "predict-video", "adapt", "export", "benchmark")]
    assert first == sorted(first)
    # eval's docstring breaks after "On a"; unwrapped, the terminal fills that line instead
    eval_text = " ".join(line.strip("│ ") for line in lines[first[2]:first[3]])
    assert "the bounce error. On a reference-based detector" in eval_text
    assert not any(line.rstrip(" │").endswith(" On a") for line in lines)


def test_unwrapped_help_keeps_paragraphs():
    assert unwrapped("""One line
        broken.

        Examples: x
                  y""") == "One line broken.\n\nExamples: x\ny"  # a command per line
    assert unwrapped(None) is None


def test_version():
    result = tracknet("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"tracknet {__version__}"


def test_error_is_one_line_without_traceback(tmp_path):
    result = tracknet("prepare", "tracknet", "--root", str(tmp_path / "missing"), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    debug = tracknet("--debug", "prepare", "tracknet", "--root", str(tmp_path / "missing"), cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_failed_command_leaves_no_empty_run_directory(tmp_path):
    result = tracknet("eval", "--weights", "missing.pt", cwd=tmp_path)
    assert result.returncode == 1 and "missing.pt" in result.stderr
    assert not (tmp_path / "runs").exists()
    earlier = tmp_path / "runs/export/exp"
    earlier.mkdir(parents=True)
    (earlier / "model.onnx").write_bytes(b"kept")
    result = tracknet("export", "--weights", "missing.pt", cwd=tmp_path)
    assert result.returncode == 1 and "missing.pt" in result.stderr
    assert [p.name for p in (tmp_path / "runs/export").iterdir()] == ["exp"]  # exp2 went, exp stays


def test_synthetic_data_validates_and_planted_defects_are_each_reported(tmp_path):
    synthetic = tmp_path / "data/synthetic"
    result = tracknet("prepare", "synthetic", "--out", str(synthetic), "--games", "2", "--clips", "2",
                      "--frames", "10", "--width", "320", "--height", "180", "--workers", "1",
                      "--name", "render", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "runs/prepare/render/summary.json").read_text())["defects"] == 0
    assert (synthetic / "game2/Clip2.mp4").is_file()
    card = json.loads((synthetic / "dataset.json").read_text())  # how the dataset was made
    assert card["preset"] == "broadcast" and card["spec"]["games"] == 2 and card["backgrounds"] == []
    clean = tracknet("prepare", "tracknet", "--root", str(synthetic), "--strict", "--workers", "1", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr

    planted = tmp_path / "data/planted"
    shutil.copytree(synthetic, planted)
    expected = plant_defects(planted)
    result = tracknet("prepare", "tracknet", "--root", str(planted), "--workers", "1", "--name", "p",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # defects are reported, the index still written
    assert "runs/prepare/p" in result.stdout.replace("\n", "")
    report = json.loads((tmp_path / "runs/prepare/p/summary.json").read_text())
    assert report["defects"] == len(expected)
    with (tmp_path / "runs/prepare/p/defects.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    found = {(r["kind"], Path(r["file"]).relative_to(planted).as_posix(), int(r["line"]) if r["line"] else None)
             for r in rows}
    assert found == expected
    strict = tracknet("prepare", "tracknet", "--root", str(planted), "--strict", "--workers", "1",
                      "--name", "p", cwd=tmp_path)
    assert strict.returncode == 1 and f"{len(expected)} defects" in strict.stderr
    assert (tmp_path / "runs/prepare/p2/defects.csv").is_file()


def test_prepare_tracknet_clean_with_cache(tmp_path):
    root = make_tiny_dataset(tmp_path / "data")
    result = tracknet("prepare", "tracknet", "--root", str(root), "--cache", "64x36", "--strict",
                      "--workers", "1", "--name", "clean", cwd=tmp_path)  # 2 workers: test_validate.py
    assert result.returncode == 0, result.stderr
    assert (root / "cache/64x36/game2/Clip2.npy").is_file()
    assert json.loads((tmp_path / "runs/prepare/clean/summary.json").read_text())["defects"] == 0


def test_bad_size_is_rejected(tmp_path):
    result = tracknet("prepare", "tracknet", "--root", str(tmp_path), "--cache", "512by288")
    assert result.returncode != 0 and "WIDTHxHEIGHT" in result.stderr


def test_an_option_of_the_other_synthetic_task_is_refused(tmp_path):
    result = tracknet("prepare", "synthetic", "--task", "refdet", "--games", "2", cwd=tmp_path)
    assert result.returncode == 2 and "--games is for --task ball, not --task refdet" in result.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


def test_train_reads_the_data_of_the_models_task_by_default(tmp_path):
    refdet = tracknet("train", "--model", "fast_refdet", "--dry-run", cwd=tmp_path)
    assert refdet.returncode == 1 and "data/refdet_synthetic does not exist" in refdet.stderr
    ball = tracknet("train", "--model", "fast_heatmap", "--dry-run", cwd=tmp_path)
    assert ball.returncode == 1 and "data/synthetic" in ball.stderr


def test_resume_refuses_the_options_of_a_new_run(tmp_path):
    result = tracknet("train", "--resume", "runs/train/exp/weights/last.pt", "--model", "fast_heatmap",
                      "--dry-run", cwd=tmp_path)
    assert result.returncode == 2 and "--model, --dry-run: for a new run" in " ".join(result.stderr.split())
    assert not (tmp_path / "runs").exists()


def test_train_help_lists_the_registered_models():
    result = tracknet("train", "--help")
    for name in ("fast_heatmap", "vit_heatmap", "convnext_fpn_heatmap"):
        assert name in result.stdout.replace("\n", " ").replace("│", " ")


def test_the_readme_main_command_tracks_the_sample_clip_with_the_builtin_model(tmp_path):
    """A fresh clone's first command: no trained run, no download, the built-in model on the
    sample real clip, a CSV of every frame and an overlay of the same length."""
    import cv2
    import pandas as pd

    sample = Path(__file__).resolve().parents[1] / "samples/rally_hard_court_1080p.mp4"
    result = tracknet("predict-video", str(sample), "--overlay", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = " ".join(result.stdout.split())
    assert "Using the built-in ball model ball.pt (no trained run under runs/train/" in output
    track = pd.read_csv(tmp_path / "runs/predict/exp/rally_hard_court_1080p_ball.csv")
    assert len(track) == 93 and track["Visibility"].sum() >= 50  # a rally: the ball is in play throughout
    overlay = cv2.VideoCapture(str(tmp_path / "runs/predict/exp/rally_hard_court_1080p_overlay.mp4"))
    assert overlay.get(cv2.CAP_PROP_FRAME_COUNT) == 93 and overlay.get(cv2.CAP_PROP_FRAME_WIDTH) == 1920
