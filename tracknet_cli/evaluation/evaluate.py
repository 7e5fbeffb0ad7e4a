"""`tracknet eval`: a checkpoint on a dataset split, with the protocol written into every report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tracknet_cli.config import apply_overrides, check_task_data, load_config
from tracknet_cli.datasets.geometry import rescale_points
from tracknet_cli.datasets.refdet import build_refdet_dataset
from tracknet_cli.datasets.tracknet import TrackNetSequenceDataset, build_dataset
from tracknet_cli.devices import autocast_dtype, select_device
from tracknet_cli.evaluation.evaluator import Evaluation, predict_frames, score
from tracknet_cli.evaluation.metrics import Protocol
from tracknet_cli.evaluation.refdet_evaluator import RefdetEvaluation, predict_detections, score_detections
from tracknet_cli.export import load_weights
from tracknet_cli.fileio import atomic_path, write_json
from tracknet_cli.inference.attention_maps import attention_maps, deformable_decoder, draw_attention, encode_png


def evaluate_checkpoint(weights: str | Path, split: str | None = None, data: str | None = None,
                        protocol: Protocol = Protocol(), threshold: float = 0.5, batch_size: int = 16,
                        device: str = "auto", num_workers: int = 2, overrides: list[str] | tuple = (),
                        on_start: Callable[[int], None] | None = None,
                        progress: Callable[[int], None] | None = None,
                        attention_maps: int = 0) -> tuple[Evaluation | RefdetEvaluation, dict]:
    """Score `weights` (a checkpoint or an ONNX export) on `split` (default: test for ball models,
    val for refdet ones) of its own dataset, or of the data config `data`. `threshold` is the
    heatmap peak (ball) or the box score (refdet) that counts as a detection; with
    `attention_maps` N, also draw where a deformable encoder looks from N predicted balls."""
    torch_device = select_device(device)
    model, cfg, checkpoint = load_weights(weights, torch_device)
    if attention_maps:  # refused before the scoring, not after it
        deformable_decoder(model)
    if data is not None:
        cfg.data = load_config(data=data, model=None).data
    cfg = apply_overrides(cfg, overrides)
    check_task_data(cfg)
    refdet = cfg.model.task == "refdet"
    split = split or ("val" if refdet else "test")
    dataset = build_refdet_dataset(cfg, split) if refdet else build_dataset(cfg, split, train=False, normalize=False)
    if on_start:
        on_start(len(dataset))
    amp_dtype = autocast_dtype(torch_device, cfg.training.amp)
    if refdet:
        detections = predict_detections(model, dataset, torch_device, batch_size, num_workers, amp_dtype, progress)
        evaluation = score_detections(detections, threshold)
    else:
        predictions = predict_frames(model, dataset, torch_device, batch_size, threshold, num_workers,
                                     amp_dtype, progress)
        evaluation = score(predictions, protocol)
        if attention_maps:
            evaluation.attention_maps = draw_attention_examples(model, dataset, predictions, attention_maps)
    context = {"weights": str(weights), "model": cfg.model.name, "task": cfg.model.task, "data": cfg.data.name,
               "root": cfg.data.root, "split": split, "threshold": threshold,
               "epoch": checkpoint["epoch"], ("images" if refdet else "windows"): len(dataset)}
    return evaluation, context


def save_evaluation(evaluation: Evaluation | RefdetEvaluation, context: dict, run_dir: Path) -> None:
    """metrics.json (with the protocol), predictions.csv (a row per frame or image), per_clip.csv
    (a row per clip, or per object for refdet)."""
    write_json(run_dir / "metrics.json", {**context, "protocol": evaluation.protocol_record(),
                                          "metrics": evaluation.metrics.as_dict()})
    for name, table in (("predictions.csv", evaluation.predictions), ("per_clip.csv", evaluation.per_clip)):
        with atomic_path(run_dir / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.3f")
    for name, png in evaluation.attention_maps.items():
        with atomic_path(run_dir / "attention" / name) as tmp:
            tmp.write_bytes(png)


def draw_attention_examples(model: torch.nn.Module, dataset: TrackNetSequenceDataset,
                            predictions: pd.DataFrame, count: int) -> dict[str, bytes]:
    """PNGs of the last encoder layer's sampling points, queried at the predicted ball of `count`
    windows spread over the split (windows whose last frame has a prediction)."""
    predicted = predictions.dropna(subset=["pred_x"]).set_index(["clip", "frame"])
    candidates = []
    for item in range(len(dataset)):
        clip, start = dataset.windows[item]
        clip_id, frame = dataset.clips[clip].clip_id, int(dataset.clips[clip].frames[start + dataset.spec.frames - 1])
        if (clip_id, frame) in predicted.index:
            candidates.append((item, clip_id, frame))
    chosen = [candidates[i] for i in np.linspace(0, len(candidates) - 1, min(count, len(candidates))).astype(int)]
    images = {}
    for item, clip_id, frame in chosen:
        sample = dataset[item]
        original_size = tuple(sample["meta"]["size"].tolist())
        row = predicted.loc[(clip_id, frame)]
        query = rescale_points(np.array([row["pred_x"], row["pred_y"]]), original_size, dataset.spec.input_size)
        last_layer = attention_maps(model, sample["frames"], tuple(query), dataset.spec)[-1]
        image = draw_attention(sample["frames"][-1].permute(1, 2, 0).numpy(), last_layer)
        images[f"{clip_id.replace('/', '_')}_{frame:05d}.png"] = encode_png(image)
    return images
