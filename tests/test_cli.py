"""The command line as a user meets it: help with examples, version, one-line errors, prepare."""

import json
import subprocess
import sys

import pytest

from tests.conftest import make_tiny_dataset
from tests.test_validate import plant_defects
from tracknet_cli import __version__


def tracknet(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tracknet_cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", [[], ["prepare"], ["prepare", "synthetic"],
                                     ["prepare", "tracknet"], ["prepare", "video"]])
def test_every_help_shows_an_example(command):
    result = tracknet(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout and "tracknet " in result.stdout


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


def test_prepare_tracknet_reports_defects_and_strict_fails(tmp_path):
    root = make_tiny_dataset(tmp_path / "data")
    expected = plant_defects(root)
    result = tracknet("prepare", "tracknet", "--root", str(root), "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"defects" in result.stdout and "runs/prepare/exp" in result.stdout.replace("\n", "")
    report = json.loads((tmp_path / "runs/prepare/exp/summary.json").read_text())
    assert report["defects"] == len(expected)
    defects_csv = (tmp_path / "runs/prepare/exp/defects.csv").read_text().splitlines()
    assert len(defects_csv) == len(expected) + 1
    strict = tracknet("prepare", "tracknet", "--root", str(root), "--strict", "--workers", "1", cwd=tmp_path)
    assert strict.returncode == 1 and f"{len(expected)} defects" in strict.stderr
    assert (tmp_path / "runs/prepare/exp2/defects.csv").is_file()


def test_prepare_tracknet_clean_with_cache(tmp_path):
    root = make_tiny_dataset(tmp_path / "data")
    result = tracknet("prepare", "tracknet", "--root", str(root), "--cache", "64x36", "--strict",
                      "--name", "clean", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (root / "cache/64x36/game2/Clip2.npy").is_file()
    assert json.loads((tmp_path / "runs/prepare/clean/summary.json").read_text())["defects"] == 0


def test_bad_size_is_rejected(tmp_path):
    result = tracknet("prepare", "tracknet", "--root", str(tmp_path), "--cache", "512by288")
    assert result.returncode != 0 and "WIDTHxHEIGHT" in result.stderr
