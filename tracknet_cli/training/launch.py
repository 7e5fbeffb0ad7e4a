"""Start training in this process, under torchrun, or as N processes (`--devices N`)."""

from __future__ import annotations

import os
from pathlib import Path

import torch.multiprocessing as mp
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from tracknet_cli import distributed
from tracknet_cli.config import from_container
from tracknet_cli.training.checkpoint import load_checkpoint
from tracknet_cli.training.trainer import Trainer, TrainResult


def train(task, cfg: DictConfig, run_dir: Path, devices: int = 1, resume: Path | None = None,
          console: Console | None = None, checkpoint: dict | None = None) -> TrainResult | None:
    """Train `cfg` (its `task`: the entry of the task table) into `run_dir`; with `resume`, the
    last.pt of that run, continue it (`cfg` is then the checkpoint's own, already checked;
    `checkpoint` its contents, if the caller has read them).

    With `devices` > 1 (and not already under torchrun) this spawns one process per device on the
    local machine, NCCL on GPUs or gloo on CPUs, and returns after they finish; rank 0 writes.
    """
    if devices > 1 and "WORLD_SIZE" not in os.environ:
        port = distributed.free_port()
        mp.start_processes(_worker, args=(devices, port, task, OmegaConf.to_container(cfg), run_dir, resume,
                                          console is not None),
                           nprocs=devices, start_method="spawn")
        return None
    distributed.init_from_environment()
    try:
        if resume is not None and checkpoint is None:
            checkpoint = load_checkpoint(resume)
        return Trainer(cfg, task, run_dir, console, checkpoint).fit()
    finally:
        distributed.shutdown()


def _worker(rank: int, world: int, port: int, task, payload: dict, run_dir: Path, resume: Path | None,
            show: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    from tracknet_cli.console import console

    train(task, from_container(payload, task.model_schema), run_dir, 1, resume,
          console if show and rank == 0 else None)
