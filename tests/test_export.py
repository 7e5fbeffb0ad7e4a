"""Export: ONNX and TorchScript of every registered model checked against PyTorch, metadata, fp16,
bad files refused by name, and ONNX files running in eval and predict-video."""

import json

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import fixture_path
from tracknet_cli import __version__
from tracknet_cli.benchmark import BenchmarkSettings, benchmark_models
from tracknet_cli.cli.app import app
from tracknet_cli.commands.predict import predict_video as run_on_videos
from tracknet_cli.config import to_container
from tracknet_cli.errors import DataError, TracknetError
from tracknet_cli.export import export
from tracknet_cli.inference.video_prediction import VideoOptions, predict_video
from tracknet_cli.tasks import available_models, build_model, load_config
from tracknet_cli.training.checkpoint import save_checkpoint
from tracknet_cli.weights import ONNX_METADATA_KEY, OnnxModel, load_predictor, load_weights

SMALL = ["model.backbone.use_pretrained=false", "model.input_size=[128,64]", "model.heatmap.size=[64,32]"]
PER_MODEL = {  # CPU-sized versions of the registered architectures
    "vit_heatmap": ["model.backbone.preset=tiny"],
    "convnext_fpn_heatmap": ["model.backbone.preset=tiny", "model.decoder.lateral_dim=32"],
    "convnext_deformable_fpn_heatmap": ["model.backbone.preset=tiny", "model.decoder.d_model=32",
                                        "model.decoder.n_heads=4", "model.decoder.num_encoder_layers=1",
                                        "model.decoder.ffn_dim=64", "model.decoder.lateral_dim=32"],
    "fast_heatmap": [],
}


def small_checkpoint(folder, name, *extra):
    torch.manual_seed(0)
    cfg = load_config(model=name, overrides=SMALL + PER_MODEL.get(name, []) + list(extra))
    return save_checkpoint(folder / f"{name}.pt", model=build_model(cfg.model), config=to_container(cfg),
                           epoch=3, step=30), cfg


@pytest.mark.parametrize("name", available_models("heatmap"))
def test_every_model_exports_to_onnx_within_tolerance(name, tmp_path):
    weights, cfg = small_checkpoint(tmp_path, name)
    result = export(weights, tmp_path / "out", "onnx")
    assert result.passed and result.max_diff <= 1e-4 and result.path.name == f"{name}.onnx"
    graph = onnx.load(str(result.path))
    assert graph.opset_import[0].version >= 17
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # dynamic batch
    meta = json.loads({p.key: p.value for p in graph.metadata_props}[ONNX_METADATA_KEY])
    assert meta["model"] == name and meta["frames"] == 3 and meta["output_frames"] == cfg.model.output_frames
    assert meta["input_size"] == [128, 64] and meta["heatmap_size"] == [64, 32]
    assert meta["mean"] == list(cfg.model.mean) and meta["version"] == __version__


@pytest.mark.parametrize("name", ["fast_heatmap", "convnext_deformable_fpn_heatmap"])
def test_torchscript_matches_eager(name, tmp_path):
    weights, _ = small_checkpoint(tmp_path, name)
    result = export(weights, tmp_path / "out", "torchscript")
    assert result.passed and result.max_diff <= 1e-5 and result.path.suffixes == [".torchscript", ".pt"]


def test_half_onnx_validates_at_its_tolerance(tmp_path):
    weights, _ = small_checkpoint(tmp_path, "fast_heatmap")
    result = export(weights, tmp_path / "out", "onnx", half=True)
    assert result.passed and 0 < result.max_diff <= 1e-2 and result.path.name == "fast_heatmap_fp16.onnx"
    fp32 = export(weights, tmp_path / "out", "onnx")
    assert result.size_bytes < 0.6 * fp32.size_bytes


def test_bad_arguments_and_files_are_refused(tmp_path):
    weights, _ = small_checkpoint(tmp_path, "fast_heatmap")
    with pytest.raises(TracknetError, match="opset 16: 17 or newer"):
        export(weights, tmp_path, "onnx", opset=16)
    with pytest.raises(TracknetError, match="'tflite' is not one of onnx, torchscript"):
        export(weights, tmp_path, "tflite")
    stranger = tmp_path / "stranger.onnx"
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])]),
        opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8), str(stranger))
    with pytest.raises(DataError, match="stranger.onnx is an ONNX model but not a tracknet export"):
        load_weights(stranger)
    good = export(weights, tmp_path / "out", "onnx").path
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(DataError, match="cut.onnx is not a readable ONNX model"):
        load_weights(cut)
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a tracknet checkpoint"):
        export(tmp_path / "other.pt", tmp_path, "onnx")


def test_onnx_weights_in_predict_video_give_the_checkpoint_track(tmp_path):
    weights, _ = small_checkpoint(tmp_path, "fast_heatmap", "model.input_size=[128,72]", "model.heatmap.size=[64,36]")
    onnx_path = export(weights, tmp_path / "out", "onnx").path
    video = fixture_path("videos/tennis_broadcast_1080p.mp4")
    tracks = []
    for path in (weights, onnx_path):
        predictor = load_predictor(path, "cpu", threshold=0.0)
        tracks.append(pd.read_csv(predict_video(video, predictor, tmp_path / path.suffix[1:],
                                                VideoOptions(batch_size=8)).csv))
    assert isinstance(load_predictor(onnx_path, "cpu").model, OnnxModel)
    with pytest.raises(TracknetError, match="is an ONNX export, fixed at the 128x72 it was exported at"):
        run_on_videos(video, onnx_path, "cpu", VideoOptions(input_size=(256, 144)), name="onnx_bigger")
    with pytest.raises(TracknetError, match=f"{onnx_path} is an ONNX export, fixed at the 128x72"):
        load_predictor(onnx_path, "cpu", input_size=(256, 144))  # the library's way in refuses it too
    assert (tracks[0]["Visibility"] == tracks[1]["Visibility"]).all()
    assert np.abs(tracks[0][["X", "Y"]].to_numpy() - tracks[1][["X", "Y"]].to_numpy()).max() <= 0.5


def test_cli_export_prints_size_and_check(tmp_path, monkeypatch):
    weights, _ = small_checkpoint(tmp_path, "fast_heatmap")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    assert "MiB" in result.output and "passed: max |difference|" in result.output
    assert (tmp_path / "runs/export/exp/fast_heatmap.onnx").is_file()


def test_cli_benchmark_prints_and_writes_both_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["benchmark", "--models", "fast_heatmap", "--device", "cpu", "--input", "64x128", "--batch", "1,2",
            "--repeats", "1", "--backends", "eager,onnxruntime"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "fast_heatmap" in result.output and "onnxruntime" in result.output  # whole, not folded at 80
    assert "peak MB" in result.output
    table = pd.read_csv(tmp_path / "runs/benchmark/exp/benchmark.csv")
    assert table["backend"].tolist() == ["eager", "onnxruntime"] and (table["status"] == "ok").all()
    assert (table["throughput_fps"] > 0).all() and (table["params_m"] == 0.48).all()
    saved = json.loads((tmp_path / "runs/benchmark/exp/benchmark.json").read_text())
    assert saved["settings"]["input_hw"] == [64, 128] and len(saved["models"]) == 2
    slow = CliRunner().invoke(app, args[:-2] + ["--floor", "1e9"])
    assert slow.exit_code == 1 and "Below the floor" in slow.output
    bad = CliRunner().invoke(app, ["benchmark", "--input", "288by512"])
    assert bad.exit_code == 2 and "HEIGHTxWIDTH" in bad.output


def test_benchmark_times_a_refdet_model_on_its_search_image_and_templates():
    settings = BenchmarkSettings(models=["fast_refdet"], device="cpu", input_hw=(64, 128), batches=(1, 2),
                                 backends=("eager", "onnxruntime"), repeats=1)
    rows = benchmark_models(settings)
    assert [row["backend"] for row in rows] == ["eager", "onnxruntime"]
    assert all(row["status"] == "ok" and row["throughput_fps"] > 0 for row in rows), rows
    cfg = load_config("refdet_synthetic", "fast_refdet", overrides=["model.backbone.use_pretrained=false"])
    assert rows[0]["params_m"] == round(sum(p.numel() for p in build_model(cfg.model).parameters()) / 1e6, 2)
    # --input sets the search image; the templates' share of the cost stays, so 4x the pixels is < 4x
    settings.input_hw, settings.backends = (128, 256), ("eager",)
    larger = benchmark_models(settings)[0]
    assert 2.5 < larger["gmacs_per_frame"] / rows[0]["gmacs_per_frame"] < 4.0


@pytest.mark.parametrize("frames", [1, 5])
def test_benchmark_takes_any_window_length(frames):
    settings = BenchmarkSettings(models=["fast_heatmap"], device="cpu", input_hw=(64, 128), frames=frames,
                                 batches=(1,), repeats=1)
    row = benchmark_models(settings)[0]
    assert row["status"] == "ok" and row["throughput_fps"] > 0, row


def test_eval_refuses_attention_maps_of_a_model_without_them_before_scoring(tmp_path, monkeypatch):
    from tracknet_cli.commands.evaluate import evaluate
    from tracknet_cli.evaluation.run import EvalOptions

    weights, _ = small_checkpoint(tmp_path, "fast_heatmap")
    monkeypatch.chdir(tmp_path)
    started = []
    with pytest.raises(TracknetError, match="deformable encoder.*FPNDecoder"):
        evaluate(weights, data=str(tmp_path / "never_read.yaml"), options=EvalOptions(attention_maps=2),
                 on_start=started.append)
    assert started == [] and not (tmp_path / "runs").exists()  # refused before any data was read or scored


def test_peak_memory_measures_a_block_and_gives_up_quietly_without_proc(monkeypatch):
    import tracknet_cli.timing as timing

    with timing.PeakMemory("cpu") as block:
        np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, touched, then freed
    assert 60 <= block.peak_mb < 200

    def read_only(self, *args, **kwargs):
        raise PermissionError(f"{self}: read-only file system")

    monkeypatch.setattr(timing.Path, "write_text", read_only)
    with timing.PeakMemory("cpu") as unmeasured:
        np.ones(2**20, dtype=np.uint8)
    assert unmeasured.peak_mb is None
