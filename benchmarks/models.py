"""Size and CPU speed of every registered model at 288x512 input, T=3, random weights.

    uv run python benchmarks/models.py                      # all registered models
    uv run python benchmarks/models.py --models fast_heatmap --repeats 5

Per model: parameters, GMACs per forward and per output frame (counted by torch's FLOP counter:
one multiply-add = 2 FLOPs), CPU latency per output frame at batch 1 and batch 8 (median of
`--repeats` timed forwards after one warm-up, inference mode, all cores), and the peak resident
memory of a fresh process that builds and runs the model (above its baseline after imports).
Each model runs in its own process so the memory figures do not mix. Published anchors are printed
beside them. Prints one table and writes `results.json` into `runs/benchmark/models*/`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource

import torch
from rich.console import Console
from rich.table import Table

from tracknet_cli.benchmark import gmacs_per_forward
from tracknet_cli.fileio import write_json
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import available_models, build_model, load_config
from tracknet_cli.timing import median_ms

INPUT = (288, 512)  # (H, W)
FRAMES = 3
ANCHORS = [  # published figures per output frame at 288x512
    {"model": "TrackNetV2 (published)", "params_m": 11.3, "gmacs_per_frame": 37.0},
    {"model": "WASB HRNet (published)", "params_m": 1.5, "gmacs_per_frame": 9.4},
]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def _latency(model: torch.nn.Module, batch: int, repeats: int) -> float:
    """Median seconds per forward of a [batch, T, 3, H, W] input, after a warm-up."""
    x = torch.randn(batch, FRAMES, 3, *INPUT)
    with torch.inference_mode():
        return median_ms(lambda: model(x), "cpu", repeats) / 1000


def measure(name: str, repeats: int) -> dict:
    """Everything about one model; runs in a fresh process."""
    torch.manual_seed(0)
    cfg = load_config(model=name, overrides=["model.backbone.use_pretrained=false",
                                             f"model.frames={FRAMES}"]).model
    baseline = _peak_rss_mb()
    model = build_model(cfg).eval()
    out_frames = int(cfg.output_frames)
    gmacs = gmacs_per_forward(model, (torch.randn(1, FRAMES, 3, *INPUT),))
    latency = {batch: _latency(model, batch, repeats) for batch in (1, 8)}
    return {
        "model": name,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "output_frames": out_frames,
        "gmacs_per_forward": round(gmacs, 2),
        "gmacs_per_frame": round(gmacs / out_frames, 2),
        "ms_per_frame_batch1": round(latency[1] / out_frames * 1000, 1),
        "ms_per_frame_batch8": round(latency[8] / (8 * out_frames) * 1000, 1),
        "peak_memory_mb": round(_peak_rss_mb() - baseline, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = args.models or available_models("heatmap")

    console = Console(width=160)  # the table stays whole in logs and CI output
    context = multiprocessing.get_context("spawn")
    rows = []
    for name in names:
        console.print(f"measuring {name} ...")
        with context.Pool(1) as pool:
            rows.append(pool.apply(measure, (name, args.repeats)))

    table = Table(title=f"Models at {INPUT[1]}x{INPUT[0]}, T={FRAMES}, CPU "
                        f"({torch.get_num_threads()} threads), random weights")
    columns = [("model", "model"), ("params (M)", "params_m"), ("T_out", "output_frames"),
               ("GMACs/forward", "gmacs_per_forward"), ("GMACs/frame", "gmacs_per_frame"),
               ("ms/frame b1", "ms_per_frame_batch1"), ("ms/frame b8", "ms_per_frame_batch8"),
               ("peak MB", "peak_memory_mb")]
    for title, _ in columns:
        table.add_column(title, justify="left" if title == "model" else "right")
    for row in rows + ANCHORS:
        table.add_row(*[str(row.get(key, "")) for _, key in columns])
    console.print(table)

    run_dir = new_run_dir("benchmark", "models")
    write_json(run_dir / "results.json", {
        "benchmark": "models",
        "input_hw": INPUT,
        "frames": FRAMES,
        "machine": {"threads": torch.get_num_threads(), "platform": platform.platform(),
                    "torch": torch.__version__},
        "results": rows,
        "anchors": ANCHORS,
        "targets": {"fast_heatmap": {"gmacs_per_frame_max": 9.4, "ms_per_frame_batch8_max": 150}},
    })
    console.print(f"Results saved to [bold green]{run_dir / 'results.json'}[/]")


if __name__ == "__main__":
    main()
