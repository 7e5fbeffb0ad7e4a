"""A trained heatmap model ready to run: uint8 frame windows in, ball candidates out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tracknet_cli.datasets.geometry import rescale_points
from tracknet_cli.datasets.tracknet import SampleSpec, normalize_frames
from tracknet_cli.devices import autocast, autocast_dtype, select_device
from tracknet_cli.evaluation.decode import decode_candidates
from tracknet_cli.training.checkpoint import load_model


class Predictor:
    """`predictor(windows uint8 [B, T, H, W, 3] RGB) -> (points [B, T_out, k, 2], scores [B, T_out, k])`
    with points in model-input pixels (NaN where fewer than k peaks clear the threshold)."""

    def __init__(self, model: torch.nn.Module, spec: SampleSpec, device: torch.device | str,
                 amp: bool = True, threshold: float = 0.5, candidates: int = 3):
        device = torch.device(device)
        self.model = model.eval().to(device)
        self.spec = spec
        self.device = device
        self.amp_dtype = autocast_dtype(device, amp)
        self.threshold = threshold
        self.candidates = candidates
        self.name = getattr(model, "name", type(model).__name__)

    @classmethod
    def from_checkpoint(cls, weights: str | Path, device: str = "auto", **kwargs) -> Predictor:
        torch_device = select_device(device)
        model, cfg, _ = load_model(weights, torch_device)
        predictor = cls(model, SampleSpec.from_model_config(cfg.model), torch_device,
                        amp=cfg.training.amp, **kwargs)
        predictor.name = cfg.model.name
        return predictor

    @torch.no_grad()
    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames = torch.from_numpy(windows).to(self.device, non_blocking=True)
        frames = normalize_frames(frames.permute(0, 1, 4, 2, 3), self.spec)  # [B, T, 3, H, W]
        with autocast(self.device, self.amp_dtype):
            logits = self.model(frames)  # [B, T_out, Hh, Wh]
        points, scores = decode_candidates(logits.flatten(0, 1), self.threshold, self.candidates)
        b, t_out = logits.shape[:2]
        heatmap_size = (logits.shape[-1], logits.shape[-2])
        points = rescale_points(points.cpu().numpy().astype(np.float64), heatmap_size, self.spec.input_size)
        return points.reshape(b, t_out, -1, 2), scores.cpu().numpy().reshape(b, t_out, -1)
