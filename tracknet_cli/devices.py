"""Where models run and in what precision: one place for training, evaluation and inference."""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from tracknet_cli.errors import TracknetError


def select_device(name: str) -> torch.device:
    """`auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`; in a distributed run each
    process keeps the GPU it was given."""
    import torch.distributed as dist

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TracknetError(f"device {name!r} requested but CUDA is not available")
        if dist.is_initialized() and dist.get_world_size() > 1:
            return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)


def autocast_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bf16 on GPUs that have it (no loss scaling needed), else fp16; full precision on CPU."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Mixed precision in `dtype`, or a no-op when it is None."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
