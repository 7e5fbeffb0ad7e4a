"""Multi-scale deformable attention: speed of each backend, and the PyTorch backend's peak memory.

    uv run python benchmarks/ms_deform_attn.py                        # on CUDA when present
    uv run python benchmarks/ms_deform_attn.py --device cpu --quick   # CPU sanity run
    uv run python benchmarks/ms_deform_attn.py --shapes a --batch 4 --repeats 20

Shapes (M=8 heads, D=32, L=4 levels, P=4 points, one query per position: Lq = S):
  a  the encoder of a 288x512 input, levels 72x128, 36x64, 18x32, 9x16 (S=12240), batch 8
  b  Deformable DETR's, levels 100x167, 50x84, 25x42, 13x21 (S=22223), batch 2
Speed: per shape, dtype (fp32, bf16) and implementation (the torch backend, torch.compile of it,
Triton), the median milliseconds of a forward and of a forward+backward over `--repeats` runs
after a warm-up (compilation, autotuning). Triton runs CUDA tensors only.
Memory: the torch backend at shapes (a) in chunks (the default budget) and in one pass (budget =
infinity), for a forward (inference) and a forward+backward, each in a fresh process: the peak
resident memory above the resident memory before the call on CPU (Linux: the peak is restarted
through /proc/self/clear_refs, since the one of imports can hide the op's), and
torch.cuda.max_memory_allocated above the inputs on CUDA. Target: chunked forward at most half
the one-pass peak, at no loss of speed. On a CPU shared with other work, per-call overheads of
multi-threaded ops grow a lot; `--threads 1` then gives steadier figures.
`--quick` is batch 1, one repeat, fp32 only. Prints two tables and writes `results.json` into
`runs/benchmark/ms_deform_attn*/`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform

import torch
from rich.console import Console
from rich.table import Table

from tracknet_cli.fileio import write_json
from tracknet_cli.ops.ms_deform_attn.speed import (
    HEAD_DIM,
    HEADS,
    IMPLEMENTATIONS,
    POINTS,
    SHAPES,
    make_inputs,
    speed,
)
from tracknet_cli.ops.ms_deform_attn.torch_backend import (
    DEFAULT_CHUNK_ELEMENTS,
    ms_deform_attn_torch,
)
from tracknet_cli.runs import new_run_dir
from tracknet_cli.timing import PeakMemory, median_ms


def memory(batch: int, chunk_elements: float, backward: bool, device: str, repeats: int,
           threads: int) -> dict:
    """Peak memory and time of the torch backend at shapes (a); runs in a fresh process."""
    torch.set_num_threads(threads)
    levels = SHAPES["a"]["levels"]
    value, loc, weights, grad_out = make_inputs(levels, batch, torch.float32, device, grad=backward)

    def step():
        if backward:
            out = ms_deform_attn_torch(value, levels, loc, weights, chunk_elements)
            out.backward(grad_out)
        else:
            with torch.no_grad():
                ms_deform_attn_torch(value, levels, loc, weights, chunk_elements)

    with PeakMemory(device) as peak:
        step()
    chunks = "one pass" if chunk_elements == float("inf") else f"chunks of {chunk_elements:.0f}"
    return {"shapes": "a", "batch": batch, "pass": "forward+backward" if backward else "forward",
            "torch backend": chunks, "peak_mb": round(peak.peak_mb),
            "ms": median_ms(step, device, repeats)}


def chunked_over_one_pass(memory_rows: list[dict], which: str) -> dict:
    """Peak memory and time of the chunked torch backend as fractions of the one-pass ones."""
    rows = {row["torch backend"] == "one pass": row for row in memory_rows if row["pass"] == which}
    chunked, one_pass = rows[False], rows[True]
    return {"peak": round(chunked["peak_mb"] / max(one_pass["peak_mb"], 1), 2),
            "time": round(chunked["ms"] / one_pass["ms"], 2)}


def table(title: str, rows: list[dict], columns: list[str]) -> Table:
    result = Table(title=title)
    for column in columns:
        result.add_column(column, justify="right" if column.endswith(("ms", "mb")) else "left")
    for row in rows:
        result.add_row(*[str(row[column]) for column in columns])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"],
                        default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default="a,b", help="comma-separated: a, b")
    parser.add_argument("--batch", type=int, help="default: 8 at (a), 2 at (b); 1 with --quick")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="batch 1, one repeat, fp32 only")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shapes = [name.strip() for name in args.shapes.split(",")]
    if not set(shapes) <= SHAPES.keys():
        parser.error(f"--shapes takes a comma-separated list of {', '.join(SHAPES)}")
    if args.quick:
        args.batch, args.repeats = args.batch or 1, 1
    dtypes = [torch.float32] if args.quick else [torch.float32, torch.bfloat16]

    console = Console(width=160)  # the tables stay whole in logs and CI output
    speed_rows = []
    for shape in shapes:
        batch = args.batch or SHAPES[shape]["batch"]
        for dtype in dtypes:
            for implementation in IMPLEMENTATIONS:
                console.print(f"timing ({shape}) batch {batch} {dtype} {implementation} ...")
                speed_rows.append(speed(shape, batch, dtype, implementation, args.device,
                                        args.repeats))

    context = multiprocessing.get_context("spawn")  # a fresh process per figure: peaks do not mix
    memory_rows = []
    batch = args.batch or SHAPES["a"]["batch"]
    for backward in (False, True):
        for chunk_elements in (DEFAULT_CHUNK_ELEMENTS, float("inf")):
            with context.Pool(1) as pool:
                memory_rows.append(pool.apply(memory, (batch, chunk_elements, backward, args.device,
                                                       args.repeats, args.threads)))

    where = f"cpu ({torch.get_num_threads()} threads)" if args.device == "cpu" else args.device
    console.print(table(f"Deformable attention speed, M={HEADS} D={HEAD_DIM} P={POINTS}, {where}",
                        speed_rows, ["shapes", "batch", "dtype", "implementation", "forward_ms",
                                     "forward_backward_ms"]))
    console.print(table(f"Torch backend peak memory, fp32, {where}", memory_rows,
                        ["shapes", "batch", "pass", "torch backend", "peak_mb", "ms"]))
    ratios = {which: chunked_over_one_pass(memory_rows, which)
              for which in ("forward", "forward+backward")}
    console.print(f"chunked / one pass: {ratios} (forward target: peak <= 0.5, time <= 1.0)")

    run_dir = new_run_dir("benchmark", "ms_deform_attn")
    write_json(run_dir / "results.json", {
        "benchmark": "ms_deform_attn",
        "device": args.device,
        "shapes": {name: SHAPES[name] for name in shapes},
        "heads": HEADS, "head_dim": HEAD_DIM, "points": POINTS, "repeats": args.repeats,
        "machine": {"threads": torch.get_num_threads(), "platform": platform.platform(),
                    "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None},
        "speed": speed_rows,
        "memory": memory_rows,
        "chunked_over_one_pass": ratios,
        "targets": {"chunked_forward_peak_over_one_pass_max": 0.5,
                    "chunked_forward_ms_over_one_pass_max": 1.0},
    })
    console.print(f"Results saved to [bold green]{run_dir / 'results.json'}[/]")


if __name__ == "__main__":
    main()
