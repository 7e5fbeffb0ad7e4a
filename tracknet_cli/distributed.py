"""Data-parallel plumbing on torch.distributed: process groups, sharded samplers, reductions.

One process per device. Started by `torchrun` (RANK / WORLD_SIZE / LOCAL_RANK in the environment)
or by `tracknet train --devices N`, which spawns the N processes itself. With one process every
helper here is a no-op, so the trainer has a single code path.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_environment() -> None:
    """Join the process group torchrun (or our launcher) described in the environment."""
    if dist.is_initialized() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    if torch.cuda.is_available():  # NCCL for CUDA tensors, gloo for CPU ones (a CPU run, a flag)
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("cpu:gloo,cuda:nccl")
    else:
        dist.init_process_group("gloo")


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value)
    return value


def gather_to_main(items: list) -> list:
    """Concatenate every process's list on rank 0 (other ranks get an empty list)."""
    if not dist.is_initialized():
        return items
    gathered = [None] * world_size() if is_main() else None
    dist.gather_object(items, gathered, dst=0)
    return [item for part in gathered for item in part] if is_main() else []


class EpochSampler(Sampler[int]):
    """A seeded order per epoch, the same on every process, dealt out round-robin to the ranks.

    With a global batch of B and B / N per rank, global step s sees exactly the samples one process
    would see at step s. `skip` drops the first samples of this rank's share: resuming an epoch
    that was interrupted after `skip` samples continues with the very next ones.
    """

    def __init__(self, length: int, seed: int, drop_last_to: int = 1):
        self.length = length
        self.seed = seed
        self.drop_last_to = drop_last_to  # samples per optimizer step: only whole steps are drawn
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def _order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.length, generator=generator).tolist()
        usable = len(order) // self.drop_last_to * self.drop_last_to
        return order[:usable]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order()[rank()::world_size()][self.skip:])

    def __len__(self) -> int:
        return max(0, len(self._order()) // world_size() - self.skip)
