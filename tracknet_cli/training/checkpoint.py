"""Checkpoints: one file with everything needed to resume, or to run the model anywhere.

Contents are plain containers and tensors only, so `torch.load(weights_only=True)` reads them and
a checkpoint from a stranger cannot run code. Files are written to a temporary name and renamed,
so a crash mid-write never leaves a broken `last.pt`.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from tracknet_cli import __version__
from tracknet_cli.errors import ConfigError, DataError, describe
from tracknet_cli.fileio import atomic_path

FORMAT = "tracknet-checkpoint-1"


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, config: dict, epoch: int, step: int,
                    batches_done: int = 0, best_metric: float | None = None, optimizer=None,
                    scheduler=None, scaler=None, metrics: dict | None = None) -> Path:
    """Write a checkpoint; `batches_done` > 0 marks an epoch interrupted after that many batches."""
    state = {
        "format": FORMAT,
        "version": __version__,
        "config": config,
        "model": _unwrap(model).state_dict(),
        "epoch": epoch,
        "step": step,
        "batches_done": batches_done,
        "best_metric": best_metric,
        "metrics": metrics or {},
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
        "scaler": scaler.state_dict() if scaler else None,
        "rng": {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read one of our checkpoints, or fail with a message that names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch.load's many failures (zip, pickle, EOF, unknown keys) say one thing
        raise DataError(f"{path} is not a readable tracknet checkpoint (truncated, corrupt, or not a "
                        f"weights-only file): {describe(exc)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DataError(f"{path} is a PyTorch file but not a tracknet checkpoint (no '{FORMAT}' marker)")
    return state


def restore_rng(state: dict) -> None:
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    random.setstate((3, tuple(rng["python"]), None))
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def check_resume_config(checkpoint: dict, cfg: DictConfig, path: Path) -> None:
    """Refuse to resume into another model: every model key must match the checkpoint's."""
    saved = OmegaConf.create(checkpoint["config"]["model"])
    differences = sorted(_differences(OmegaConf.to_container(saved), OmegaConf.to_container(cfg.model), "model."))
    if differences:
        raise ConfigError(
            f"cannot resume {path}: it holds model {saved.get('name')!r} and the config asks for "
            f"{cfg.model.name!r} with different {', '.join(differences[:6])}"
            f"{' ...' if len(differences) > 6 else ''}"
        )


def _differences(a, b, prefix: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel or compiled wrapper."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, DictConfig, dict]:
    """The model of a checkpoint, built from the config stored in it, in eval mode on `device`."""
    from tracknet_cli.config import from_container
    from tracknet_cli.models import build_model

    checkpoint = load_checkpoint(path)
    cfg = from_container(checkpoint["config"])
    OmegaConf.update(cfg, "model.backbone.use_pretrained", False)  # the checkpoint holds the weights
    model = build_model(cfg.model)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise DataError(f"{path}: weights do not fit model {cfg.model.name!r}: "
                        f"{describe(exc)}") from None
    return model.to(device).eval(), cfg, checkpoint
