"""Where the deformable encoder looks: a query's sampling points and weights drawn over the frame.

    maps = attention_maps(model, frames, query_xy=(256.0, 140.0))   # frames [T, 3, H, W] uint8
    save_attention_map(frames, maps[-1], "attention.png")          # the last encoder layer

The query is the position of the finest level (stride 4) under `query_xy` (model-input pixels),
where the ball is. Each dot is one sampling point (heads x levels x points), its area the
attention weight, its colour the level it samples.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from tracknet_cli.errors import TracknetError
from tracknet_cli.fileio import atomic_path
from tracknet_cli.model_input import SampleSpec, normalize
from tracknet_cli.models.decoders.deformable_decoder import DeformableFPNDecoder, MSDeformAttn

LEVEL_COLOURS = [(255, 64, 64), (64, 255, 64), (64, 160, 255), (255, 220, 0), (255, 0, 255)]  # RGB


@dataclass
class AttentionMap:
    """One encoder layer's view from one query, in model-input pixels."""

    layer: int
    query: np.ndarray  # [2] (x, y) of the query's pixel centre
    points: np.ndarray  # [M, L, P, 2] sampling locations (x, y)
    weights: np.ndarray  # [M, L, P] attention weights (softmax over L*P per head)


@contextmanager
def _recording(layers: list[MSDeformAttn]):
    for layer in layers:
        layer.record = True
    try:
        yield
    finally:
        for layer in layers:
            layer.record, layer.recorded = False, None


def deformable_decoder(model: torch.nn.Module) -> DeformableFPNDecoder:
    """The model's deformable encoder, or an error saying that attention maps need one."""
    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, DeformableFPNDecoder):
        raise TracknetError(f"attention maps need a PyTorch model with a deformable encoder (such as "
                            f"convnext_deformable_fpn_heatmap); this is a {type(model).__name__} whose "
                            f"decoder is {type(decoder).__name__}")
    return decoder


def attention_maps(model: torch.nn.Module, frames: torch.Tensor, query_xy: tuple[float, float],
                   spec: SampleSpec | None = None) -> list[AttentionMap]:
    """One AttentionMap per encoder layer for the window `frames` ([T, 3, H, W] uint8 RGB, or
    already normalised float with spec None) and the query nearest `query_xy`."""
    layers = [layer.attention for layer in deformable_decoder(model).layers]
    height, width = frames.shape[-2:]
    inputs = normalize(frames, spec.mean, spec.std) if spec is not None else frames
    device = next(model.parameters()).device
    with _recording(layers), torch.no_grad():
        model(inputs[None].to(device))
        recorded = [layer.recorded for layer in layers]
    fine_h, fine_w = recorded[0][2][0]  # the finest level comes first in the token sequence
    column = int(np.clip(query_xy[0] * fine_w / width, 0, fine_w - 1))
    row = int(np.clip(query_xy[1] * fine_h / height, 0, fine_h - 1))
    token = row * fine_w + column
    size = np.array([width, height], dtype=np.float32)
    query = np.array([(column + 0.5) / fine_w, (row + 0.5) / fine_h]) * size  # its reference point
    return [AttentionMap(index, query, locations[0, token].float().cpu().numpy() * size,
                         weights[0, token].float().cpu().numpy())
            for index, (locations, weights, _) in enumerate(recorded)]


def draw_attention(frame_rgb: np.ndarray, attention: AttentionMap) -> np.ndarray:
    """[H, W, 3] uint8 RGB with the sampling points (area by weight, colour by level) and the query
    (white cross) drawn over a dimmed copy of the frame."""
    canvas = np.ascontiguousarray(frame_rgb.astype(np.float32) * 0.6, dtype=np.uint8)
    largest = max(float(np.abs(attention.weights).max()), 1e-12)
    heads, levels, points = attention.weights.shape
    for m in range(heads):
        for level in range(levels):
            colour = LEVEL_COLOURS[level % len(LEVEL_COLOURS)]
            for p in range(points):
                x, y = attention.points[m, level, p]
                radius = max(1, round(6 * np.sqrt(abs(attention.weights[m, level, p]) / largest)))
                cv2.circle(canvas, (round(float(x)), round(float(y))), radius, colour, -1, cv2.LINE_AA)
    qx, qy = (round(float(v)) for v in attention.query)
    cv2.drawMarker(canvas, (qx, qy), (255, 255, 255), cv2.MARKER_CROSS, 12, 2)
    return canvas


def encode_png(image_rgb: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise TracknetError(f"could not encode a {image_rgb.shape} image as PNG")
    return png.tobytes()


def save_attention_map(frames: torch.Tensor, attention: AttentionMap, path: str | Path) -> Path:
    """Draw `attention` over the window's last frame (uint8 [T, 3, H, W]) and write a PNG."""
    frame = frames[-1].permute(1, 2, 0).cpu().numpy().astype(np.uint8)  # [H, W, 3] RGB
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(encode_png(draw_attention(frame, attention)))
    return path
