"""Run a heatmap model over a dataset and score it frame by frame.

Windows overlap (stride 1, T_out = T): a frame is then predicted by several windows. Their
probability heatmaps are averaged before decoding, so every frame is counted once and gets the
benefit of all its views. Windows arrive in clip order, so a frame is decoded as soon as no later
window can cover it: memory stays at a few heatmaps whatever the dataset size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Subset

from tracknet_cli import distributed
from tracknet_cli.datasets.tracknet import TrackNetSequenceDataset, build_dataset
from tracknet_cli.devices import autocast, autocast_dtype
from tracknet_cli.evaluation.attention_maps import attention_maps, draw_attention, encode_png
from tracknet_cli.evaluation.event_metrics import EventScores
from tracknet_cli.evaluation.event_scoring import TOLERANCES, score_clip_events
from tracknet_cli.evaluation.metrics import (
    OUTCOMES,
    BallMetrics,
    Protocol,
    classify_frames,
    summarize,
)
from tracknet_cli.evaluation.run import EvalOptions
from tracknet_cli.evaluation.worst_frames import crop_examples, worst_frames
from tracknet_cli.geometry import rescale_points
from tracknet_cli.inference.events import check_method
from tracknet_cli.model_input import normalize
from tracknet_cli.models.postprocess import decode_heatmaps, to_original_pixels

PREDICTION_COLUMNS = ["clip", "frame", "visibility", "x", "y", "pred_x", "pred_y", "confidence",
                      "outcome", "error"]


@dataclass
class Evaluation:
    predictions: pd.DataFrame  # PREDICTION_COLUMNS, one row per frame
    metrics: BallMetrics
    per_clip: pd.DataFrame
    protocol: Protocol
    attention_maps: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG (eval --attention-maps)
    examples: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG: the worst frames, cropped
    context: dict = field(default_factory=dict)  # what was scored, for metrics.json: {"windows": N}
    events: EventScores | None = None  # hits and bounces, where the labels have them

    def protocol_record(self) -> dict:
        protocol = self.protocol
        record = {"description": protocol.describe(), "tolerance_px": protocol.tolerance,
                  "resolution": protocol.resolution, "visibility_present": list(protocol.visibility),
                  "pck_radii": list(protocol.pck_radii)}
        if self.events is not None:
            record["events"] = EVENT_PROTOCOL
        return record

    def metrics_record(self) -> dict:
        """metrics.json's metrics: the frames', and the events' under "events" where scored."""
        metrics = self.metrics.as_dict()
        return metrics if self.events is None else {**metrics, "events": self.events.as_dict()}

    def summary(self) -> list[dict]:
        """The printed table: the outcome counts, then the rates under short names, then the
        events' F1 per kind and tolerance where scored."""
        metrics = self.metrics.as_dict()
        counts = metrics.pop("counts")
        del metrics["frames"]
        rows = [counts, {_SHORT.get(k, k.upper() if k.startswith("pck") else k): v for k, v in metrics.items()}]
        if self.events is not None:
            events = self.events.as_dict()
            rows.append({**{f"{kind} F1 ±{t}": events[kind][str(t)]["f1"] for kind in ("hit", "bounce")
                            for t in TOLERANCES},
                         "hits": events["hit"]["1"]["labelled"], "bounces": events["bounce"]["1"]["labelled"],
                         "bounce px": events["bounce_error_px"]["median"]})
        return rows

    def extent(self) -> str:
        return f"{self.metrics.frames} frames"


EVENT_PROTOCOL = ("hits and bounces from each clip's track (the ball-in-play tracker over the "
                  "per-frame predictions, as predict-video makes it); per kind, a predicted event "
                  "matches a labelled one within ±1 or ±2 frames, each once, nearest first; bounce "
                  "error: px between matched bounces (±2) at the labels' resolution")
_SHORT = {"accuracy": "acc", "precision": "P", "recall": "R", "f1": "F1", "mean_l2": "L2 mean",
          "median_l2": "L2 median"}


def evaluate_ball(model: torch.nn.Module, cfg: DictConfig, split: str, options: EvalOptions,
                  on_start: Callable[[int], None] | None = None,
                  progress: Callable[[int], None] | None = None) -> Evaluation:
    """Score a heatmap model on `split` of `cfg.data`: every frame once (overlapping windows
    averaged), under `options.protocol`; with `options.attention_maps` N, also draw where a
    deformable encoder looks from N predicted balls."""
    check_method(options.events)  # before the scoring, not after it
    dataset = build_dataset(cfg, split, train=False, normalize=False)
    if on_start:
        on_start(len(dataset))
    amp_dtype = autocast_dtype(options.device, cfg.training.amp)
    predictions = predict_frames(model, dataset, options.device, options.batch_size, options.threshold,
                                 options.num_workers, amp_dtype, progress)
    evaluation = score(predictions, options.protocol)
    if options.events != "none":
        evaluation.events = score_clip_events(predictions, dataset.clips, cfg.data.root, dataset.spec,
                                              options.events)
    if options.worst_frames:
        files = {(clip.clip_id, int(frame)): name
                 for clip in dataset.clips for frame, name in zip(clip.frames, clip.files)}
        root = Path(cfg.data.root)
        evaluation.examples = crop_examples(worst_frames(evaluation.predictions, options.worst_frames),
                                            lambda row: root / row["clip"] / files[row["clip"], int(row["frame"])],
                                            lambda row: f"{row['clip'].replace('/', '_')}_{int(row['frame']):05d}")
    if options.attention_maps:
        evaluation.attention_maps = draw_attention_examples(model, dataset, predictions, options.attention_maps)
    evaluation.context = {"windows": len(dataset)}
    return evaluation


@torch.no_grad()
def predict_frames(model: torch.nn.Module, dataset: TrackNetSequenceDataset, device: torch.device,
                   batch_size: int = 16, threshold: float = 0.5, num_workers: int = 2,
                   amp_dtype: torch.dtype | None = None,
                   progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Per-frame predictions in original pixels (NaN where no ball), merged over windows.

    In a distributed run each process takes whole clips and rank 0 receives every row.
    """
    windows = [i for i, (clip, _) in enumerate(dataset.windows)
               if clip % distributed.world_size() == distributed.rank()]
    loader = DataLoader(Subset(dataset, windows), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, pin_memory=device.type == "cuda")
    merger = _WindowMerger(dataset, threshold)
    model.eval()
    position = 0
    for batch in loader:
        frames = normalize(batch["frames"].to(device, non_blocking=True), dataset.spec.mean, dataset.spec.std)
        with autocast(device, amp_dtype):
            logits = model(frames)
        probabilities = torch.sigmoid(logits.float()).cpu()  # [B, T_out, Hh, Wh]
        for window_probabilities in probabilities:
            merger.add(dataset.windows[windows[position]], window_probabilities)
            position += 1
        if progress:
            progress(len(probabilities))
    rows = distributed.gather_to_main(merger.finish())
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS[:-2])


def score(predictions: pd.DataFrame, protocol: Protocol) -> Evaluation:
    """Outcome and error per frame, overall metrics, and metrics per clip."""
    predictions = predictions.sort_values(["clip", "frame"], kind="stable").reset_index(drop=True)
    outcomes, errors = classify_frames(predictions[["pred_x", "pred_y"]].to_numpy(float),
                                       predictions[["x", "y"]].to_numpy(float),
                                       predictions["visibility"].to_numpy(int), protocol)
    predictions = predictions.assign(outcome=outcomes, error=errors)
    per_clip = []
    for clip, rows in predictions.groupby("clip", sort=False):
        clip_metrics = summarize(rows["outcome"].to_numpy(), rows["error"].to_numpy(), protocol)
        per_clip.append({"clip": clip, **_flat(clip_metrics)})
    metrics = summarize(outcomes, errors, protocol)
    return Evaluation(predictions, metrics, pd.DataFrame(per_clip), protocol)


def _flat(metrics: BallMetrics) -> dict:
    values = metrics.as_dict()
    counts = values.pop("counts")
    return {**{k: counts.get(k, 0) for k in OUTCOMES}, **values}


class _WindowMerger:
    """Sums each frame's probability heatmaps over the windows that cover it, decodes it when done."""

    def __init__(self, dataset: TrackNetSequenceDataset, threshold: float):
        self.dataset = dataset
        self.threshold = threshold
        self.open: dict[tuple[int, int], list] = {}  # (clip index, row) -> [sum, count]
        self.rows: list[dict] = []

    def add(self, window: tuple[int, int], probabilities: torch.Tensor) -> None:
        clip_index, start = window
        spec = self.dataset.spec
        self._close(lambda key: key[0] != clip_index or key[1] < start)
        first_out = start + spec.frames - spec.output_frames
        for offset, heatmap in enumerate(probabilities):
            entry = self.open.setdefault((clip_index, first_out + offset), [0.0, 0])
            entry[0] = entry[0] + heatmap
            entry[1] += 1

    def finish(self) -> list[dict]:
        self._close(lambda key: True)
        return self.rows

    def _close(self, done: Callable[[tuple[int, int]], bool]) -> None:
        keys = [key for key in self.open if done(key)]
        if not keys:
            return
        mean = torch.stack([self.open[k][0] / self.open[k][1] for k in keys])  # [N, Hh, Wh]
        points, scores = decode_heatmaps(mean, self.threshold, from_logits=False)
        clips = self.dataset.clips
        sizes = np.stack([clips[c].sizes[r] for c, r in keys])
        original = to_original_pixels(points.numpy(), self.dataset.spec.heatmap_size, sizes)
        for (clip_index, row), point, confidence in zip(keys, original, scores.tolist()):
            clip = clips[clip_index]
            self.rows.append({
                "clip": clip.clip_id, "frame": int(clip.frames[row]),
                "visibility": int(clip.visibility[row]),
                "x": float(clip.points[row, 0]), "y": float(clip.points[row, 1]),
                "pred_x": float(point[0]), "pred_y": float(point[1]), "confidence": confidence,
            })
            del self.open[(clip_index, row)]


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
