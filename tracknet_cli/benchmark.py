"""`tracknet benchmark`: one table of every model's size and speed per backend.

Per model (random weights, its registered architecture at the chosen input size and T) and
backend (eager PyTorch, `torch.compile`, onnxruntime on an export): status, parameters, GMACs per
output frame, latency in ms per frame at batch 1, throughput in frames/s at the largest batch, and
the peak memory of that largest batch. A reference-based detector's frame is one search image of
the input size with its three templates (the whole graph `export` writes, templates included).
Warm-up runs are excluded; times are medians. On CUDA the PyTorch backends run under bf16 autocast.
`--kernels` adds the multi-scale deformable attention op at the encoder's shapes for the input size.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tracknet_cli.devices import autocast, autocast_dtype, select_device
from tracknet_cli.errors import describe
from tracknet_cli.export import example_input, graph_schema, traceable, write_onnx
from tracknet_cli.tasks import available_models, load_config, task_of
from tracknet_cli.timing import PeakMemory, median_ms
from tracknet_cli.weights import onnx_session

BACKENDS = ("eager", "compile", "onnxruntime")
COLUMNS = ["model", "backend", "status", "params_m", "gmacs_per_frame", "latency_ms_b1",
           "throughput_fps", "peak_mb"]


@dataclass
class BenchmarkSettings:
    models: list[str] = field(default_factory=available_models)
    device: str = "auto"
    input_hw: tuple[int, int] = (288, 512)  # a refdet model's search image
    frames: int = 3  # T of the heatmap models
    batches: tuple[int, ...] = (1, 8)
    backends: tuple[str, ...] = ("eager",)
    repeats: int = 5


def benchmark_models(settings: BenchmarkSettings, on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """A row per model and backend (see COLUMNS); a backend that fails is a row that says so."""
    unknown = sorted(set(settings.backends) - set(BACKENDS))
    if unknown:
        raise ValueError(f"--backends {unknown} not among {', '.join(BACKENDS)}")
    device = select_device(settings.device)
    rows = []
    for name in settings.models:
        cfg = _config(name, settings)
        model = task_of(cfg).build_model(cfg.model).eval()
        size = {"params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                "gmacs_per_frame": round(gmacs_per_forward(model, example_input(cfg, 1))
                                         / frames_per_forward(cfg), 2)}
        model = model.to(device)
        for backend in settings.backends:
            row = {"model": name, "backend": backend, **size, **_measure(model, cfg, backend, device, settings)}
            rows.append(row)
            if on_row:
                on_row(row)
    return rows


def _config(name: str, settings: BenchmarkSettings):
    """The registered model `name` at the benchmark's input size (and T), with random weights."""
    random_init = ["model.backbone.use_pretrained=false"]
    model = load_config(model=name, overrides=random_init).model
    height, width = settings.input_hw
    resized = graph_schema(model).resized(model, width, height, settings.frames)
    return load_config(model=name, overrides=random_init + resized)


def frames_per_forward(cfg) -> int:
    """Output frames of one batch row: T_out for a heatmap model, one search image for refdet."""
    return graph_schema(cfg).frames_per_row(cfg.model)


def gmacs_per_forward(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> float:
    """Multiply-adds (G) of one forward of a CPU model on `inputs`, by torch's FLOP counter (2 FLOPs each)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(*inputs)
    return counter.get_total_flops() / 2 / 1e9


def _measure(model: torch.nn.Module, cfg, backend: str, device: torch.device, settings: BenchmarkSettings) -> dict:
    try:
        run = _runner(model, cfg, backend, device, settings)
    except Exception as exc:  # a model a backend cannot take is a result, not a crash
        return {"status": f"export failed: {describe(exc, 120)}"}
    out_frames = frames_per_forward(cfg)
    largest = max(settings.batches)
    try:
        inputs = {b: tuple(t.to(device) for t in example_input(cfg, b)) for b in (1, largest)}
        latency = median_ms(lambda: run(*inputs[1]), device, settings.repeats) / out_frames
        run(*inputs[largest])  # warm-up at this shape before the memory and time are taken
        with PeakMemory(device) as peak:
            run(*inputs[largest])
        batch_ms = median_ms(lambda: run(*inputs[largest]), device, settings.repeats)
    except Exception as exc:
        return {"status": f"run failed: {describe(exc, 120)}"}
    return {"status": "ok", "latency_ms_b1": round(latency, 2),
            "throughput_fps": round(largest * out_frames / batch_ms * 1000, 1), "peak_mb": peak.peak_mb}


def _runner(model: torch.nn.Module, cfg, backend: str, device: torch.device,
            settings: BenchmarkSettings) -> Callable[..., object]:
    if backend == "onnxruntime":
        return _onnx_runner(model, cfg, device)
    net = torch.compile(model) if backend == "compile" else model
    dtype = autocast_dtype(device, True)

    def run(*inputs: torch.Tensor):
        with torch.inference_mode(), autocast(device, dtype):
            return net(*inputs)

    return run


def _onnx_runner(model: torch.nn.Module, cfg, device: torch.device) -> Callable[..., object]:
    try:
        with tempfile.TemporaryDirectory(prefix="tracknet-benchmark-") as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = Path(folder) / f"{cfg.model.name}.onnx"
            write_onnx(traceable(model.cpu(), cfg), cfg, example_input(cfg, 1), path, 17, False)
            session = onnx_session(path, device.type)  # holds the graph: the file may go
    finally:  # the other backends run the model where it was, whether or not the export worked
        model.to(device)
    names = graph_schema(cfg).inputs
    return lambda *inputs: session.run(None, {name: t.cpu().numpy() for name, t in zip(names, inputs)})


def kernel_rows(settings: BenchmarkSettings, batch: int = 8) -> list[dict]:
    """The deformable attention op at the deformable model's encoder shapes for this input (ConvNeXt
    strides 4-32), per implementation: fp32, and bf16 on CUDA."""
    from tracknet_cli.ops.ms_deform_attn.speed import IMPLEMENTATIONS, speed

    device = select_device(settings.device)
    height, width = settings.input_hw
    levels = tuple((height // s, width // s) for s in (4, 8, 16, 32))
    label = f"{width}x{height} input"
    dtypes = [torch.float32, torch.bfloat16] if device.type == "cuda" else [torch.float32]
    return [speed(label, batch, dtype, implementation, device.type, settings.repeats, levels)
            for dtype in dtypes for implementation in IMPLEMENTATIONS]

