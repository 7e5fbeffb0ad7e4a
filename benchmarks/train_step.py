"""Training-step throughput: samples/s of a full step (data loading included) and the share of the
step spent waiting for data.

    uv run python benchmarks/train_step.py                       # fast_heatmap on the CPU
    uv run python benchmarks/train_step.py --models all          # every registered model (on a GPU)

Uses the real trainer (its loader, uint8 frames normalised on the device, AMP in bf16 on CUDA,
the optimizer step) on `data/synthetic` (run `tracknet prepare synthetic --cache 512x288` first),
288x512 input, T=3. Each model: `--warmup` steps, then `--steps` timed steps; "data wait" is the
time the loop blocks on the loader. Prints one table and writes `results.json` into
`runs/benchmark/train_step*/`. Target (issue 4): data wait under 10% with 2 workers.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from rich.console import Console
from rich.table import Table

from tracknet_cli.fileio import write_json
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import available_models, load_config
from tracknet_cli.training.trainer import Trainer


def measure(name: str, args: argparse.Namespace) -> dict:
    cfg = load_config(args.data, name, "default", [
        "model.backbone.use_pretrained=false", f"training.batch_size={args.batch_size}",
        f"training.num_workers={args.workers}", f"training.device={args.device}",
        "training.image_every=1000000"])
    trainer = Trainer(cfg, None)
    trainer.sampler.set_epoch(0)
    loader = torch.utils.data.DataLoader(trainer.train_set, batch_size=trainer.local_batch,
                                         sampler=trainer.sampler, num_workers=args.workers,
                                         drop_last=True, pin_memory=trainer.device.type == "cuda")
    batches = iter(loader)
    trainer.model.train()
    wait = compute = 0.0
    for index in range(args.warmup + args.steps):
        started = time.perf_counter()
        batch = next(batches)
        fetched = time.perf_counter()
        trainer._train_step(batch)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        if index >= args.warmup:
            wait += fetched - started
            compute += time.perf_counter() - fetched
    seconds = wait + compute
    return {"model": name, "device": str(trainer.device),
            "precision": str(trainer.amp_dtype or torch.float32).replace("torch.", ""),
            "batch": args.batch_size, "steps": args.steps,
            "samples_per_s": round(args.steps * args.batch_size / seconds, 2),
            "step_s": round(seconds / args.steps, 3), "data_wait_share": round(wait / seconds, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="fast_heatmap", help="comma-separated names, or all")
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    names = available_models("heatmap") if args.models == "all" else args.models.split(",")

    rows = [measure(name, args) for name in names]
    table = Table(title=f"Training step at 512x288, T=3, {args.workers} loader workers")
    for column in ("model", "device", "precision", "batch", "samples/s", "s/step", "data wait"):
        table.add_column(column, justify="left" if column in ("model", "device") else "right")
    for row in rows:
        table.add_row(row["model"], row["device"], row["precision"], str(row["batch"]),
                      f"{row['samples_per_s']:.1f}", f"{row['step_s']:.3f}", f"{row['data_wait_share']:.1%}")
    console = Console(width=120)
    console.print(table)
    run_dir = new_run_dir("benchmark", "train_step")
    write_json(run_dir / "results.json", {"benchmark": "train_step", "args": vars(args), "results": rows,
                                          "machine": {"platform": platform.platform(),
                                                      "threads": torch.get_num_threads(),
                                                      "torch": torch.__version__},
                                          "targets": {"data_wait_share_max": 0.10}})
    console.print(f"Results saved to [bold green]{run_dir / 'results.json'}[/]")


if __name__ == "__main__":
    main()
