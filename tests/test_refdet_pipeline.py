"""Reference-based detection through the whole pipeline on a tiny rendered dataset: config and
registry checks, the loss, two-stage training, eval (API and CLI), predict-video with templates,
ONNX/TorchScript export and the predictor on both."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from typer.testing import CliRunner

from tests.conftest import make_trainer
from tests.test_cli import tracknet
from tracknet_cli.cli.app import app
from tracknet_cli.commands.evaluate import evaluate
from tracknet_cli.commands.train import resume
from tracknet_cli.config import AugmentConfig, LossConfig, PatchConfig, to_container
from tracknet_cli.datasets.augment import FrameTransform, Window, sample_transform
from tracknet_cli.datasets.refdet import RefdetDataset, _mapped_box
from tracknet_cli.datasets.refdet_layout import TEMPLATE_NAMES, read_box, scan_refdet
from tracknet_cli.datasets.synthetic import RefdetSpec, generate_refdet_dataset
from tracknet_cli.errors import ConfigError, TracknetError
from tracknet_cli.evaluation.run import EvalOptions
from tracknet_cli.export import export
from tracknet_cli.models.refdet import RefDetModel, RefdetModelConfig
from tracknet_cli.tasks import (
    available_models,
    build_model,
    config_from_container,
    load_config,
    task_of,
)
from tracknet_cli.training.checkpoint import load_checkpoint, save_checkpoint
from tracknet_cli.training.losses.detection import refdet_losses
from tracknet_cli.weights import ONNX_METADATA_KEY, load_model, load_predictor

SPEC = RefdetSpec(objects=2, frames_per_object=6, val_frames_per_object=3, width=128, height=96,
                  template_size=64, seed=3)
TINY = ["model.search_size=[128,96]", "model.template_size=[64,64]", "model.fpn_channels=16",
        "model.corr_channels=8", "model.det_channels=16", "model.backbone.preset=tiny",
        "model.backbone.use_pretrained=false", "model.backbone.return_stages=[1,2]",
        "training.num_workers=0", "training.batch_size=4", "training.epochs=2", "training.device=cpu"]
BALL_TINY = ["model.input_size=[128,72]", "model.heatmap.size=[64,36]", "model.decoder.lateral_dim=8",
             "model.head.channels=8"]
PREDICTION_COLUMNS = ["object", "image", "present", "x1", "y1", "x2", "y2", "pred_x1", "pred_y1", "pred_x2",
                      "pred_y2", "score", "iou", "outcome"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These CPU-sized models run fastest on one thread; on a small machine shared with another
    busy process, multi-threaded kernels slow down by orders of magnitude."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset root, its data config): 12 train and 6 val search images of 2 objects."""
    folder = tmp_path_factory.mktemp("refdet_pipeline")
    root = folder / "tiny"
    generate_refdet_dataset(root, SPEC, workers=1)
    config = folder / "tiny_refdet.yaml"
    config.write_text(f"name: tiny_refdet\nformat: refdet\nroot: {root}\n")
    return root, config


def tiny_config(data_yaml: Path, *extra: str):
    return load_config(data_yaml, "convnext_refdet", "default", TINY + list(extra))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> dict:
    """One epoch with the backbone frozen, then a resume that trains a second one unfrozen.
    Keeps the weights before training and after epoch 1 to compare."""
    _, data_yaml = data
    run = tmp_path_factory.mktemp("refdet_train") / "run"
    cfg = tiny_config(data_yaml, "training.freeze_backbone_epochs=1", "training.epochs=1")
    trainer = make_trainer(cfg, run)
    initial = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    first = trainer.fit()
    epoch1 = load_checkpoint(run / "weights/last.pt")
    second = resume(run / "weights/last.pt", ["training.epochs=2"]).result
    return {"run": run, "initial": initial, "epoch1": epoch1, "first": first, "second": second,
            "best": run / "weights/best.pt"}


@pytest.fixture(scope="module")
def ball_weights(tmp_path_factory) -> Path:
    """A tiny fast_heatmap (ball) checkpoint."""
    cfg = load_config(model="fast_heatmap", overrides=BALL_TINY)
    path = tmp_path_factory.mktemp("ball") / "ball.pt"
    return save_checkpoint(path, model=build_model(cfg.model), config=to_container(cfg), epoch=1, step=1)


def one_line(text: str) -> str:
    """CLI output with rich's wrapping and panel borders folded away."""
    return " ".join(text.replace("│", " ").split())


# ------------------------------------------------------------------------------------- config
def test_refdet_config_is_its_own_schema_and_round_trips(data):
    _, data_yaml = data
    cfg = tiny_config(data_yaml)
    assert OmegaConf.get_type(cfg.model) is RefdetModelConfig
    assert (cfg.model.task, list(cfg.model.search_size), cfg.model.fpn_channels) == ("refdet", [128, 96], 16)
    again = config_from_container(to_container(cfg))  # what a checkpoint stores and reads back
    assert OmegaConf.get_type(again.model) is RefdetModelConfig and to_container(again) == to_container(cfg)
    assert available_models("refdet") == ["convnext_refdet", "fast_refdet"]
    assert "convnext_refdet" not in available_models("heatmap") and "fast_heatmap" in available_models("heatmap")


@pytest.mark.parametrize("extra,message", [
    ("model.frames=3", "unknown key 'model.frames'"),  # a heatmap-only key
    ("model.task=heatmap", "model.task: 'heatmap' cannot be set by an override"),
    ("model.search_size=[100,96]", "model.search_size: expected [W, H], multiples of 32, got [100, 96]"),
    ("training.loss.iou_type=foo", "training.loss.iou_type: expected iou, giou, diou or ciou, got 'foo'"),
])
def test_bad_refdet_overrides_are_refused_by_key(data, extra, message):
    _, data_yaml = data
    with pytest.raises(ConfigError) as info:
        tiny_config(data_yaml, extra)
    assert message in str(info.value)


def test_freezing_twice_is_refused(data):
    _, data_yaml = data
    with pytest.raises(ConfigError, match="training.freeze_backbone_epochs: the backbone is frozen for the whole "
                                          "run"):
        tiny_config(data_yaml, "training.freeze_backbone_epochs=1", "model.backbone.freeze=true")
    tiny_config(data_yaml, "training.freeze_backbone_epochs=1")  # alone, each is fine
    tiny_config(data_yaml, "model.backbone.freeze=true")


def test_a_model_reads_only_its_own_tasks_data(data):
    _, data_yaml = data
    with pytest.raises(ConfigError) as info:
        load_config(data_yaml, "fast_heatmap", "default")
    assert "heatmap model" in str(info.value) and "format 'refdet'" in str(info.value)
    assert "'tiny_refdet'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config("synthetic", "convnext_refdet", "default")
    assert "refdet model" in str(info.value) and "format 'tracknet'" in str(info.value)


# ------------------------------------------------------------------------------------ registry
def test_tiny_model_outputs_at_stride_4_and_kernels_split_the_work(data):
    _, data_yaml = data
    torch.manual_seed(0)
    model = build_model(tiny_config(data_yaml).model).eval()
    assert isinstance(model, RefDetModel)
    templates, search = torch.randn(2, 3, 3, 64, 64), torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        out = model(templates, search)
        kernels = model.template_kernels(templates)
        split = model.detect(kernels, search)
    assert out["objectness"].shape == (2, 24, 32) and out["boxes"].shape == (2, 4, 24, 32)
    assert [tuple(k.shape) for k in kernels] == [(2, 8, 5, 5)] * 2  # corr_channels, kernel_size
    torch.testing.assert_close(split["objectness"], out["objectness"])
    torch.testing.assert_close(split["boxes"], out["boxes"])
    # the kernels are per object: another object's templates change the answer
    with torch.no_grad():
        other = model.detect(model.template_kernels(torch.randn(2, 3, 3, 64, 64)), search)
    assert not torch.allclose(other["objectness"], out["objectness"])


def cnn_model_yaml(folder: Path, return_stages: list[int]) -> Path:
    path = folder / f"cnn_refdet_{len(return_stages)}.yaml"
    path.write_text("task: refdet\nsearch_size: [128, 96]\ntemplate_size: [64, 64]\nfpn_channels: 16\n"
                    "corr_channels: 8\ndet_channels: 16\n"
                    "backbone: {type: cnn, channels: [8, 16, 32], depths: [1, 1, 1], "
                    f"return_stages: {return_stages}}}\n")
    return path


def test_a_cnn_backbone_serves_and_one_without_strides_4_and_8_is_refused(data, tmp_path):
    _, data_yaml = data
    cfg = load_config(data_yaml, cnn_model_yaml(tmp_path, [2, 3]), "default")
    assert cfg.model.name == "cnn_refdet_2" and cfg.model.backbone.type == "cnn"
    model = build_model(cfg.model).eval()
    assert [info.stride for info in model.backbone.feature_info.values()] == [4, 8]
    with torch.no_grad():
        out = model(torch.randn(1, 3, 3, 64, 64), torch.randn(1, 3, 96, 128))
    assert out["objectness"].shape == (1, 24, 32) and out["boxes"].shape == (1, 4, 24, 32)
    coarse = load_config(data_yaml, cnn_model_yaml(tmp_path, [3]), "default")
    with pytest.raises(TracknetError, match=r"strides 4 and 8; they give \[8\]"):
        build_model(coarse.model)


# -------------------------------------------------------------------------------------- loss
def positives_by_hand(box, grid_hw=(24, 32), stride=4, radius=1.5) -> int:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return sum(np.hypot((j + 0.5) * stride - cx, (i + 0.5) * stride - cy) / stride <= radius
               for i in range(grid_hw[0]) for j in range(grid_hw[1]))


def perfect_outputs(box: torch.Tensor, batch: int) -> dict:
    """Every cell of every image predicts `box`; objectness 0 everywhere."""
    return {"objectness": torch.zeros(batch, 24, 32),
            "boxes": box.view(1, 4, 1, 1).expand(batch, 4, 24, 32).clone()}


def test_refdet_losses_count_positive_cells_and_weigh_by_config():
    cfg = OmegaConf.structured(LossConfig(lambda_obj=0.7, lambda_bbox=3.0))
    box = torch.tensor([40.0, 30.0, 70.0, 60.0])  # centre (55, 45)
    expected = positives_by_hand(box.tolist())
    assert expected > 1
    outputs = perfect_outputs(box, 2)
    nan = torch.full((4,), float("nan"))  # the dataset's box of an image without the object
    terms = refdet_losses(outputs, torch.stack([box, nan]), torch.tensor([True, False]), cfg)
    (w_obj, obj_sum, obj_count), (w_box, box_sum, box_count) = terms
    assert (w_obj, w_box) == (0.7, 3.0)
    assert box_count.item() == obj_count.item() == expected  # the absent image adds none
    assert abs(box_sum.item()) < 1e-5  # boxes equal the target: GIoU loss 0 on every positive
    assert obj_sum.item() > 0
    # the same image alone gives the same counts and box loss
    alone = refdet_losses(perfect_outputs(box, 1), box[None], torch.tensor([True]), cfg)
    assert alone[1][2].item() == expected and alone[0][2].item() == expected
    # no object anywhere: no positives, a zero box term
    empty = refdet_losses(perfect_outputs(box, 2), torch.stack([nan, nan]), torch.tensor([False, False]), cfg)
    assert empty[0][2].item() == empty[1][2].item() == 0 and empty[1][1].item() == 0
    # a wrong box costs something on every positive
    shifted = perfect_outputs(box + torch.tensor([20.0, 0.0, 20.0, 0.0]), 1)
    wrong = refdet_losses(shifted, box[None], torch.tensor([True]), cfg)
    assert wrong[1][1].item() > 0.5 * expected and wrong[1][2].item() == expected


# ---------------------------------------------------------------------------------- training
def test_two_stage_training_writes_its_run_and_freezes_the_backbone_first(trained):
    run, initial, epoch1 = trained["run"], trained["initial"], trained["epoch1"]
    assert trained["first"].epochs_done == 1 and trained["second"].epochs_done == 2
    table = pd.read_csv(run / "results.csv")
    assert table["epoch"].tolist() == [1, 2]
    assert {"val_ap50", "val_ap", "val_f1", "val_mean_iou", "train_loss"} <= set(table.columns)
    assert table[["val_ap50", "val_ap"]].notna().all().all()
    assert (run / "weights/best.pt").is_file() and (run / "weights/last.pt").is_file()
    last, best = load_checkpoint(run / "weights/last.pt"), load_checkpoint(trained["best"])
    assert last["epoch"] == 2 and epoch1["epoch"] == 1
    assert last["best_metric"] == pytest.approx(table["val_ap50"].max())
    assert best["best_metric"] == pytest.approx(table["val_ap50"].max())
    assert best["metrics"]["val_ap50"] == pytest.approx(table["val_ap50"].max())

    backbone = [k for k in initial if k.startswith("backbone.")]
    rest = [k for k in initial if not k.startswith("backbone.")]  # FPN, fusion, correlation, head
    assert backbone and {"objectness.weight", "box.weight"} <= set(rest)
    after1, after2 = epoch1["model"], last["model"]
    assert [k for k in backbone if not torch.equal(after1[k], initial[k])] == []  # frozen in epoch 1
    assert [k for k in rest if torch.equal(after1[k], initial[k])] == []  # everything else learned
    assert [k for k in backbone if torch.equal(after2[k], after1[k])] == []  # unfrozen in epoch 2

    model, cfg, _ = load_model(trained["best"])
    assert isinstance(model, RefDetModel) and cfg.model.task == "refdet"
    for key, value in best["model"].items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_resuming_at_the_stage_boundary_matches_an_uninterrupted_run(trained, data, tmp_path):
    """The stage is decided from the epoch alone: a run resumed after its frozen epoch ends on the
    weights of a run that went straight through both stages."""
    _, data_yaml = data
    straight = make_trainer(tiny_config(data_yaml, "training.freeze_backbone_epochs=1"), tmp_path / "run").fit()
    assert straight.epochs_done == 2
    resumed, uninterrupted = (load_checkpoint(run / "weights/last.pt")["model"]
                              for run in (trained["run"], tmp_path / "run"))
    assert resumed.keys() == uninterrupted.keys()
    for key in resumed:
        torch.testing.assert_close(resumed[key], uninterrupted[key], msg=key)
    pd.testing.assert_frame_equal(pd.read_csv(trained["run"] / "results.csv").drop(columns="time"),
                                  pd.read_csv(tmp_path / "run/results.csv").drop(columns="time"))


# -------------------------------------------------------------------------------------- eval
def test_eval_writes_metrics_predictions_and_per_object_files(trained, data, tmp_path, monkeypatch):
    root, _ = data
    monkeypatch.chdir(tmp_path)
    evaluated = evaluate(trained["best"], options=EvalOptions(device="cpu", num_workers=0))
    context, out = evaluated.context, evaluated.run_dir
    assert context["split"] == "val" and context["task"] == "refdet" and context["images"] == 6
    report = json.loads((out / "metrics.json").read_text())
    assert (report["task"], report["split"]) == ("refdet", "val")
    assert report["protocol"]["iou_threshold"] == 0.5
    metrics = report["metrics"]
    assert {"ap50", "ap", "precision", "recall", "f1", "mean_iou"} <= set(metrics)
    # the same weights on the same split as the validation that chose them
    assert metrics["ap50"] == pytest.approx(load_checkpoint(trained["best"])["metrics"]["val_ap50"], abs=1e-6)

    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == PREDICTION_COLUMNS
    images = sorted((root / "val/search/images").iterdir())
    assert len(predictions) == len(images) == 6
    assert sorted(Path(p).name for p in predictions["image"]) == [p.name for p in images]
    for row in predictions.itertuples():  # labels in image pixels (search size = image size here)
        label = read_box(root / "val/search/labels" / f"{Path(row.image).stem}.txt")
        assert row.present == (label is not None)
        if label is not None:
            np.testing.assert_allclose([row.x1, row.y1, row.x2, row.y2], label, atol=1e-3)
    outcomes = predictions["outcome"].value_counts().to_dict()
    assert outcomes.get("TP", 0) == metrics["tp"]
    assert outcomes.get("FP", 0) + outcomes.get("FP+FN", 0) == metrics["fp"]
    assert outcomes.get("FN", 0) + outcomes.get("FP+FN", 0) == metrics["fn"]
    per_object = pd.read_csv(out / "per_clip.csv")
    assert per_object["object"].tolist() == ["obj00", "obj01"] and per_object["images"].tolist() == [3, 3]


def test_cli_eval_on_a_refdet_checkpoint(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["eval", "--weights", str(trained["best"]), "--num-workers", "0",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "AP50" in result.output and "runs/eval/exp" in one_line(result.output).replace(" ", "")
    out = tmp_path / "runs/eval/exp"
    predictions = pd.read_csv(out / "predictions.csv")
    wrong = predictions["outcome"].isin(["FP", "FN"]).sum()
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "per_clip.csv", "predictions.csv",
                                                     "report.html"] + (["worst"] if wrong else [])
    crops = sorted((out / "worst").glob("*.png")) if wrong else []
    assert len(crops) == min(wrong, 12) and all(f"worst/{c.name}" in (out / "report.html").read_text() for c in crops)
    assert json.loads((out / "metrics.json").read_text())["split"] == "val"
    assert len(pd.read_csv(out / "predictions.csv")) == 6
    events = CliRunner().invoke(app, ["eval", "--weights", str(trained["best"]), "--events", "flights",
                                      "--name", "events", "--num-workers", "0", "--device", "cpu"])
    assert events.exit_code != 0 and "--events: for ball models; " in str(events.exception)
    assert not (tmp_path / "runs/eval/events").exists()  # refused before a run directory was made


# ----------------------------------------------------------------------------- predict-video
def write_val_video(root: Path, path: Path) -> tuple[Path, int]:
    images = sorted((root / "val/search/images").iterdir())
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (SPEC.width, SPEC.height))
    assert writer.isOpened()
    for image in images:
        writer.write(cv2.imread(str(image)))
    writer.release()
    return path, len(images)


def decoded_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def test_cli_predict_video_with_templates(trained, data, tmp_path, monkeypatch):
    root, _ = data
    video, count = write_val_video(root, tmp_path / "clip.mp4")
    templates = shutil.copytree(root / "templates/obj00", tmp_path / "obj00")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["predict-video", str(video), "--weights", str(trained["best"]),
                                      "--templates", str(templates), "--overlay", "--device", "cpu",
                                      "--threshold", "0", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "frames with the object" in result.output
    out = tmp_path / "runs/predict/exp"
    assert sorted(p.name for p in out.iterdir()) == ["clip_boxes.csv", "clip_overlay.mp4"]  # no temporaries
    with (out / "clip_boxes.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Frame", "X1", "Y1", "X2", "Y2", "Score"]
    boxes = pd.read_csv(out / "clip_boxes.csv")
    assert boxes["Frame"].tolist() == list(range(count))
    assert boxes[["X1", "Y1", "X2", "Y2", "Score"]].notna().all().all()  # threshold 0: a box every frame
    assert ((boxes["X1"] >= 0) & (boxes["X1"] <= boxes["X2"]) & (boxes["X2"] <= SPEC.width)).all()
    assert ((boxes["Y1"] >= 0) & (boxes["Y1"] <= boxes["Y2"]) & (boxes["Y2"] <= SPEC.height)).all()
    assert boxes["Score"].between(0, 1).all()
    # each row is the predictor's best box on that decoded frame
    frames = decoded_frames(video)
    assert len(frames) == count
    predictor = load_predictor(trained["best"], "cpu", task="refdet", threshold=0.0)
    images = [cv2.imread(str(templates / name)) for name in TEMPLATE_NAMES]
    for index in (0, count - 1):
        found, scores = predictor.predict(images, frames[index])
        row = boxes.loc[index, ["X1", "Y1", "X2", "Y2"]].to_numpy(float)
        np.testing.assert_allclose(row, found[0], atol=0.06)  # the CSV holds 0.1 px
        assert boxes.loc[index, "Score"] == pytest.approx(scores[0], abs=1e-4)
    overlay = decoded_frames(out / "clip_overlay.mp4")
    assert len(overlay) == count and overlay[0].shape == (SPEC.height, SPEC.width, 3)


def test_cli_predict_video_refusals(trained, data, ball_weights, tmp_path, monkeypatch):
    root, _ = data
    video, _ = write_val_video(root, tmp_path / "clip.mp4")
    templates = shutil.copytree(root / "templates/obj01", tmp_path / "obj01")
    (templates / "template_1.jpg").unlink()
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    missing = runner.invoke(app, ["predict-video", str(video), "--weights", str(trained["best"]),
                                  "--templates", str(templates), "--device", "cpu"])
    assert missing.exit_code != 0
    assert f"template {templates / 'template_1.jpg'} is missing" in str(missing.exception)

    no_templates = runner.invoke(app, ["predict-video", str(video), "--weights", str(trained["best"]),
                                       "--device", "cpu"])
    assert no_templates.exit_code != 0
    assert "is a reference-based detector: give the object's templates with --templates" in str(no_templates.exception)

    (templates / "template_1.jpg").write_bytes((templates / "template_0.jpg").read_bytes())  # complete again
    ball = runner.invoke(app, ["predict-video", str(video), "--weights", str(ball_weights),
                               "--templates", str(templates), "--device", "cpu"])
    assert ball.exit_code != 0
    assert "--templates: for reference-based detectors; " in str(ball.exception)
    assert "holds a ball model" in str(ball.exception)
    ball_options = runner.invoke(app, ["predict-video", str(video), "--weights", str(trained["best"]),
                                       "--templates", str(templates), "--plot", "--max-gap", "3", "--device", "cpu"])
    assert ball_options.exit_code != 0
    assert "--plot, --max-gap: for ball models" in str(ball_options.exception)
    assert not (tmp_path / "runs").exists()  # each refusal came before a run directory was made


def test_cli_missing_template_is_one_line_naming_it(trained, data, tmp_path):
    """The installed command's message, without a traceback, and nothing written."""
    root, _ = data
    video, _ = write_val_video(root, tmp_path / "clip.mp4")
    templates = shutil.copytree(root / "templates/obj00", tmp_path / "obj00")
    (templates / "template_2.jpg").unlink()
    result = tracknet("predict-video", str(video), "--weights", str(trained["best"]), "--templates",
                      str(templates), "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 1
    assert f"template {templates / 'template_2.jpg'} is missing" in one_line(result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------------- export
def test_onnx_export_matches_and_predicts_the_same(trained, data, tmp_path):
    root, _ = data
    result = export(trained["best"], tmp_path, "onnx")
    assert result.passed and result.max_diff <= 1e-4 and result.path.name == "convnext_refdet.onnx"
    graph = onnx.load(str(result.path)).graph
    assert [i.name for i in graph.input] == ["templates", "search"]
    assert [o.name for o in graph.output] == ["objectness", "boxes"]
    for value in (*graph.input, *graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch", value.name
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]] == [3, 3, 64, 64]
    assert [d.dim_value for d in graph.input[1].type.tensor_type.shape.dim[1:]] == [3, 96, 128]
    props = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    meta = json.loads(props[ONNX_METADATA_KEY])
    assert meta["task"] == "refdet" and meta["search_size"] == [128, 96] and meta["template_size"] == [64, 64]
    assert meta["inputs"] == ["templates", "search"] and meta["outputs"] == ["objectness", "boxes"]

    templates = [cv2.imread(str(root / "templates/obj01" / name)) for name in TEMPLATE_NAMES]
    image = cv2.imread(str(root / "val/search/images/obj01_frame_0001.jpg"))
    answers = []
    for weights in (trained["best"], result.path):
        predictor = load_predictor(weights, "cpu", task="refdet", threshold=0.0)
        answers.append(predictor.predict(templates, image))
    (torch_boxes, torch_scores), (onnx_boxes, onnx_scores) = answers
    assert len(torch_boxes) > 0 and torch_boxes.shape == onnx_boxes.shape
    np.testing.assert_allclose(onnx_boxes, torch_boxes, atol=1e-3)
    np.testing.assert_allclose(onnx_scores, torch_scores, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")  # we read the TorchScript export on purpose
def test_torchscript_export_matches_eager(trained, tmp_path):
    result = export(trained["best"], tmp_path, "torchscript")
    assert result.passed and result.max_diff <= 1e-4 and result.path.name == "convnext_refdet.torchscript.pt"
    loaded = torch.jit.load(str(result.path))
    model, _, _ = load_model(trained["best"])
    templates, search = torch.randn(3, 3, 3, 64, 64), torch.randn(3, 3, 96, 128)  # another batch size
    with torch.no_grad():
        objectness, boxes = loaded(templates, search)
        expected = model(templates, search)
    torch.testing.assert_close(objectness, expected["objectness"], atol=1e-4, rtol=0)
    torch.testing.assert_close(boxes, expected["boxes"], atol=1e-4, rtol=0)


def test_each_predictor_refuses_the_other_tasks_checkpoint(ball_weights, trained):
    with pytest.raises(TracknetError, match="a ball model, not a reference-based detector"):
        load_predictor(ball_weights, "cpu", task="refdet")
    with pytest.raises(TracknetError, match="'convnext_refdet', a reference-based detector, not a ball model"):
        load_predictor(trained["best"], "cpu", task="heatmap")


# --- training augmentation -----------------------------------------------------------------------

def one_object_layout(root: Path, box=(40, 30, 72, 50), size=(128, 96)) -> Path:
    """A layout with one search image: a red rectangle at `box` (pixel edges) on a gradient, and three
    templates that are red on their left half only, so a mirrored template is told apart."""
    template = np.full((64, 64, 3), 128, np.uint8)
    template[:, :32] = (0, 0, 255)
    (root / "templates/obj").mkdir(parents=True)
    for name in TEMPLATE_NAMES:
        cv2.imwrite(str(root / "templates/obj" / name), template)
    ys, xs = np.mgrid[:size[1], :size[0]]
    image = np.stack([xs * 255 // size[0], 100 + ys * 100 // size[1], np.full_like(xs, 128)], -1).astype(np.uint8)
    image[box[1]:box[3], box[0]:box[2]] = (0, 0, 255)  # on a gradient, so every crop of it differs
    for folder in ("images", "labels"):
        (root / "train/search" / folder).mkdir(parents=True)
    cv2.imwrite(str(root / "train/search/images/obj_frame_0000.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 100])
    (root / "train/search/labels/obj_frame_0000.txt").write_text(" ".join(map(str, box)) + "\n")
    return root


def red_mask(normalised: torch.Tensor, dataset) -> np.ndarray:
    rgb = normalised.numpy().transpose(1, 2, 0) * np.array(dataset.std) * 255 + np.array(dataset.mean) * 255
    return (rgb[..., 0] > 200) & (rgb[..., 1] < 80)


def test_augmented_box_follows_the_object_and_a_flip_mirrors_the_templates(tmp_path):
    report = scan_refdet(one_object_layout(tmp_path / "one"))
    augment = AugmentConfig(hflip=0.5, scale=[0.8, 1.25], translate=0.1)
    augment.color_jitter.p = augment.motion_blur.p = 0.0  # keep the red exact for the check
    dataset = RefdetDataset(report, "train", (128, 96), (64, 64), augment=augment, seed=1)
    plain = RefdetDataset(report, "train", (128, 96), (64, 64))[0]
    flips = 0
    for epoch in range(12):
        dataset.set_epoch(epoch)
        sample = dataset[0]
        ys, xs = np.nonzero(red_mask(sample["search"], dataset))
        assert sample["present"]  # the object is large and central: never pushed out here
        np.testing.assert_allclose(sample["box"].numpy(), [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=1.5)
        mirrored = torch.equal(sample["templates"], plain["templates"].flip(-1))
        assert mirrored or torch.equal(sample["templates"], plain["templates"])
        drawn = sample_transform(augment, (128, 96), np.random.default_rng([1, epoch, 0]))  # the sample's draw
        assert mirrored == drawn.flip
        flips += mirrored
    assert 0 < flips < 12  # both draws happen


def test_an_object_pushed_out_of_the_frame_becomes_absent(tmp_path):
    box = np.array([40.0, 30.0, 72.0, 50.0])
    inside = FrameTransform((128, 96), Window(20, 10, 128, 96))  # a shift: the box moves by (-20, -10)
    np.testing.assert_allclose(_mapped_box(inside, box), [20, 20, 52, 40], atol=1e-9)
    mostly_out = FrameTransform((128, 96), Window(66, 0, 128, 96))  # 6 of 32 px stay: under a quarter
    assert _mapped_box(mostly_out, box) is None
    partly_out = FrameTransform((128, 96), Window(50, 0, 128, 96))  # 22 of 32 px stay: clipped
    np.testing.assert_allclose(_mapped_box(partly_out, box), [0, 30, 22, 50], atol=1e-9)


def test_training_patches_are_crops_with_their_box_and_mostly_over_the_object(tmp_path):
    report = scan_refdet(one_object_layout(tmp_path / "one", box=(72, 30, 104, 50), size=(160, 96)))
    augment = AugmentConfig(hflip=0.0, scale=[1.0, 1.0], translate=0.0)
    augment.color_jitter.p = augment.motion_blur.p = 0.0
    patch = PatchConfig(size=[64, 64], ball_fraction=0.5)
    dataset = RefdetDataset(report, "train", (160, 96), (64, 64), augment=augment, patch=patch, seed=2)
    whole = RefdetDataset(report, "train", (160, 96), (64, 64))[0]["search"]
    over = 0
    for epoch in range(40):
        dataset.set_epoch(epoch)
        sample = dataset[0]
        assert sample["search"].shape == (3, 64, 64)
        # the patch is a crop of the whole image at an origin that is a multiple of 32
        origins = [(x, y) for y in range(0, 33, 32) for x in range(0, 97, 32)
                   if torch.equal(whole[:, y:y + 64, x:x + 64], sample["search"])]
        assert len(origins) == 1
        x, y = origins[0]
        if sample["present"]:
            expected = np.clip(np.array([72 - x, 30 - y, 104 - x, 50 - y], float), 0, 64)
            np.testing.assert_allclose(sample["box"].numpy(), expected, atol=1e-4)
            over += 1
        else:  # under a quarter of the object is in this patch
            seen = max(0, min(104 - x, 64) - max(72 - x, 0)) * max(0, min(50 - y, 64) - max(30 - y, 0))
            assert seen < 0.25 * 32 * 20
    assert 20 <= over < 40  # half the patches are placed over it, some of the rest find it too


def test_refdet_patch_size_is_checked_against_the_search_size(data):
    _, data_yaml = data
    with pytest.raises(ConfigError, match=r"training.patch.size: expected \[W, H\] within the input size \[128, 96\]"):
        tiny_config(data_yaml, "training.patch.size=[100,64]")
    assert list(tiny_config(data_yaml, "training.patch.size=[64,64]").training.patch.size) == [64, 64]


def test_two_processes_train_a_refdet_model(data, tmp_path):
    """The FPN's coarsest level (return_stages [1,2,3], as shipped) only feeds the finer ones: every
    parameter gets a gradient, as data-parallel training requires (it failed on the second step
    when that level was refined and the refinement left unused)."""
    from tracknet_cli.training.launch import train

    _, data_yaml = data
    cfg = tiny_config(data_yaml, "model.backbone.return_stages=[1,2,3]", "training.epochs=1")
    train(task_of(cfg), cfg, tmp_path / "two", devices=2)
    assert load_checkpoint(tmp_path / "two/weights/last.pt")["step"] == 3  # 12 images, batches of 4
    assert pd.read_csv(tmp_path / "two/results.csv")["epoch"].tolist() == [1]
