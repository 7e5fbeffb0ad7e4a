"""The public entry point: argument checks, then the PyTorch or the Triton backend.

Backend choice: while a model is traced or exported (jit trace, ONNX, torch.export) PyTorch
always runs, since a Triton kernel cannot be recorded in those graphs. Otherwise an explicit
`backend="torch"` or `"triton"` wins. With `backend="auto"` the environment variable
TRACKNET_MSDA_BACKEND (torch | triton | auto) decides when set; left at auto, Triton runs CUDA
tensors when triton is installed and PyTorch runs everything else.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import torch

from tracknet_cli.errors import TracknetError
from tracknet_cli.ops.ms_deform_attn.inputs import check_inputs, level_shapes
from tracknet_cli.ops.ms_deform_attn.torch_backend import ms_deform_attn_torch

BACKEND_ENV_VAR = "TRACKNET_MSDA_BACKEND"
_CHOICES = ("auto", "torch", "triton")


def ms_deform_attn(value: torch.Tensor, spatial_shapes: torch.Tensor | Sequence[Sequence[int]],
                   level_start_index: torch.Tensor | Sequence[int] | None,
                   sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                   backend: str = "auto") -> torch.Tensor:
    """Multi-scale deformable attention, Deformable DETR's semantics.

    value [N, S, M, D] with S = sum of H*W over levels; spatial_shapes (H, W) per level, a list
    (no device-to-host sync) or an int tensor [L, 2]; level_start_index [L] or None (it is
    checked, then derived from the shapes); sampling_locations [N, Lq, M, L, P, 2], (x, y) in
    [0, 1]; attention_weights [N, Lq, M, L, P], used as given (not renormalised).
    Returns [N, Lq, M*D] in value's dtype.
    """
    shapes = level_shapes(spatial_shapes)
    check_inputs(value, shapes, level_start_index, sampling_locations, attention_weights)
    if resolve_backend(backend, value.device) == "torch":
        return ms_deform_attn_torch(value, shapes, sampling_locations, attention_weights)
    # Imported here: triton is optional, and TRITON_INTERPRET must be read when kernels are made.
    from tracknet_cli.ops.ms_deform_attn.triton_backend import ms_deform_attn_triton

    return ms_deform_attn_triton(value, shapes, sampling_locations, attention_weights)


def available_backends() -> list[str]:
    """Backends that can run here: Triton needs triton, and CUDA or TRITON_INTERPRET=1."""
    gpu_or_interpreter = torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"
    return ["torch", "triton"] if _triton_installed() and gpu_or_interpreter else ["torch"]


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """`torch` or `triton`: the backend that runs tensors on `device` (see the module docstring)."""
    choice = _validated(backend, "backend")
    if choice == "auto":
        choice = _validated(os.environ.get(BACKEND_ENV_VAR) or "auto", BACKEND_ENV_VAR)
    if _tracing():
        return "torch"
    if choice == "auto":
        return "triton" if torch.device(device).type == "cuda" and _triton_installed() else "torch"
    if choice == "triton" and not _triton_installed():
        raise TracknetError("the triton backend needs the triton package; install it or use "
                            "backend='torch'")
    return choice


def _validated(choice: str, source: str) -> str:
    if choice.lower() not in _CHOICES:
        raise TracknetError(f"{source} must be one of {', '.join(_CHOICES)}; got {choice!r}")
    return choice.lower()


def _triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def _tracing() -> bool:
    return (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_exporting())
