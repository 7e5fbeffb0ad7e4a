"""Start training in this process, under torchrun, or as N processes (`--devices N`)."""

from __future__ import annotations

import os
from pathlib import Path

import torch.multiprocessing as mp
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from tracknet_cli.config import from_container
from tracknet_cli.training import distributed
from tracknet_cli.training.trainer import Trainer, TrainResult


def train(cfg: DictConfig | None, run_dir: Path | None, devices: int = 1, resume: Path | None = None,
          overrides: list[str] | tuple[str, ...] = (), console: Console | None = None) -> TrainResult | None:
    """Train `cfg` into `run_dir`, or resume the run of checkpoint `resume` (with `overrides`).

    With `devices` > 1 (and not already under torchrun) this spawns one process per device on the
    local machine, NCCL on GPUs or gloo on CPUs, and returns after they finish; rank 0 writes.
    """
    if devices > 1 and "WORLD_SIZE" not in os.environ:
        port = distributed.free_port()
        payload = OmegaConf.to_container(cfg) if cfg is not None else None
        mp.start_processes(_worker, args=(devices, port, payload, run_dir, resume, list(overrides),
                                          console is not None),
                           nprocs=devices, start_method="spawn")
        return None
    distributed.init_from_environment()
    try:
        trainer = (Trainer.from_checkpoint(resume, overrides, console) if resume
                   else Trainer(cfg, run_dir, console))
        return trainer.fit()
    finally:
        distributed.shutdown()


def _worker(rank: int, world: int, port: int, payload: dict | None, run_dir: Path | None,
            resume: Path | None, overrides: list[str], show: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    cfg = from_container(payload) if payload is not None else None
    from tracknet_cli.console import console

    train(cfg, run_dir, 1, resume, overrides, console if show and rank == 0 else None)
