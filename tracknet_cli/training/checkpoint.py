"""Checkpoints: one file with everything needed to resume a run, or to run its model anywhere
(`weights.load_model` rebuilds the model from it).

Contents are plain containers and tensors only, so `torch.load(weights_only=True)` reads them and
a checkpoint from a stranger cannot run code. Files are written to a temporary name and renamed,
so a crash mid-write never leaves a broken `last.pt`.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from omegaconf import DictConfig

from tracknet_cli import __version__
from tracknet_cli.config import to_container
from tracknet_cli.errors import ConfigError, DataError, describe
from tracknet_cli.fileio import atomic_path

FORMAT = "tracknet-checkpoint-1"


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, config: dict, epoch: int, step: int,
                    batches_done: int = 0, best_metric: float | None = None, optimizer=None,
                    scheduler=None, scaler=None, metrics: dict | None = None,
                    data_card: dict | None = None) -> Path:
    """Write a checkpoint; `batches_done` > 0 marks an epoch interrupted after that many batches;
    `data_card` is how the training data was made (`datasets.card`), where that is known."""
    state = {
        "format": FORMAT,
        "version": __version__,
        "config": config,
        "data_card": data_card,
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


def load_initial_weights(model: torch.nn.Module, path: str | Path, partial: bool = False) -> list[str]:
    """Start `model` from the weights of the checkpoint at `path` (fine-tuning: nothing else of
    it). Every tensor must fit by name and shape, else the refusal names those that do not; with
    `partial`, what fits is loaded and the names of what was skipped (either side's) returned."""
    state = load_checkpoint(path)["model"]
    own = model.state_dict()
    reshaped = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    result = model.load_state_dict({k: v for k, v in state.items() if k not in reshaped}, strict=False)
    misfits = {"of another shape": [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in reshaped],
               "missing from the checkpoint": sorted(result.missing_keys),
               "not in this model": sorted(result.unexpected_keys)}
    if any(misfits.values()) and not partial:
        said = "; ".join(f"{kind}: {', '.join(names[:4])}{' ...' if len(names) > 4 else ''} ({len(names)})"
                         for kind, names in misfits.items() if names)
        raise ConfigError(f"the weights of {path} do not fit this model ({said}); train the checkpoint's own "
                          "model (leave out --model and model.* overrides), or load what fits with --weights-partial")
    return reshaped + misfits["missing from the checkpoint"] + misfits["not in this model"]


def restore_rng(state: dict) -> None:
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    random.setstate((3, tuple(rng["python"]), None))
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


# what may change when a run resumes: where and how fast it runs, how long, how often it reports
RESUMABLE = {"training.epochs", "training.max_minutes", "training.device", "training.num_workers", "training.val_every",
             "training.image_every", "data.root", "data.cache"}


def check_resume_config(saved_cfg: DictConfig, cfg: DictConfig, path: Path) -> None:
    """Refuse to resume into another run: the model, the data and the training of `cfg` must match
    the checkpoint's `saved_cfg` (the sampler position, the optimizer state and the schedule assume
    them), but for the RESUMABLE keys."""
    saved, asked = to_container(saved_cfg), to_container(cfg)
    differences = sorted(key for section in ("model", "data", "training")
                         for key in _differences(saved[section], asked[section], f"{section}.")
                         if key not in RESUMABLE)
    if differences:
        raise ConfigError(
            f"cannot resume {path} with a different {', '.join(differences[:6])}"
            f"{' ...' if len(differences) > 6 else ''}: it would not continue the same run "
            f"(its model is {saved['model']['name']!r}); start a new run, or change only "
            f"{', '.join(sorted(RESUMABLE))}"
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
