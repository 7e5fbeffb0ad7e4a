"""The task table: a new task is one entry plus its modules. A small "ball present?" task, written
here and registered for the test, goes through build, `train --dry-run`, eval, export and
predict-video with no change to the commands."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

from tracknet_cli.cli.app import app
from tracknet_cli.config import to_container
from tracknet_cli.datasets.frames import read_frame
from tracknet_cli.datasets.tracknet import load_index, select_clips
from tracknet_cli.errors import ConfigError
from tracknet_cli.model_input import IMAGENET_MEAN, IMAGENET_STD, image_input, normalize
from tracknet_cli.models.build import PARTS, part_config
from tracknet_cli.tasks import TASKS, Task, get_task, load_config, task_of
from tracknet_cli.training.checkpoint import save_checkpoint


# ------------------------------------------------------------------ the task's modules, in brief
@dataclass
class PresenceModelConfig:
    """model: a registry backbone, pooled, one logit per frame: is a ball in view?"""

    parts: ClassVar[tuple[str, ...]] = ("backbone",)
    inputs: ClassVar[tuple[str, ...]] = ("frames",)
    outputs: ClassVar[tuple[str, ...]] = ("presence",)

    name: str = ""
    task: str = "presence"
    input_size: list[int] = field(default_factory=lambda: [64, 36])  # [W, H]
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    backbone: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def check(model, require) -> None:
        require(min(model.input_size) > 0, "model.input_size", "expected [W, H] > 0")

    @staticmethod
    def patch_grid(model):
        return None

    @staticmethod
    def example_input(model, batch, generator):
        width, height = model.input_size
        return (torch.randn(batch, 3, height, width, generator=generator),)

    @staticmethod
    def frames_per_row(model) -> int:
        return 1

    @staticmethod
    def graph_metadata(model) -> dict:
        return {"input_size": list(model.input_size)}

    @staticmethod
    def resized(model, width, height, frames) -> list[str]:
        return [f"model.input_size=[{width},{height}]"]


class PresenceModel(nn.Module):
    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        channels = next(iter(backbone.feature_info.values())).channels
        self.logit = nn.Linear(channels, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # [B, 3, H, W] -> [B]
        features = next(iter(self.backbone(frames).values()))
        return self.logit(features.mean(dim=(-2, -1)))[:, 0]


def build_presence_model(model_cfg, pretrained: bool = True) -> PresenceModel:
    backbone_cfg = part_config(model_cfg, "backbone")
    return PresenceModel(PARTS["backbone"][backbone_cfg.type][0](backbone_cfg, in_frames=1))


class PresenceDataset(torch.utils.data.Dataset):
    """Every frame of a split: uint8 [3, H, W] and whether a ball is in view."""

    def __init__(self, cfg, split: str):
        index = load_index(cfg.data.root)
        rows = index.frames[index.frames["clip"].isin(select_clips(index, cfg.data.splits, split))]
        self.root, self.rows, self.size = index.root, rows.reset_index(drop=True), tuple(cfg.model.input_size)
        self.mean, self.std = tuple(cfg.model.mean), tuple(cfg.model.std)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> dict:
        row = self.rows.iloc[item]
        frame = read_frame(self.root / row["clip"] / row["file"], self.size)
        return {"frames": torch.from_numpy(frame).permute(2, 0, 1).contiguous(),
                "present": torch.tensor(float(row["visibility"] > 0)), "clip": row["clip"]}

    def set_epoch(self, epoch: int) -> None:
        pass  # no augmentation


def run(model, dataset, device, batch_size=8) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of every frame of `dataset`."""
    scores, labels = [], []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
            frames = normalize(batch["frames"].to(device), dataset.mean, dataset.std)
            scores.append(torch.sigmoid(model(frames)).cpu().numpy())
            labels.append(batch["present"].numpy())
    return np.concatenate(scores), np.concatenate(labels)


class PresenceTraining:
    best_metric = "val_accuracy"
    headers = {"val_accuracy": "acc"}

    def __init__(self, cfg):
        self.cfg = cfg

    def datasets(self):
        return PresenceDataset(self.cfg, "train"), PresenceDataset(self.cfg, "val")

    def inputs(self, batch, device):
        return (normalize(batch["frames"].to(device), self.cfg.model.mean, self.cfg.model.std),)

    def losses(self, outputs, batch, device):
        target = batch["present"].to(device)
        count = torch.tensor(float(len(target)), device=device)
        return [(1.0, F.binary_cross_entropy_with_logits(outputs, target, reduction="sum"), count)]

    def validate(self, model, dataset, device, batch_size, num_workers, amp_dtype) -> dict:
        scores, labels = run(model.eval(), dataset, device, batch_size)
        return {"val_accuracy": float(((scores > 0.5) == labels).mean())}

    def log_images(self, log, batch, outputs, step) -> None:
        pass

    def shapes(self, batch, outputs) -> dict:
        return {"input": list(batch["frames"].shape), "output": list(outputs.shape)}


@dataclass
class PresenceMetrics:
    frames: int
    accuracy: float

    def as_dict(self) -> dict:
        return {"frames": self.frames, "accuracy": self.accuracy}


@dataclass
class PresenceEvaluation:
    metrics: PresenceMetrics
    predictions: pd.DataFrame
    per_clip: pd.DataFrame
    context: dict
    attention_maps: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)

    def protocol_record(self) -> dict:
        return {"description": "ball present when its score is at least the threshold"}

    def metrics_record(self) -> dict:
        return self.metrics.as_dict()

    def summary(self) -> list[dict]:
        return [{"accuracy": self.metrics.accuracy}]

    def extent(self) -> str:
        return f"{self.metrics.frames} frames"


def evaluate_presence(model, cfg, split, options, on_start=None, progress=None) -> PresenceEvaluation:
    dataset = PresenceDataset(cfg, split)
    if on_start:
        on_start(len(dataset))
    scores, labels = run(model.eval(), dataset, options.device)
    correct = (scores >= options.threshold) == labels
    predictions = pd.DataFrame({"clip": dataset.rows["clip"], "score": scores, "present": labels, "correct": correct})
    per_clip = predictions.groupby("clip", as_index=False)["correct"].mean()
    return PresenceEvaluation(PresenceMetrics(len(dataset), float(correct.mean())), predictions, per_clip,
                              {"frames": len(dataset)})


class PresencePredictor:
    def __init__(self, model, cfg, device):
        self.model, self.cfg, self.device = model.eval().to(device), cfg, device

    @classmethod
    def from_loaded(cls, model, cfg, device, **options):
        return cls(model, cfg.model, device)

    def __call__(self, image_bgr: np.ndarray) -> float:
        x = image_input(image_bgr, tuple(self.cfg.input_size), self.cfg.mean, self.cfg.std)[None]
        with torch.no_grad():
            return float(torch.sigmoid(self.model(x.to(self.device)))[0])


@dataclass
class PresenceVideoResult:
    info: Any
    frames: int
    seconds: float
    csv: Path
    truncated: bool = False

    @property
    def fps(self) -> float:
        return self.frames / max(self.seconds, 1e-9)

    def counts(self) -> list:
        return [("frames scored", self.frames)]

    def outputs(self) -> list:
        return [("scores", self.csv)]


def presence_in_video(model, cfg, device, options):
    predictor = PresencePredictor.from_loaded(model, cfg, device)

    def run(reader, out_dir, on_start=None, progress=None) -> PresenceVideoResult:
        scores = [predictor(frame) for frame in reader]
        path = Path(out_dir) / f"{reader.info.path.stem}_presence.csv"
        pd.DataFrame({"Frame": range(len(scores)), "Score": scores}).to_csv(path, index=False)
        return PresenceVideoResult(reader.info, len(scores), 1.0, path)

    return run


PRESENCE = Task(name="presence", description="ball-presence classifier", model_schema=PresenceModelConfig,
                build_model=build_presence_model, data_format="tracknet", default_data="synthetic",
                default_training="default", eval_split="test", training=PresenceTraining,
                evaluate=evaluate_presence, predictor=PresencePredictor, predict_video=presence_in_video,
                video_options=())


# ----------------------------------------------------------------------------------------- tests
@pytest.fixture
def presence(tiny_dataset, tmp_path, monkeypatch):
    """The task registered, a model config and a data config of the tiny dataset."""
    monkeypatch.setitem(TASKS, "presence", PRESENCE)
    model = tmp_path / "presence.yaml"
    model.write_text("task: presence\ninput_size: [64, 36]\n"
                     "backbone: {type: cnn, channels: [8], depths: [1], return_stages: [1]}\n")
    data = tmp_path / "tiny.yaml"
    data.write_text(f"name: tiny\nroot: {tiny_dataset}\ncache: \"off\"\n"
                    "splits: {train: {games: [1]}, val: {games: [2]}, test: {games: [2]}}\n")
    monkeypatch.chdir(tmp_path)
    return model, data


def cli(*args) -> str:
    """The command's output on one line (tables wrap in the runner's narrow terminal)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_a_registered_task_builds_trains_evaluates_exports_and_predicts(presence, tmp_path):
    model_yaml, data_yaml = presence
    overrides = ["training.batch_size=4", "training.num_workers=0", "training.device=cpu"]
    cfg = load_config(data_yaml, model_yaml, overrides=overrides)
    assert task_of(cfg) is PRESENCE and cfg.training.epochs == 30  # the task's default training config
    model = PRESENCE.build_model(cfg.model)
    assert model(torch.zeros(2, 3, 36, 64)).shape == (2,)

    dry = cli("train", "--model", str(model_yaml), "--data", str(data_yaml), "--dry-run", *overrides)
    assert "Dry run (no run written)" in dry and "train_loss" in dry and not (tmp_path / "runs").exists()

    weights = save_checkpoint(tmp_path / "presence.pt", model=model, config=to_container(cfg), epoch=1, step=1)
    evaluated = cli("eval", "--weights", str(weights), "--device", "cpu", "--num-workers", "0")
    assert "accuracy" in evaluated and "(20 frames)" in evaluated  # game 2: 2 clips of 10 frames
    report = json.loads((tmp_path / "runs/eval/exp/metrics.json").read_text())
    assert (report["task"], report["split"], report["frames"]) == ("presence", "test", 20)

    exported = cli("export", "--weights", str(weights))
    assert "passed" in exported and (tmp_path / "runs/export/exp/presence.onnx").is_file()

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (128, 72))
    for _ in range(5):
        writer.write(np.full((72, 128, 3), 90, np.uint8))
    writer.release()
    cli("predict-video", str(video), "--weights", str(weights), "--device", "cpu")
    scores = pd.read_csv(tmp_path / "runs/predict/exp/clip_presence.csv")
    assert len(scores) == 5 and scores["Score"].between(0, 1).all()


def test_options_of_another_task_are_refused_by_name(presence, tmp_path):
    model_yaml, data_yaml = presence
    cfg = load_config(data_yaml, model_yaml)
    weights = save_checkpoint(tmp_path / "presence.pt", model=PRESENCE.build_model(cfg.model),
                              config=to_container(cfg), epoch=1, step=1)
    result = CliRunner().invoke(app, ["predict-video", "clip.avi", "--weights", str(weights), "--plot"])
    assert result.exit_code != 0  # clip.avi is missing: the video is checked first
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 36))
    writer.write(np.zeros((36, 64, 3), np.uint8))
    writer.release()
    result = CliRunner().invoke(app, ["predict-video", str(video), "--weights", str(weights), "--plot"])
    assert result.exit_code == 1 and "--plot: for ball models" in str(result.exception)
    assert not (tmp_path / "runs").exists()


def test_an_unknown_task_is_named():
    with pytest.raises(ConfigError, match="model.task 'events' .* is not one of"):
        get_task("events")
