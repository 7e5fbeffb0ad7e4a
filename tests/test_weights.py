"""Which weights a command runs, and why: an explicit choice, the user's newest trained run, or
the built-in model, each said on screen."""

import os
import time
from pathlib import Path

import pytest

import tracknet_cli.weights as weights_module
from tracknet_cli.errors import DataError
from tracknet_cli.weights import BUILTIN_NAME, choose_weights


@pytest.fixture
def builtin(tmp_path, monkeypatch):
    path = tmp_path / "package/assets/ball.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"stands in for the shipped checkpoint")
    monkeypatch.setattr(weights_module, "BUILTIN", path)
    monkeypatch.chdir(tmp_path)
    return path


def trained_run(name: str, age_seconds: float = 0.0):
    best = Path("runs/train") / name / "weights/best.pt"
    best.parent.mkdir(parents=True)
    best.write_bytes(b"a user's model")
    stamp = time.time() - age_seconds
    os.utime(best, (stamp, stamp))
    return best


def choose(weights=None):
    notes = []
    return choose_weights(weights, notes.append), " ".join(notes)


def test_without_a_trained_run_the_builtin_model_runs_and_says_why(builtin):
    chosen, note = choose()
    assert chosen == builtin
    assert "built-in ball model" in note and "no trained run under runs/train/" in note


def test_a_users_trained_model_is_never_passed_over(builtin):
    trained_run("old", age_seconds=100)
    newest = trained_run("mine")
    chosen, note = choose()
    assert chosen == newest
    assert "your newest trained model" in note and str(newest) in note
    assert "1 older run(s)" in note and f"--weights {BUILTIN_NAME}" in note


def test_an_explicit_choice_wins_and_builtin_names_the_shipped_model(builtin, tmp_path):
    trained_run("mine")
    mine = tmp_path / "elsewhere.pt"
    assert choose(mine) == (mine, "")  # nothing to explain
    chosen, note = choose(BUILTIN_NAME)
    assert chosen == builtin and "built-in ball model" in note and "as asked" in note


def test_a_missing_builtin_model_is_named(builtin):
    builtin.unlink()
    with pytest.raises(DataError, match=f"the built-in model {builtin} is missing"):
        choose()
