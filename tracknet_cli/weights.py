"""Trained weights, ready to use: a training checkpoint or an ONNX export in, a model out.

    model, cfg, info = load_weights("runs/train/exp/weights/best.pt", device)   # or an .onnx file
    predictor = load_predictor("best.pt", task="heatmap", threshold=0.5)

A checkpoint's model is rebuilt from the config saved in it (by its task's builder, without
pretrained files: the checkpoint holds the weights) and filled with `torch.load(weights_only=True)`.
An ONNX export runs in onnxruntime behind the same interface, so evaluation and prediction have
one code path for both. Every command that runs a trained model (eval, predict-video, export,
benchmark) loads it here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig

from tracknet_cli.devices import select_device
from tracknet_cli.errors import DataError, TracknetError, describe
from tracknet_cli.models.build import drop_retired_keys
from tracknet_cli.runs import BUILTIN_NAME, trained_weights
from tracknet_cli.tasks import config_from_container, get_task, task_of
from tracknet_cli.training.checkpoint import load_checkpoint

ONNX_METADATA_KEY = "tracknet"  # one metadata_props entry of an export holds its JSON facts and config
BUILTIN = Path(__file__).resolve().parent / "assets" / "ball.pt"


def saved_config(checkpoint: dict) -> DictConfig:
    """The config a checkpoint was trained with, typed and checked; keys an older version saved
    but this one retired (a runtime choice stored as architecture) are left out."""
    values = dict(checkpoint["config"])
    values["model"] = drop_retired_keys(dict(values.get("model", {})))
    return config_from_container(values)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, DictConfig, dict]:
    """The model of a checkpoint, built from the config stored in it, in eval mode on `device`."""
    checkpoint = load_checkpoint(path)
    cfg = saved_config(checkpoint)
    cfg.model.backbone.use_pretrained = False  # the checkpoint holds the weights
    model = task_of(cfg).build_model(cfg.model, pretrained=False)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise DataError(f"{path}: weights do not fit model {cfg.model.name!r}: {describe(exc)}") from None
    return model.to(device).eval(), cfg, checkpoint


def onnx_session(path: str | Path, device: str = "cpu"):
    """An onnxruntime session on CUDA where its provider is installed and asked for, else CPU."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
        raise DataError(f"{path} is not a readable ONNX model: {describe(exc)}") from None


class OnnxModel(torch.nn.Module):
    """An exported model run by onnxruntime behind the PyTorch model's interface: `model(*inputs)`
    returns the one output, or a dict of them by name (a reference-based detector's)."""

    fixed_input_size = True  # the graph runs at the input size it was exported at, and no other

    def __init__(self, path: str | Path, device: str = "cpu"):
        super().__init__()
        self.path = Path(path)
        self.session = onnx_session(path, device)
        props = self.session.get_modelmeta().custom_metadata_map
        if ONNX_METADATA_KEY not in props:
            raise DataError(f"{path} is an ONNX model but not a tracknet export (no '{ONNX_METADATA_KEY}' "
                            "metadata); export checkpoints with `tracknet export`")
        self.metadata = json.loads(props[ONNX_METADATA_KEY])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        feed = {name: tensor.detach().float().cpu().numpy() for name, tensor in zip(self.input_names, inputs)}
        outputs = [torch.from_numpy(out).to(inputs[0].device) for out in self.session.run(None, feed)]
        return outputs[0] if len(outputs) == 1 else dict(zip(self.output_names, outputs))


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, DictConfig, dict]:
    """(model, config, checkpoint-like info) from a training checkpoint or an ONNX export."""
    if not Path(path).is_file():
        raise DataError(f"weights {path} do not exist")
    if Path(path).suffix.lower() != ".onnx":
        return load_model(path, device)
    model = OnnxModel(path, "cpu" if torch.device(device).type == "cpu" else "cuda")
    cfg = config_from_container(model.metadata["config"])
    cfg.training.amp = False  # onnxruntime runs the graph in the precision it was exported in
    return model, cfg, {"epoch": None, "format": "onnx", "version": model.metadata["version"]}


def load_predictor(weights: str | Path, device: str = "auto", task: str | None = None, **options):
    """The task's predictor (`Predictor` for ball models, `RefdetPredictor`) over `weights` on
    `device` (auto: CUDA if there is one); with `task`, weights of another task are refused by
    name. `options` go to the predictor (`threshold`, `flip_tta`, ...)."""
    torch_device = select_device(device)
    model, cfg, _ = load_weights(weights, torch_device)
    found = task_of(cfg)
    if task is not None and found.name != task:
        raise TracknetError(f"{weights} holds {cfg.model.name!r}, a {found.description}, not a "
                            f"{get_task(task).description} (model.task {task})")
    return found.predictor.from_loaded(model, cfg, torch_device, **options)


def builtin_weights() -> Path:
    """The ball model that ships inside the package (its recipe is in the README and the file)."""
    path = BUILTIN
    if not path.is_file():
        raise DataError(f"the built-in model {path} is missing from this installation; reinstall "
                        "tracknet, or pass --weights PATH")
    return path


def choose_weights(weights: str | Path | None, note: Callable[[str], None] | None = None) -> Path:
    """The weights a command runs, and why, said through `note`: those given (`builtin` names the
    built-in model); else the newest trained `runs/train/*/weights/best.pt`, so a model the user
    trained is never passed over; else the built-in model."""
    say = note or (lambda _: None)
    if weights is not None and str(weights) != BUILTIN_NAME:
        return Path(weights)
    if weights is None and (runs := trained_weights()):
        others = f"; {len(runs) - 1} older run(s) there too" if len(runs) > 1 else ""
        say(f"Using your newest trained model [bold]{runs[0]}[/] (the newest runs/train/*/weights/best.pt"
            f"{others}; --weights {BUILTIN_NAME} for the built-in model)")
        return runs[0]
    why = "as asked" if weights is not None else "no trained run under runs/train/; --weights PATH for your own"
    say(f"Using the built-in ball model [bold]{BUILTIN.name}[/] ({why})")
    return builtin_weights()
