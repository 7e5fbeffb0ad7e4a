"""Measuring speed and memory the same way everywhere: `tracknet benchmark` and benchmarks/."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch


def median_ms(step: Callable[[], object], device: str | torch.device, repeats: int) -> float:
    """Median milliseconds of `step` over `repeats` runs after one warm-up run (compilation,
    autotuning, allocator), synchronising CUDA around each run."""
    cuda = torch.device(device).type == "cuda"
    step()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


class PeakMemory:
    """Peak memory of a block above the memory at its start, in MiB: CUDA's allocator statistics
    on a GPU, the process's resident-set high-water mark on a CPU (Linux: the mark is restarted
    through /proc/self/clear_refs, or the peak of earlier work would hide the block's). `peak_mb`
    stays None where the mark cannot be restarted or read (macOS, a read-only /proc)."""

    def __init__(self, device: str | torch.device):
        self.cuda = torch.device(device).type == "cuda"
        self.peak_mb: float | None = None
        self._baseline: int | None = None

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            self._baseline = torch.cuda.memory_allocated()
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")
                self._baseline = _status_kib("VmRSS") * 1024
            except OSError:
                self._baseline = None
        return self

    def __exit__(self, *exc) -> None:
        if self._baseline is None:
            return
        peak = torch.cuda.max_memory_allocated() if self.cuda else _status_kib("VmHWM") * 1024
        self.peak_mb = round((peak - self._baseline) / 2**20, 1)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise OSError(f"{field} missing from /proc/self/status")
