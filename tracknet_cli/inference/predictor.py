"""A trained heatmap model ready to run: uint8 frame windows in, ball candidates out."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig

from tracknet_cli.devices import autocast, autocast_dtype
from tracknet_cli.errors import ConfigError
from tracknet_cli.geometry import rescale_points
from tracknet_cli.model_input import SampleSpec, normalize
from tracknet_cli.models.heatmap_model import HeatmapModel
from tracknet_cli.models.postprocess import decode_candidates


class Predictor:
    """`predictor(windows uint8 [B, T, H, W, 3] RGB) -> (points [B, T_out, k, 2], scores [B, T_out, k])`
    with points in model-input pixels (NaN where fewer than k peaks clear the threshold).

    A late-fusion model with one output per window can instead be fed a stream of frames
    (`predict_next_frames`): each frame's backbone then runs once, not in each of the T windows
    that hold it.
    """

    def __init__(self, model: torch.nn.Module, spec: SampleSpec, device: torch.device | str,
                 amp: bool = True, threshold: float = 0.5, candidates: int = 3, reuse_frames: bool = True):
        device = torch.device(device)
        self.model = model.eval().to(device)
        self.spec = spec
        self.device = device
        self.amp_dtype = autocast_dtype(device, amp)
        self.threshold = threshold
        self.candidates = candidates
        self.name = getattr(model, "name", type(model).__name__)
        self.reuses_frames = (reuse_frames and isinstance(model, HeatmapModel) and model.fusion is not None
                              and spec.output_frames == 1)
        self._recent: dict[str, torch.Tensor] | None = None  # backbone maps of the last T - 1 frames

    @classmethod
    def from_loaded(cls, model: torch.nn.Module, cfg: DictConfig, device: torch.device,
                    input_size: tuple[int, int] | None = None, **kwargs) -> Predictor:
        """From a model and config `weights.load_weights` returned; `input_size` (W, H) runs it on
        inputs of another size than it was trained on."""
        spec = SampleSpec.from_model_config(cfg.model)
        if input_size is not None:
            if getattr(model, "fixed_input_size", False):  # an ONNX export (`weights.OnnxModel`)
                size = "x".join(map(str, spec.input_size))
                raise ConfigError(f"input size {input_size[0]}x{input_size[1]}: {getattr(model, 'path', 'the model')} "
                                  f"is an ONNX export, fixed at the {size} it was exported at; run its checkpoint")
            spec = spec.at_input_size(input_size)
        predictor = cls(model, spec, device, amp=cfg.training.amp, **kwargs)
        predictor.name = cfg.model.name
        return predictor

    def _inputs(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 [..., H, W, 3] RGB -> normalised float [..., 3, H, W] on the device."""
        x = torch.from_numpy(frames).to(self.device, non_blocking=True)
        return normalize(x.movedim(-1, -3), self.spec.mean, self.spec.std)

    @torch.no_grad()
    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with autocast(self.device, self.amp_dtype):
            logits = self.model(self._inputs(windows))  # [B, T_out, Hh, Wh]
        return self._candidates(logits)

    def start_stream(self) -> None:
        self._recent = None

    @torch.no_grad()
    def predict_next_frames(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next B frames [B, H, W, 3] of a stream -> one output per frame, from the window of
        T frames ending at it (the stream's first frame repeated before it starts)."""
        length = self.spec.frames
        x = self._inputs(frames)  # [B, 3, H, W]
        with autocast(self.device, self.amp_dtype):
            features = self.model.backbone(x)  # each frame's maps, once: {name: [B, C, h, w]}
            if self._recent is None:
                self._recent = {name: f[:1].expand(length - 1, *f.shape[1:]) for name, f in features.items()}
            stacked = {name: torch.cat([self._recent[name], f]) for name, f in features.items()}  # [T-1+B, ...]
            # window j holds frames j .. j+T-1 of the stack: [B, T, C, h, w] -> [B * T, C, h, w]
            windows = {name: f.unfold(0, length, 1).movedim(-1, 1).flatten(0, 1) for name, f in stacked.items()}
            logits = self.model.decode_frames(windows, x.shape[-2:])  # [B, 1, Hh, Wh]
        self._recent = {name: f[-(length - 1):] for name, f in stacked.items()}
        return self._candidates(logits)

    def _candidates(self, logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        points, scores = decode_candidates(logits.flatten(0, 1), self.threshold, self.candidates)
        b, t_out = logits.shape[:2]
        heatmap_size = (logits.shape[-1], logits.shape[-2])
        points = rescale_points(points.cpu().numpy().astype(np.float64), heatmap_size, self.spec.input_size)
        return points.reshape(b, t_out, -1, 2), scores.cpu().numpy().reshape(b, t_out, -1)
