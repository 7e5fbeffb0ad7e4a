"""Data-loading speed: T=3 training windows at 512x288, from 1280x720 JPEGs vs from the frame cache.

    uv run python benchmarks/dataloader.py                 # renders a synthetic dataset first
    uv run python benchmarks/dataloader.py --root data/tennis --batches 50

Each loader is the training loader: augmentation on, shuffled, `--workers` processes, uint8
frames from the workers (training normalises them on the device). The third row is the cache
loader with the sample contract's float32 normalised frames built in the workers instead, four
times the bytes to move between processes. Each is warmed up for a few batches, then timed over
`--batches` batches. Prints one table and writes `results.json` into `runs/benchmark/dataloader*/`.
Target (issue 2): the cache at least 400 samples/s with 2 workers and at least 5x the JPEG path.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

from tracknet_cli.config import DataConfig
from tracknet_cli.datasets.synthetic import SyntheticSpec, generate_synthetic_dataset
from tracknet_cli.datasets.tracknet import SampleSpec, TrackNetSequenceDataset
from tracknet_cli.datasets.validate import validate_tracknet
from tracknet_cli.runs import new_run_dir

INPUT_SIZE = (512, 288)


def measure(dataset: TrackNetSequenceDataset, batch_size: int, workers: int, batches: int,
            warmup: int = 3) -> dict:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True)
    iterator = iter(loader)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    samples = 0
    for _ in range(batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        samples += batch["frames"].shape[0]
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": round(seconds, 3), "samples_per_s": round(samples / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="TrackNet-layout dataset (default: render one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args()

    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root
        if root is None:
            root = Path(scratch) / "synthetic"
            console.print("Rendering a 1280x720 synthetic dataset (2 games x 2 clips x 150 frames)...")
            generate_synthetic_dataset(root, SyntheticSpec(games=2, clips_per_game=2, frames_per_clip=150))
        console.print(f"Indexing {root} and writing the {INPUT_SIZE[0]}x{INPUT_SIZE[1]} frame cache...")
        index = validate_tracknet(root, cache_size=INPUT_SIZE, workers=args.workers).index

        spec = SampleSpec(frames=3, output_frames=1, input_size=INPUT_SIZE)
        augment = OmegaConf.structured(DataConfig).augment
        rows = {}
        variants = (("jpeg 1280x720", False, False), ("cache 512x288", True, False),
                    ("cache 512x288, float32 frames", True, True))
        for name, use_cache, normalize in variants:
            dataset = TrackNetSequenceDataset(index, spec, augment=augment, use_cache=use_cache,
                                              normalize=normalize)
            rows[name] = measure(dataset, args.batch_size, args.workers, args.batches)

    speedup = rows["cache 512x288"]["samples_per_s"] / rows["jpeg 1280x720"]["samples_per_s"]
    table = Table(title=f"Data loading: T=3 windows at {INPUT_SIZE[0]}x{INPUT_SIZE[1]}, "
                        f"{args.workers} workers, batch {args.batch_size}, augmentation on")
    for column in ("source", "samples", "seconds", "samples/s", "vs jpeg"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for name, row in rows.items():
        ratio = row["samples_per_s"] / rows["jpeg 1280x720"]["samples_per_s"]
        table.add_row(name, str(row["samples"]), f"{row['seconds']:.2f}", f"{row['samples_per_s']:,.0f}",
                      f"{ratio:.1f}x")
    console.print(table)

    run_dir = new_run_dir("benchmark", "dataloader")
    result = {
        "benchmark": "dataloader",
        "input_size": INPUT_SIZE,
        "frames": 3,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "batches": args.batches,
        "machine": {"cpus": torch.get_num_threads(), "platform": platform.platform()},
        "results": rows,
        "cache_speedup": round(speedup, 2),
        "targets": {"cache_samples_per_s": 400, "cache_speedup": 5.0},
    }
    (run_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"Results saved to [bold green]{run_dir / 'results.json'}[/]")


if __name__ == "__main__":
    main()
