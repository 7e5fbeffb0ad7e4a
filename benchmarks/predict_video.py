"""Video prediction speed: model-only against end to end, on the real broadcast fixture.

    uv run python benchmarks/predict_video.py                       # fast preset, convnext_fpn_heatmap
    uv run python benchmarks/predict_video.py --models fast_heatmap --device cuda --batch 16
    uv run python benchmarks/predict_video.py --models builtin      # trained weights (a path, or builtin)
    uv run python benchmarks/predict_video.py --models builtin --input-sizes trained,768x432

Per model (a registered config with random weights, or trained weights): model-only frames/s (forward passes on
pre-made input tensors of the same batch, median of `--repeats`) and end-to-end frames/s of
`predict_video` on the video (decode, letterbox, model, candidates, trajectory, CSV and the
overlay video), and their ratio. The video's own cost is measured too, per frame and per stage
on one thread: decoding (both passes), letterboxing, drawing, and encoding (the ffmpeg process's
CPU time); `video_io_ms` is their sum. On a CPU that work
shares the cores with the model, so end to end cannot beat model + video I/O / cores: `cpu_ceiling`
is the ratio that bound allows. Prints one table and writes `results.json` into
`runs/benchmark/predict_video*/`.
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from tracknet_cli.cli.options import parse_size
from tracknet_cli.datasets.video import VideoReader
from tracknet_cli.datasets.video_writer import H264, video_writer
from tracknet_cli.devices import autocast, select_device
from tracknet_cli.fileio import write_json
from tracknet_cli.inference.overlay import draw_ball
from tracknet_cli.inference.predictor import Predictor
from tracknet_cli.inference.video_prediction import VideoOptions, predict_video
from tracknet_cli.model_input import Letterbox, SampleSpec
from tracknet_cli.runs import new_run_dir
from tracknet_cli.tasks import available_models, build_model, load_config
from tracknet_cli.timing import median_ms
from tracknet_cli.weights import BUILTIN_NAME, choose_weights, load_predictor

FIXTURE = Path(__file__).resolve().parents[2] / "shared/fixtures/videos/tennis_broadcast_1080p.mp4"


def model_only_fps(predictor: Predictor, batch: int, repeats: int) -> float:
    spec = predictor.spec
    frames = torch.randn(batch, spec.frames, 3, spec.input_size[1], spec.input_size[0], device=predictor.device)
    with torch.inference_mode(), autocast(predictor.device, predictor.amp_dtype):
        milliseconds = median_ms(lambda: predictor.model(frames), predictor.device, repeats)
    return batch * spec.output_frames / milliseconds * 1000


def end_to_end_fps(predictor: Predictor, video: Path, batch: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        options = VideoOptions(batch_size=batch, overlay=True)
        predict_video(video, predictor, out, options)  # warm-up: allocator, codec
        result = predict_video(video, predictor, out, options)
    return result.fps, result.frames


def video_io_stages(video: Path, input_size: tuple[int, int]) -> dict[str, float]:
    """Milliseconds per frame of each stage of predict-video's work on the video itself, on one
    thread: decoding (done twice: detection, then the overlay), letterboxing to the model's input,
    drawing the ball, and encoding the overlay, which runs in the ffmpeg process and is measured as
    that process's CPU time (mp4v, without ffmpeg, is encoded in this process: its wall time)."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    spent = dict.fromkeys(("decode", "letterbox", "draw", "encode"), 0.0)
    try:
        with VideoReader(video) as reader:
            letterbox = Letterbox.fit((reader.info.width, reader.info.height), input_size)
            frames, size, decoded = 0, (reader.info.width, reader.info.height), iter(reader)
            while True:
                started = time.perf_counter()
                frame = next(decoded, None)
                spent["decode"] += time.perf_counter() - started
                if frame is None:
                    break
                started = time.perf_counter()
                letterbox.apply(frame)
                spent["letterbox"] += time.perf_counter() - started
                frames += 1
        track = np.full((frames, 2), [size[0] / 2, size[1] / 2])
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        with tempfile.TemporaryDirectory() as out, VideoReader(video) as reader:
            with video_writer(Path(out) / "overlay.mp4", reader.info.fps, size) as writer:
                decoded = iter(reader)
                for index in range(frames):
                    started = time.perf_counter()
                    frame = next(decoded)
                    drawn = time.perf_counter()
                    draw_ball(frame, track, np.zeros(frames, dtype=bool), index, trail=12)
                    written = time.perf_counter()
                    writer.write(frame)
                    spent["decode"] += drawn - started
                    spent["draw"] += written - drawn
                    spent["encode"] += time.perf_counter() - written if writer.codec != H264 else 0.0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent["encode"] += (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        return {stage: seconds * 1000 / frames for stage, seconds in spent.items()}
    finally:
        cv2.setNumThreads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="fast_heatmap,convnext_fpn_heatmap",
                        help=f"comma-separated: registered names (random weights), weights files or {BUILTIN_NAME}")
    parser.add_argument("--video", type=Path, default=FIXTURE)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--input-sizes", default="trained", help="comma-separated WIDTHxHEIGHT each model runs at "
                        "(predict-video --input-size); trained: the size in its config")
    args = parser.parse_args()
    sizes = [None if size == "trained" else parse_size(size) for size in args.input_sizes.split(",")]
    device = select_device(args.device)
    rows = []
    for name, size in [(name, size) for name in args.models.split(",") for size in sizes]:
        if name in available_models():
            cfg = load_config(model=name, overrides=["model.backbone.use_pretrained=false"])
            spec = SampleSpec.from_model_config(cfg.model)
            predictor = Predictor(build_model(cfg.model), spec if size is None else spec.at_input_size(size), device)
        else:
            predictor = load_predictor(choose_weights(name), str(device), task="heatmap", input_size=size)
        model_fps = model_only_fps(predictor, args.batch, args.repeats)
        e2e_fps, frames = end_to_end_fps(predictor, args.video, args.batch)
        stages = video_io_stages(args.video, predictor.spec.input_size)
        io_ms = sum(stages.values())
        model_ms = 1000 / model_fps
        ceiling = model_ms / (model_ms + io_ms / torch.get_num_threads()) if device.type == "cpu" else None
        rows.append({"model": name, "input": "x".join(map(str, predictor.spec.input_size)),
                     "device": str(device), "batch": args.batch, "frames": frames,
                     "model_only_fps": round(model_fps, 1), "end_to_end_fps": round(e2e_fps, 1),
                     "ratio": round(e2e_fps / model_fps, 3),
                     **{f"{stage}_ms": round(ms, 1) for stage, ms in stages.items()}, "video_io_ms": round(io_ms, 1),
                     "cpu_ceiling": ceiling and round(ceiling, 3)})
    table = Table(title=f"predict-video on {args.video.name}: {device}, batch {args.batch}, "
                        f"{torch.get_num_threads()} CPU threads")
    columns = [key for key in rows[0] if key not in ("device", "batch")]
    for key in columns:
        table.add_column(key, justify="right" if key != "model" else "left")
    for row in rows:
        table.add_row(*[str(row[key]) for key in columns])
    Console(width=120).print(table)
    run_dir = new_run_dir("benchmark", "predict_video")
    write_json(run_dir / "results.json", {"platform": platform.platform(), "torch": torch.__version__,
                                          "video": str(args.video), "rows": rows})
    print(f"Results saved to {run_dir / 'results.json'}")


if __name__ == "__main__":
    main()
