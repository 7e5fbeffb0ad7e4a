"""tracknet adapt: pseudo-label selection, the adapt dataset's blocks, the never-worse rule, and a
tiny adaptation of the sample clip end to end."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tracknet_cli.adaptation.adapt import AdaptOptions, AdaptResult, RoundReport, _decide, adapt
from tracknet_cli.adaptation.pseudo_labels import BALL, NO_BALL, UNKNOWN, select_pseudo_labels
from tracknet_cli.adaptation.scene_data import HOLDOUT_EVERY, BlockPlan
from tracknet_cli.errors import TracknetError
from tracknet_cli.inference.trajectory import TrajectoryConfig, postprocess
from tracknet_cli.weights import builtin_weights, load_weights

FPS, SIZE, NOISE = 30.0, (1280, 720), 0.002
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "rally_hard_court_1080p.mp4"
DISTRACTOR = np.array([1000.0, 650.0])  # a ball lying on the court the whole time


def rally(frames: int = 300, seed: int = 0):
    """Per-frame candidates of a rally: two confident flights (0-39, 40-79, a bounce between), a
    faint third one (100-129) too unsure to trust, a still ball on the court all along, two frames
    where the detector took a shoe instead of the ball; then nothing in play. Returns
    (candidates, truth [N, 2] NaN where no ball is in play)."""
    rng = np.random.default_rng(seed)
    truth = np.full((frames, 2), np.nan)
    t = np.arange(40) / FPS
    truth[:40] = np.stack([200 + 520 * t, 300 - 200 * t + 700 * t**2], axis=1)
    truth[40:80] = np.stack([truth[39, 0] + 480 * t, truth[39, 1] - 500 * t + 600 * t**2], axis=1)
    truth[100:130] = np.stack([900 - 600 * t[:30], 200 + 300 * t[:30]], axis=1)
    candidates = []
    for frame in range(frames):
        rows = [[*DISTRACTOR + rng.normal(0, 0.3, 2), 0.8]]
        if np.isfinite(truth[frame]).all():
            score = 0.55 if frame >= 100 else 0.9
            rows.append([*truth[frame] + rng.normal(0, 0.5, 2), score])
        if frame in (20, 60):  # the ball missed, a shoe found
            rows = [rows[0], [truth[frame, 0] + 150, truth[frame, 1] + 120, 0.95]]
        candidates.append(np.array(rows))
    return candidates, truth


def test_pseudo_labels_keep_the_true_flights_and_never_a_distractor():
    candidates, truth = rally()
    track = postprocess(candidates, FPS, SIZE, TrajectoryConfig(noise=NOISE))
    labels = select_pseudo_labels(track, candidates, np.arange(len(truth), dtype=float), FPS, max(SIZE), NOISE)

    ball = np.flatnonzero(labels.state == BALL)
    assert len(ball) >= 60  # most of the two confident flights
    assert set(ball) <= set(range(80))  # the unsure flight gives none
    assert np.linalg.norm(labels.xy[ball] - truth[ball], axis=1).max() < 2.0
    assert np.linalg.norm(labels.xy[ball] - DISTRACTOR, axis=1).min() > 100  # the still ball never
    for shoe in (20, 60):  # the shoe is no label: the frame is the ball's, by the flight, or unknown
        assert labels.state[shoe] == UNKNOWN or np.linalg.norm(labels.xy[shoe] - truth[shoe]) < 3
    no_ball = np.flatnonzero(labels.state == NO_BALL)
    assert set(range(200, 300)) <= set(no_ball)  # well after the last moving candidate
    assert no_ball.min() >= 130 + 2 * FPS  # never within the quiet time of a flight, even an unsure one
    assert {flight.rejected for flight in labels.flights} >= {"", "unsure"}
    assert labels.counts()["flights_unsure"] >= 1


def test_pseudo_labels_outside_court_shots_are_unknown():
    candidates, _ = rally()
    track = postprocess(candidates, FPS, SIZE, TrajectoryConfig(noise=NOISE))
    usable = np.ones(len(candidates), dtype=bool)
    usable[:80] = False  # the rally was a replay without the court
    labels = select_pseudo_labels(track, candidates, np.arange(len(candidates), dtype=float), FPS, max(SIZE),
                                  NOISE, usable)
    assert not np.any(labels.state[:80] != UNKNOWN)
    assert "out_of_view" in {flight.rejected for flight in labels.flights}


def test_block_plan_holds_out_whole_blocks_and_caps_long_videos():
    plan = BlockPlan.of(frames=93, fps=30.0, shortest=3, max_frames=6000)
    assert plan.length == 19 and plan.every == 1  # at least MIN_BLOCKS blocks in a short clip
    held = [f for f in range(93) if plan.held_out(f)]
    assert held == list(range(38, 57))  # the third of five blocks, whole
    long = BlockPlan.of(frames=108_000, fps=30.0, shortest=3, max_frames=6000)  # an hour
    kept = [f for f in range(108_000) if long.kept(f)]
    assert len(kept) <= 6000 + long.length and long.length == 120
    held_blocks = {long.block(f) for f in kept if long.held_out(f)}
    assert len(held_blocks) == len({long.block(f) for f in kept}) // HOLDOUT_EVERY


def _round(number: int, real: float, composite: float) -> RoundReport:
    return RoundReport(number, {}, 1, 1, 1.0, {"val_real": real, "val_composite": composite}, f"round{number}.pt")


@pytest.mark.parametrize("rounds, adapted, chosen", [
    ([_round(1, 0.80, 0.50)], False, None),  # worse on the composites
    ([_round(1, 0.70, 0.90)], False, None),  # better on composites, but loses the real frames
    ([_round(1, 0.89, 0.70), _round(2, 0.90, 0.80)], True, "round2.pt"),
    ([_round(1, 0.90, 0.61)], True, "round1.pt"),
])
def test_never_worse_rule(rounds, adapted, chosen):
    result = AdaptResult(Path("run"), Path("run/weights/best.pt"), Path("start.pt"), False, "",
                         {"val_real": 0.90, "val_composite": 0.60}, rounds=rounds)
    _decide(result)
    assert result.adapted is adapted
    assert (str(result.source) if result.source else None) == chosen
    assert result.verdict.startswith("Kept the starting weights") is (not adapted)


def test_adapt_options_are_checked():
    with pytest.raises(TracknetError, match="--budget"):
        AdaptOptions(budget_minutes=0).validate()


@pytest.fixture(scope="module")
def adapted_sample(tmp_path_factory):
    """The sample clip adapted with a tiny budget (one round, few composites)."""
    run_dir = tmp_path_factory.mktemp("adapt") / "run"
    options = AdaptOptions(budget_minutes=0.4, rounds=1, composite_frames=120, device="cpu", workers=1)
    return adapt([SAMPLE], builtin_weights(), run_dir, options)


def test_adapt_writes_a_checkpoint_report_and_summary(adapted_sample):
    result = adapted_sample
    assert result.weights.is_file() and (result.run_dir / "report.json").is_file()
    assert "Weights to use" in (result.run_dir / "summary.md").read_text()
    assert set(result.start_held_out) == {"val_real", "val_composite"}
    assert len(result.rounds) == 1 and set(result.rounds[0].held_out) == set(result.start_held_out)
    labels = result.rounds[0].labels[SAMPLE.name]
    assert labels["ball"] > 20 and labels["flights_kept"] >= 2
    if result.adapted:
        digest = hashlib.sha256(Path(result.source).read_bytes()).hexdigest()
    else:  # never worse: the starting weights stay, byte for byte
        digest = hashlib.sha256(builtin_weights().read_bytes()).hexdigest()
    assert hashlib.sha256(result.weights.read_bytes()).hexdigest() == digest
    model, cfg, checkpoint = load_weights(result.weights)
    assert cfg.model.name == "fast_heatmap"


def test_adapted_weights_run_in_predict_video_eval_and_export(adapted_sample, tmp_path, monkeypatch):
    from tracknet_cli.commands.evaluate import evaluate
    from tracknet_cli.commands.export import export
    from tracknet_cli.commands.predict import predict_video
    from tracknet_cli.evaluation.run import EvalOptions

    monkeypatch.chdir(tmp_path)
    weights = adapted_sample.weights
    run = predict_video(SAMPLE, weights, device="cpu")
    assert run.result.frames == 93 and run.result.with_ball > 30
    data = adapted_sample.run_dir / "data" / "data.yaml"
    evaluation = evaluate(weights, split="val", data=data, options=EvalOptions(device="cpu", num_workers=0))
    assert evaluation.evaluation.metrics.frames > 0 and 0.0 <= evaluation.evaluation.metrics.f1 <= 1.0
    exported = export(weights)
    assert exported.result.path.suffix == ".onnx" and exported.result.passed


def test_adapt_cli_refuses_a_missing_video_before_any_run(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tracknet_cli.cli.app import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["adapt", str(tmp_path / "nope.mp4")])
    assert result.exit_code != 0
    assert not (tmp_path / "runs" / "adapt").exists()


def test_predict_video_adapt_predicts_with_the_adapted_weights(tmp_path, monkeypatch):
    """`predict-video --adapt` adapts first (the library's adapt, stood in for here: it has its own
    tests above), then predicts with the weights adapt chose."""
    from typer.testing import CliRunner

    from tracknet_cli.cli.app import app
    from tracknet_cli.commands import adapt as adapt_command

    monkeypatch.chdir(tmp_path)
    adapted = tmp_path / "adapted.pt"
    adapted.write_bytes(builtin_weights().read_bytes())
    calls = []

    def fake_adapt(videos, weights, options, name, exist_ok, console, note):
        calls.append((list(videos), weights, options.device))
        return AdaptResult(tmp_path, adapted, builtin_weights(), True, "Adapted (round 1): test", {})

    monkeypatch.setattr(adapt_command, "adapt", fake_adapt)
    result = CliRunner().invoke(app, ["predict-video", str(SAMPLE), "--adapt", "--device", "cpu", "--no-report"])
    assert result.exit_code == 0, result.output
    assert calls == [([SAMPLE], None, "cpu")]
    assert f"predicting with {adapted}" in " ".join(result.output.split())
    assert (tmp_path / "runs" / "predict" / "exp" / f"{SAMPLE.stem}_ball.csv").is_file()
