"""`tracknet export`: a training checkpoint as a deployable ONNX or TorchScript file, checked.

The exported graph takes normalised frames [B, T, 3, H, W] float32 (B dynamic) and returns
heatmap logits [B, T_out, H / s, W / s]. An ONNX file carries what a consumer needs in its
metadata (model name, T, T_out, input and heatmap size, mean and std, package version, and the
resolved config), so `predict-video` and `eval` run it without a config. Every export is checked
against the PyTorch model on a random batch before it is kept.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from tracknet_cli import __version__
from tracknet_cli.config import from_container, to_container
from tracknet_cli.errors import DataError, TracknetError
from tracknet_cli.fileio import atomic_path
from tracknet_cli.training.checkpoint import load_model

FORMATS = ("onnx", "torchscript")
METADATA_KEY = "tracknet"  # one metadata_props entry holding the JSON below
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2}  # max |exported - PyTorch| on logits


@dataclass
class ExportResult:
    path: Path
    format: str
    size_bytes: int
    max_abs_diff: float | None  # None when the check was skipped
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff is None or self.max_abs_diff <= self.tolerance


def export(weights: str | Path, out_dir: str | Path, fmt: str = "onnx", opset: int = 17,
           half: bool = False, check: bool = True, batch: int = 2) -> ExportResult:
    """Export the checkpoint `weights` into `out_dir`, named after its model."""
    if fmt not in FORMATS:
        raise TracknetError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if opset < 17:
        raise TracknetError(f"--opset {opset}: 17 or newer is needed (GridSample, LayerNormalization)")
    if half and fmt != "onnx":
        raise TracknetError("--half is for ONNX exports")
    model, cfg, _ = load_model(weights, "cpu")
    example = example_input(cfg, batch)
    suffix = {"onnx": "_fp16.onnx" if half else ".onnx", "torchscript": ".torchscript.pt"}[fmt]
    path = Path(out_dir) / f"{cfg.model.name}{suffix}"
    with atomic_path(path) as tmp:
        if fmt == "onnx":
            write_onnx(model, cfg, example, tmp, opset, half)
            diff = _check_onnx(tmp, model, example, half) if check else None
        else:
            _write_torchscript(model, example, tmp)
            diff = _check_torchscript(tmp, model, example) if check else None
        result = ExportResult(path, fmt, tmp.stat().st_size, diff, TOLERANCE["fp16" if half else "fp32"])
        if not result.passed:
            raise TracknetError(f"the {fmt} export of {cfg.model.name} differs from PyTorch by {diff:.3g} "
                                f"(tolerance {result.tolerance:g}); nothing was written")
    return result


def example_input(cfg: DictConfig, batch: int = 2) -> torch.Tensor:
    width, height = cfg.model.input_size
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, int(cfg.model.frames), 3, height, width, generator=generator)


def metadata(cfg: DictConfig) -> dict:
    model = cfg.model
    return {"model": model.name, "frames": int(model.frames), "output_frames": int(model.output_frames),
            "input_size": list(model.input_size), "heatmap_size": list(model.heatmap.size),
            "mean": list(model.mean), "std": list(model.std), "output": "logits",
            "version": __version__, "config": to_container(cfg)}


def write_onnx(model: torch.nn.Module, cfg: DictConfig, example: torch.Tensor, path: Path,
                opset: int, half: bool) -> None:
    import onnx

    with warnings.catch_warnings():  # tracer notes on shape arithmetic that is constant per size
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["frames"], output_names=["logits"],
                          dynamic_axes={"frames": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    graph = onnx.load(str(path))
    if half:
        graph = _to_fp16(graph)
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata(cfg))
    onnx.save(graph, str(path))


def _to_fp16(graph):
    """fp16 weights and activations with fp32 inputs and outputs (casts at the edges)."""
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise TracknetError("--half needs the onnxconverter-common package "
                            "(uv add onnxconverter-common)") from None
    with warnings.catch_warnings():  # a note per weight below fp16's range, rounded as expected
        warnings.simplefilter("ignore")
        return float16.convert_float_to_float16(graph, keep_io_types=True)


def _check_onnx(path: Path, model: torch.nn.Module, example: torch.Tensor, half: bool) -> float:
    session = onnx_session(path, "cpu")
    batch = _check_batch(example)
    (exported,) = session.run(None, {"frames": batch.numpy()})
    with torch.no_grad():
        expected = model(batch).numpy()
    return float(np.abs(exported.astype(np.float32) - expected).max())


def _write_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (example,), check_trace=False)
    traced.save(str(path))


def _check_torchscript(path: Path, model: torch.nn.Module, example: torch.Tensor) -> float:
    with warnings.catch_warnings():  # TorchScript's deprecation notice: we export it on purpose
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path), map_location="cpu")
    batch = _check_batch(example)
    with torch.no_grad():
        return float((loaded(batch) - model(batch)).abs().max())


def _check_batch(example: torch.Tensor) -> torch.Tensor:
    """Twice the export's batch: a batch axis fixed by the trace would fail here."""
    return torch.cat([example, example.flip(0)])


# ------------------------------------------------------------------------------- running ONNX
def onnx_session(path: str | Path, device: str = "cpu"):
    """An onnxruntime session on CUDA where its provider is installed and asked for, else CPU."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
        raise DataError(f"{path} is not a readable ONNX model: {str(exc).splitlines()[0][:200]}") from None


class OnnxModel(torch.nn.Module):
    """An exported model run by onnxruntime behind the PyTorch model's interface:
    `model(frames [B, T, 3, H, W] float) -> logits [B, T_out, Hh, Wh]`, so evaluation and video
    prediction use one code path for both."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        super().__init__()
        self.path = Path(path)
        self.session = onnx_session(path, device)
        props = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in props:
            raise DataError(f"{path} is an ONNX model but not a tracknet export (no '{METADATA_KEY}' "
                            "metadata); export checkpoints with `tracknet export`")
        self.metadata = json.loads(props[METADATA_KEY])

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        (logits,) = self.session.run(None, {"frames": frames.detach().float().cpu().numpy()})
        return torch.from_numpy(logits).to(frames.device)


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, DictConfig, dict]:
    """(model, config, checkpoint-like info) from a training checkpoint or an ONNX export."""
    if not Path(path).is_file():
        raise DataError(f"weights {path} do not exist")
    if Path(path).suffix.lower() != ".onnx":
        return load_model(path, device)
    model = OnnxModel(path, "cpu" if torch.device(device).type == "cpu" else "cuda")
    cfg = from_container(model.metadata["config"])
    cfg.training.amp = False  # onnxruntime runs the graph in the precision it was exported in
    return model, cfg, {"epoch": None, "format": "onnx", "version": model.metadata["version"]}
