"""Run a heatmap model over a dataset and score it frame by frame.

Windows overlap (stride 1, T_out = T): a frame is then predicted by several windows. Their
probability heatmaps are averaged before decoding, so every frame is counted once and gets the
benefit of all its views. Windows arrive in clip order, so a frame is decoded as soon as no later
window can cover it: memory stays at a few heatmaps whatever the dataset size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Subset

from tracknet_cli.datasets.tracknet import TrackNetSequenceDataset, normalize_frames
from tracknet_cli.devices import autocast
from tracknet_cli.evaluation.decode import decode_heatmaps, to_original_pixels
from tracknet_cli.evaluation.metrics import (
    OUTCOMES,
    BallMetrics,
    Protocol,
    classify_frames,
    summarize,
)
from tracknet_cli.training import distributed

PREDICTION_COLUMNS = ["clip", "frame", "visibility", "x", "y", "pred_x", "pred_y", "confidence",
                      "outcome", "error"]


@dataclass
class Evaluation:
    predictions: pd.DataFrame  # PREDICTION_COLUMNS, one row per frame
    metrics: BallMetrics
    per_clip: pd.DataFrame
    protocol: Protocol
    attention_maps: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG (eval --attention-maps)

    def protocol_record(self) -> dict:
        protocol = self.protocol
        return {"description": protocol.describe(), "tolerance_px": protocol.tolerance,
                "resolution": protocol.resolution, "visibility_present": list(protocol.visibility),
                "pck_radii": list(protocol.pck_radii)}


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
        frames = normalize_frames(batch["frames"].to(device, non_blocking=True), dataset.spec)
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
