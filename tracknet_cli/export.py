"""`tracknet export`: a training checkpoint as a deployable ONNX or TorchScript file, checked.

A heatmap model's graph takes normalised frames [B, T, 3, H, W] float32 (B dynamic) and returns
heatmap logits [B, T_out, H / s, W / s]. A reference-based detector's takes `templates`
[B, 3, 3, th, tw] and `search` [B, 3, H, W] and returns `objectness` logits [B, H / 4, W / 4] and
`boxes` [B, 4, H / 4, W / 4] (x1, y1, x2, y2 in search pixels). An ONNX file carries what a
consumer needs in its metadata (model name, task, sizes, mean and std, package version, and the
resolved config), so `predict-video` and `eval` run it without a config. Every export is checked
against the PyTorch model on a random batch before it is kept.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from tracknet_cli import __version__
from tracknet_cli.config import to_container
from tracknet_cli.errors import TracknetError, describe
from tracknet_cli.fileio import atomic_path
from tracknet_cli.tasks import task_of
from tracknet_cli.weights import ONNX_METADATA_KEY, load_model, onnx_session

FORMATS = ("onnx", "torchscript")
# max |exported - PyTorch| per output, over max(1, its largest |value|): an output within +-1 is
# compared as it is, a larger one relative to its size, as float32's steps grow with it (logits of
# a trained model reach -15, box corners hundreds of pixels)
TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2}


@dataclass
class ExportResult:
    path: Path
    format: str
    size_bytes: int
    max_diff: float | None  # the check's difference (see TOLERANCE); None when it was skipped
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_diff is None or self.max_diff <= self.tolerance


def export(weights: str | Path, out_dir: str | Path, fmt: str = "onnx", opset: int = 17,
           half: bool = False, check: bool = True, batch: int = 2) -> ExportResult:
    """Export the checkpoint `weights` into `out_dir`, named after its model."""
    check_export_options(fmt, opset, half)
    model, cfg, _ = load_model(weights, "cpu")
    model = traceable(model, cfg)
    example = example_input(cfg, batch)
    suffix = {"onnx": "_fp16.onnx" if half else ".onnx", "torchscript": ".torchscript.pt"}[fmt]
    path = Path(out_dir) / f"{cfg.model.name}{suffix}"
    with atomic_path(path) as tmp:
        try:
            if fmt == "onnx":
                write_onnx(model, cfg, example, tmp, opset, half)
                diff = _check_onnx(tmp, model, example, half) if check else None
            else:
                _write_torchscript(model, example, tmp)
                diff = _check_torchscript(tmp, model, example) if check else None
        except TracknetError:
            raise
        except Exception as exc:  # the exporter's or the runtime's own errors, in one line
            raise TracknetError(f"the {fmt} export of {cfg.model.name} failed; nothing was written: "
                                f"{describe(exc, 300)}") from None
        result = ExportResult(path, fmt, tmp.stat().st_size, diff, TOLERANCE["fp16" if half else "fp32"])
        if not result.passed:
            raise TracknetError(f"the {fmt} export of {cfg.model.name} differs from PyTorch by {diff:.3g} "
                                f"(tolerance {result.tolerance:g}); nothing was written")
    return result


def check_export_options(fmt: str, opset: int, half: bool) -> None:
    if fmt not in FORMATS:
        raise TracknetError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if opset < 17:
        raise TracknetError(f"--opset {opset}: 17 or newer is needed (GridSample, LayerNormalization)")
    if half and fmt != "onnx":
        raise TracknetError("--half is for ONNX exports")


def graph_schema(cfg: DictConfig) -> type:
    """The schema of a config's model section (or of the section itself): it knows the model's
    graph (inputs, outputs, example input)."""
    return task_of(cfg).model_schema


def traceable(model: torch.nn.Module, cfg: DictConfig) -> torch.nn.Module:
    """The model as an exporter can trace it: outputs as a tuple in the graph's output order."""
    return _TupleOutputs(model, graph_schema(cfg).outputs)


class _TupleOutputs(torch.nn.Module):
    """A model seen as returning the tuple of its outputs `names` (what tracing exports): a dict of
    outputs (a detector's) is ordered by name, a lone tensor passes through."""

    def __init__(self, model: torch.nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names
        # in the wrapped model's mode: the exporter puts the wrapper back in its own mode afterwards,
        # and a wrapper left in training mode would switch BatchNorm to batch statistics
        self.train(model.training)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        outputs = self.model(*inputs)
        return tuple(outputs[name] for name in self.names) if isinstance(outputs, dict) else outputs


def example_input(cfg: DictConfig, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """Random inputs of the model's shapes, one tensor per graph input (seeded: the same every call)."""
    return graph_schema(cfg).example_input(cfg.model, batch, torch.Generator().manual_seed(0))


def metadata(cfg: DictConfig) -> dict:
    """What an ONNX file carries: how to feed it, and the config that rebuilds the model."""
    model, schema = cfg.model, graph_schema(cfg)
    return {"model": model.name, "task": model.task, "mean": list(model.mean), "std": list(model.std),
            "inputs": list(schema.inputs), "outputs": list(schema.outputs), "version": __version__,
            "config": to_container(cfg), **schema.graph_metadata(model)}


def write_onnx(model: torch.nn.Module, cfg: DictConfig, example: tuple[torch.Tensor, ...], path: Path,
               opset: int, half: bool) -> None:
    import onnx

    inputs, outputs = graph_schema(cfg).inputs, graph_schema(cfg).outputs
    with warnings.catch_warnings():  # tracer notes on shape arithmetic that is constant per size
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, str(path), input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes={name: {0: "batch"} for name in inputs + outputs},
                          opset_version=opset, dynamo=False)
    graph = onnx.load(str(path))
    if half:
        graph = _to_fp16(graph)
    entry = graph.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(metadata(cfg))
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


def _check_onnx(path: Path, model: torch.nn.Module, example: tuple[torch.Tensor, ...], half: bool) -> float:
    session = onnx_session(path, "cpu")
    batch = _check_batch(example)
    exported = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), batch)})
    with torch.no_grad():
        expected = _as_tuple(model(*batch))
    return max(_difference(torch.from_numpy(e).float(), x) for e, x in zip(exported, expected))


def _write_torchscript(model: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example, check_trace=False)
    traced.save(str(path))


def _check_torchscript(path: Path, model: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> float:
    with warnings.catch_warnings():  # TorchScript's deprecation notice: we export it on purpose
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path), map_location="cpu")
    batch = _check_batch(example)
    with torch.no_grad():
        return max(_difference(a, b) for a, b in zip(_as_tuple(loaded(*batch)), _as_tuple(model(*batch))))


def _check_batch(example: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Twice the export's batch: a batch axis fixed by the trace would fail here."""
    return tuple(torch.cat([tensor, tensor.flip(0)]) for tensor in example)


def _difference(exported: torch.Tensor, expected: torch.Tensor) -> float:
    """max |exported - expected| over max(1, max |expected|): see TOLERANCE."""
    return float((exported - expected).abs().max() / expected.abs().max().clamp(min=1.0))


def _as_tuple(outputs) -> tuple[torch.Tensor, ...]:
    return outputs if isinstance(outputs, tuple) else (outputs,)
