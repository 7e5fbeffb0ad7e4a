"""Training end to end on a tiny dataset: outputs, resume, interruption, failures, data parallel."""

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import make_tiny_dataset, make_trainer
from tracknet_cli.commands.evaluate import evaluate
from tracknet_cli.commands.train import new_run_config, resume
from tracknet_cli.datasets.card import write_card
from tracknet_cli.errors import ConfigError, DataError, TracknetError
from tracknet_cli.evaluation.run import EvalOptions
from tracknet_cli.tasks import load_config, task_of
from tracknet_cli.training.checkpoint import load_checkpoint
from tracknet_cli.training.launch import train
from tracknet_cli.training.trainer import Trainer, TrainingError
from tracknet_cli.weights import load_model

TINY = ["model.input_size=[128,64]", "model.heatmap.size=[64,32]", "model.decoder.lateral_dim=16",
        "model.head.channels=8", "training.num_workers=0", "training.batch_size=4", "training.epochs=2",
        "training.image_every=2", "training.optimizer.lr=3e-3"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_data")
    root = make_tiny_dataset(folder / "tiny")
    config = folder / "tiny.yaml"
    config.write_text(f"name: tiny\nroot: {root}\nsplits:\n  train: {{games: [1]}}\n"
                      "  val: {clips: [game2/Clip1]}\n  test: {clips: [game2/Clip1, game2/Clip2]}\n")
    return config


def tiny_config(data, *extra):
    return load_config(data, "fast_heatmap", "default", TINY + list(extra))


def weights(path):
    return load_checkpoint(path)["model"]


def test_run_writes_everything(tiny_data, tmp_path):
    write_card(tiny_data.parent / "tiny", made_by="the test's own hands")  # a checkpoint says what data made it
    result = make_trainer(tiny_config(tiny_data), tmp_path / "run").fit()
    run = tmp_path / "run"
    assert result.epochs_done == 2 and not result.interrupted
    for name in ("config.yaml", "weights/last.pt", "weights/best.pt", "results.csv", "results.png"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))
    table = pd.read_csv(run / "results.csv")
    assert table["epoch"].tolist() == [1, 2]
    assert {"train_loss", "val_f1", "val_precision", "val_recall", "lr", "time"} <= set(table.columns)
    state = torch.load(run / "weights/last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["config"]["model"]["name"] == "fast_heatmap"
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "version", "best_metric"} <= set(state)
    assert state["best_metric"] == pytest.approx(table["val_f1"].max())
    assert state["data_card"]["made_by"] == "the test's own hands" and state["data_card"]["version"]
    model, cfg, _ = load_model(run / "weights/best.pt")
    assert model(torch.zeros(1, 3, 3, 64, 128)).shape == (1, 3, 32, 64)


@pytest.fixture(scope="module")
def straight_run(tiny_data, tmp_path_factory):
    """The uninterrupted run the interrupted ones must reproduce."""
    run = tmp_path_factory.mktemp("straight") / "run"
    make_trainer(tiny_config(tiny_data), run).fit()
    return run


def ctrl_c_on_step(n: int):
    """An `_optimizer_step` that presses Ctrl-C after the n-th step (4 steps an epoch here)."""
    original, calls = Trainer._optimizer_step, {"n": 0}

    def step(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == n:
            signal.raise_signal(signal.SIGINT)

    return "_optimizer_step", step


def ctrl_c_twice_while_validating():
    """A `_validate` interrupted at once by a second Ctrl-C, the first time it runs."""
    original, calls = Trainer._validate, {"n": 0}

    def validate(self):
        calls["n"] += 1
        if calls["n"] == 1:
            signal.raise_signal(signal.SIGINT)  # asks to stop after this step
            signal.raise_signal(signal.SIGINT)  # stops at once
        return original(self)

    return "_validate", validate


@pytest.mark.parametrize("interrupt,saved_state", [
    (lambda: ctrl_c_on_step(5), (1, 1, 5)),  # mid-epoch: resumes at the next batch
    (lambda: ctrl_c_on_step(4), (1, 0, 4)),  # the epoch's last step: validated and logged first
    (ctrl_c_twice_while_validating, (0, 4, 4)),  # validation cut short: redone on resume
], ids=["mid-epoch", "last-step", "while-validating"])
def test_interrupted_run_resumes_to_the_same_weights(tiny_data, straight_run, tmp_path, monkeypatch, interrupt,
                                                     saved_state):
    straight = pd.read_csv(straight_run / "results.csv")

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, *interrupt())
        result = make_trainer(tiny_config(tiny_data), tmp_path / "broken").fit()
    assert result.interrupted
    saved = load_checkpoint(tmp_path / "broken/weights/last.pt")
    assert (saved["epoch"], saved["batches_done"], saved["step"]) == saved_state

    resumed = resume(tmp_path / "broken/weights/last.pt").result
    assert resumed.epochs_done == 2 and not resumed.interrupted
    a, b = weights(straight_run / "weights/last.pt"), weights(tmp_path / "broken/weights/last.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    broken = pd.read_csv(tmp_path / "broken/results.csv")
    assert broken["epoch"].tolist() == [1, 2]
    assert broken["val_f1"].tolist() == pytest.approx(straight["val_f1"].tolist(), abs=1e-6)
    best = load_checkpoint(tmp_path / "broken/weights/best.pt")["best_metric"]
    assert best == pytest.approx(straight["val_f1"].max())


def test_an_epoch_is_whole_optimizer_steps(tiny_data, tmp_path):
    trainer = make_trainer(tiny_config(tiny_data, "training.accumulate=3"), None)
    assert trainer.batches_per_epoch == 3  # 4 batches of 4 fit, 3 make the one whole step of 3
    stepped, original = [], trainer._optimizer_step

    def step():
        stepped.append(trainer.batches_done)
        original()

    trainer._optimizer_step = step
    trainer.fit()
    assert stepped == [3, 3] and trainer.step == 2  # no micro-batch left over into the next epoch


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tiny_data, tmp_path, monkeypatch):
    trainer = make_trainer(tiny_config(tiny_data), tmp_path / "run")
    loss_fn = trainer.task.loss_fn
    calls = {"n": 0}

    def poisoned(logits, targets, mask):
        calls["n"] += 1
        total, count = loss_fn(logits, targets, mask)
        return (total * float("nan"), count) if calls["n"] == 5 else (total, count)

    trainer.task.loss_fn = poisoned
    with pytest.raises(TrainingError, match="loss became nan at epoch 2, batch 1"):
        trainer.fit()
    kept = load_checkpoint(tmp_path / "run/weights/last.pt")
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())


def test_resume_into_another_run_is_refused(tiny_data, tmp_path):
    make_trainer(tiny_config(tiny_data, "training.epochs=1"), tmp_path / "run").fit()
    last = tmp_path / "run/weights/last.pt"
    for override in ("model.decoder.lateral_dim=32", "training.optimizer.lr=1e-4", "training.batch_size=2",
                     "data.stride=2"):
        with pytest.raises(ConfigError, match=f"cannot resume .* with a different {override.split('=')[0]}"):
            resume(last, [override])
    extended = resume(last, ["training.epochs=2", "training.num_workers=0"]).result
    assert extended.epochs_done == 2 and not extended.interrupted
    elsewhere = tmp_path / "last.pt"
    elsewhere.write_bytes(last.read_bytes())
    with pytest.raises(TracknetError, match="not in a run's weights/ folder"):
        resume(elsewhere)


def test_strangers_and_truncated_checkpoints_are_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a tracknet checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "notes.pt").write_text("epoch 3: loss 0.1\n")
    for name in ("cut.pt", "empty.pt", "notes.pt"):  # each reported by name, whatever torch.load raised
        with pytest.raises(DataError, match=f"{name} is not a readable tracknet checkpoint"):
            load_checkpoint(tmp_path / name)


def test_two_processes_follow_the_one_process_curve(tiny_data, tmp_path):
    # a GroupNorm/LayerNorm model: BatchNorm cannot be synced across CPU processes (GPUs only)
    cfg = load_config(tiny_data, "convnext_fpn_heatmap", "default",
                      TINY + ["model.backbone.preset=tiny", "model.backbone.use_pretrained=false"])
    train(task_of(cfg), cfg, tmp_path / "one", devices=1)
    train(task_of(cfg), cfg, tmp_path / "two", devices=2)  # gloo on CPU, 2 samples per process
    one, two = (pd.read_csv(tmp_path / f"{n}/results.csv") for n in ("one", "two"))
    assert two["train_loss"].tolist() == pytest.approx(one["train_loss"].tolist(), rel=1e-4)
    assert two["val_f1"].tolist() == pytest.approx(one["val_f1"].tolist(), abs=1e-6)
    # Adam turns float-rounding differences in near-zero gradients into lr-sized steps, so compare
    # what the weights do, not each weight
    x = torch.randn(2, 3, 3, 64, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = [load_model(tmp_path / f"{n}/weights/last.pt")[0](x) for n in ("one", "two")]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=2e-3)


def test_dry_run_writes_nothing(tiny_data, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tracknet_cli", "train", "--model", "fast_heatmap", "--data", str(tiny_data),
         "--dry-run", *TINY], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Dry run (no run written)" in result.stdout and "train_loss" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_eval_files_agree_and_every_frame_counts_once(tiny_data, tmp_path, monkeypatch):
    from tracknet_cli.evaluation.metrics import Protocol

    make_trainer(tiny_config(tiny_data, "training.epochs=1"), tmp_path / "run").fit()
    monkeypatch.chdir(tmp_path)
    evaluated = evaluate(tmp_path / "run/weights/best.pt", "test",
                         options=EvalOptions(protocol=Protocol(tolerance=10), num_workers=0))
    assert evaluated.run_dir == Path("runs/eval/exp")
    metrics = json.loads((evaluated.run_dir / "metrics.json").read_text())
    predictions = pd.read_csv(evaluated.run_dir / "predictions.csv")
    assert len(predictions) == 20 and not predictions.duplicated(["clip", "frame"]).any()  # 2 clips x 10
    counts = predictions["outcome"].value_counts().to_dict()
    assert {k: counts.get(k, 0) for k in metrics["metrics"]["counts"]} == metrics["metrics"]["counts"]
    assert metrics["protocol"]["tolerance_px"] == 10 and "visibility 1,2,3" in metrics["protocol"]["description"]
    per_clip = pd.read_csv(evaluated.run_dir / "per_clip.csv")
    assert per_clip["clip"].tolist() == ["game2/Clip1", "game2/Clip2"]
    assert per_clip["TP"].sum() == metrics["metrics"]["counts"]["TP"]


def test_eval_on_data_it_never_saw(tiny_data, tmp_path):
    """Another synthetic seed, plus a clip whose frames all lack a ball, through the CLI."""
    import shutil

    from tests.conftest import make_tiny_dataset
    from tracknet_cli.datasets.labels import read_labels, write_tennis_labels
    from tracknet_cli.datasets.synthetic import SyntheticSpec, generate_synthetic_dataset

    make_trainer(tiny_config(tiny_data, "training.epochs=1"), tmp_path / "runs/train/mine").fit()
    unseen = tmp_path / "unseen"
    generate_synthetic_dataset(unseen, SyntheticSpec(games=1, clips_per_game=1, frames_per_clip=12,
                                                     width=320, height=180, seed=7), workers=1)
    empty = make_tiny_dataset(tmp_path / "empty_src", games=(2,), clips=1) / "game2/Clip1"
    shutil.copytree(empty, unseen / "game2/Clip1")
    labels = read_labels(unseen / "game2/Clip1/Label.csv").assign(visibility=0)
    write_tennis_labels(unseen / "game2/Clip1/Label.csv", labels)
    data = tmp_path / "unseen.yaml"
    data.write_text(f"name: unseen\nroot: {unseen}\nsplits:\n  test: {{games: [1, 2]}}\n")

    result = subprocess.run([sys.executable, "-m", "tracknet_cli", "eval", "--data", str(data),
                             "--tolerance", "10", "--pck", "5", "--num-workers", "0"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Using your newest trained model" in result.stdout and "mine" in result.stdout
    metrics = json.loads((tmp_path / "runs/eval/exp/metrics.json").read_text())
    predictions = pd.read_csv(tmp_path / "runs/eval/exp/predictions.csv")
    assert len(predictions) == 12 + 10 and metrics["metrics"]["frames"] == 22
    report = (tmp_path / "runs/eval/exp/report.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', report)
    assert {"metrics.json", "predictions.csv", "per_clip.csv"} <= set(references)
    assert all((tmp_path / "runs/eval/exp" / ref).is_file() for ref in references)  # all inside the run folder
    wrong = (predictions["outcome"].isin(["FP1", "FP2", "FN"])).sum()
    crops = sorted((tmp_path / "runs/eval/exp/worst").glob("*.png")) if wrong else []
    assert len(crops) == min(wrong, 12) and all(f"worst/{crop.name}" in references for crop in crops)
    counts = predictions["outcome"].value_counts().to_dict()
    assert metrics["metrics"]["counts"] == {k: counts.get(k, 0) for k in ("TP", "FP1", "FP2", "FN", "TN")}
    empty_clip = predictions[predictions["clip"] == "game2/Clip1"]
    assert set(empty_clip["outcome"]) <= {"TN", "FP2"}
    assert metrics["protocol"]["pck_radii"] == [5.0]


def test_deformable_model_trains_end_to_end(tiny_data, tmp_path, monkeypatch):
    cfg = load_config(tiny_data, "convnext_deformable_fpn_heatmap", "default", TINY + [
        "model.backbone.preset=tiny", "model.backbone.use_pretrained=false", "model.decoder.d_model=32",
        "model.decoder.n_heads=4", "model.decoder.num_encoder_layers=1", "model.decoder.ffn_dim=64",
        "training.epochs=1"])
    result = make_trainer(cfg, tmp_path / "run").fit()
    assert result.epochs_done == 1
    history = pd.read_csv(tmp_path / "run/results.csv")
    assert history["train_loss"].notna().all() and "val_f1" in history
    model, loaded_cfg, _ = load_model(tmp_path / "run/weights/last.pt")
    assert loaded_cfg.model.decoder.type == "deformable_fpn" and model.decoder.layers[0].attention.n_points == 4
    # eval --attention-maps: threshold 0 predicts a ball on every frame, so every window qualifies
    monkeypatch.chdir(tmp_path)
    attention = evaluate(tmp_path / "run/weights/last.pt", "val", options=EvalOptions(
        threshold=0.0, num_workers=0, attention_maps=2)).run_dir / "attention"
    written = sorted(p.name for p in attention.iterdir())
    assert len(written) == 2 and all(name.startswith("game2_Clip1_") for name in written)
    assert (attention / written[0]).read_bytes()[:4] == b"\x89PNG"


TRAINING_ONLY = [item for item in TINY if item.startswith("training.")]


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """The last.pt of a one-epoch run: the weights the fine-tuning tests start from."""
    run = tmp_path_factory.mktemp("source") / "runs/train/source"
    make_trainer(tiny_config(tiny_data, "training.epochs=1"), run).fit()
    return run / "weights/last.pt"


def first_batch_loss(model, trainer):
    """The training loss of `model` on the trainer's first batch, as the trainer computes it."""
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
    model.train()
    with torch.no_grad():
        (inputs,) = trainer.task.inputs(batch, torch.device("cpu"))
        return sum(weight * loss for weight, loss, *_ in trainer.task.losses(model(inputs), batch, torch.device("cpu")))


def test_fine_tuning_starts_exactly_from_the_given_weights_with_a_fresh_optimizer(tiny_data, trained, tmp_path):
    cfg = new_run_config(None, tiny_data, "default", TRAINING_ONLY, weights=trained)  # the checkpoint's own model
    assert cfg.model.decoder.lateral_dim == 16 and cfg.training.init_weights == str(trained.resolve())
    trainer = make_trainer(cfg, tmp_path / "runs/train/tuned")
    saved = weights(trained)
    assert all(torch.equal(value, saved[key]) for key, value in trainer.model.state_dict().items())
    assert first_batch_loss(trainer.model, trainer) == first_batch_loss(load_model(trained)[0], trainer)
    assert trainer.epoch == 0 and not trainer.optimizer.state  # a new schedule, no moments carried over
    result = trainer.fit()
    assert result.epochs_done == 2
    tuned = load_checkpoint(tmp_path / "runs/train/tuned/weights/last.pt")
    assert tuned["config"]["training"]["init_weights"] == str(trained.resolve())  # the run records its start


def test_fine_tuning_refuses_another_model_by_name(tiny_data, trained):
    with pytest.raises(ConfigError, match="holds model 'fast_heatmap', not 'fast_heatmap_motion'.*--weights-partial"):
        new_run_config("fast_heatmap_motion", tiny_data, "default", TINY, weights=trained)


def test_another_head_size_loads_what_fits_only_when_asked(tiny_data, trained, tmp_path):
    one_out = TINY + ["model.output_frames=1"]
    cfg = new_run_config("fast_heatmap", tiny_data, "default", one_out, weights=trained)
    with pytest.raises(ConfigError, match=r"do not fit this model \(of another shape: head\..*--weights-partial"):
        make_trainer(cfg, None)
    cfg = new_run_config("fast_heatmap", tiny_data, "default", one_out, weights=trained, partial=True)
    trainer = make_trainer(cfg, None)
    saved, own = weights(trained), trainer.model.state_dict()
    skipped = [key for key in own if own[key].shape != saved[key].shape]
    assert skipped and all(key.startswith("head.") for key in skipped)
    assert all(torch.equal(own[key], saved[key]) for key in own if key not in skipped)


def test_train_weights_builtin_from_the_command_line(tiny_data, tmp_path):
    result = subprocess.run([sys.executable, "-m", "tracknet_cli", "train", "--weights", "builtin", "--data",
                             str(tiny_data), "--dry-run", "training.num_workers=0", "training.batch_size=2"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "init_weights:" in result.stdout and "ball.pt" in result.stdout and "Dry run" in result.stdout
