"""Model outputs to answers: heatmap peaks to ball positions, detection maps to boxes.

Heatmap decoding gives one sub-pixel ball position per heatmap (or none), or the k best peaks.

The peak pixel only locates the ball to half a pixel of the heatmap, which is several pixels of
the original frame. The targets are Gaussians and the log of a Gaussian is a parabola, so a
parabola through the log-probabilities of the peak and its two neighbours along each axis puts the
ball back where the label was, exactly for a target and closely for a good prediction.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tracknet_cli.geometry import rescale_points

# log(0) would make the parabola through a zero neighbour NaN; the smallest float32 keeps it finite.
_LOG_FLOOR = float(np.log(np.finfo(np.float32).tiny))


def decode_heatmaps(
    logits: torch.Tensor, threshold: float = 0.5, from_logits: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, Hh, Wh] heatmaps -> (points [N, 2] (x, y) in heatmap pixels, NaN where no ball,
    scores [N]).

    The score is the peak probability whether or not it clears `threshold`, so callers can sweep
    thresholds or report confidence without decoding again. Outputs are float32 on the input's
    device, whatever its dtype.
    """
    if logits.ndim != 3:
        raise ValueError(f"expected heatmaps [N, Hh, Wh], got shape {tuple(logits.shape)}")
    maps = logits.detach().float()
    peak = maps.flatten(1).argmax(dim=1, keepdim=True)  # [N, 1]: sigmoid is monotone
    points, scores = _refine(maps, peak, from_logits)
    points, scores = points[:, 0], scores[:, 0]
    points[~(scores >= threshold)] = float("nan")  # a NaN heatmap has no ball either
    return points, scores


def decode_candidates(
    logits: torch.Tensor, threshold: float = 0.5, k: int = 3, from_logits: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, Hh, Wh] -> the k strongest local peaks per heatmap that clear `threshold`:
    (points [N, k, 2] in heatmap pixels, scores [N, k]), best first, NaN points and score 0 where a
    heatmap has fewer. A tracker picks among them by continuity (a ball and a look-alike)."""
    if logits.ndim != 3:
        raise ValueError(f"expected heatmaps [N, Hh, Wh], got shape {tuple(logits.shape)}")
    maps = logits.detach().float()
    n, height, width = maps.shape
    # a local peak is the pixel its own 5x5 window picks as the maximum: one candidate per blob,
    # also where two pixels tie (the window picks the first of them)
    _, chosen = F.max_pool2d(maps[:, None], 5, stride=1, padding=2, return_indices=True)
    is_peak = chosen[:, 0] == torch.arange(height * width, device=maps.device).view(height, width)
    peak_values = torch.where(is_peak, maps, torch.full_like(maps, -float("inf")))
    k = min(k, height * width)
    top = peak_values.flatten(1).topk(k, dim=1)  # [N, k]; -inf where a map has fewer peaks
    points, scores = _refine(maps, top.indices, from_logits)
    found = (scores >= threshold) & torch.isfinite(top.values)
    points[~found] = float("nan")
    return points, torch.where(found, scores, torch.zeros_like(scores))


def _refine(maps: torch.Tensor, index: torch.Tensor, from_logits: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-pixel points [N, k, 2] and probabilities [N, k] at flat pixel indices [N, k]."""
    n, height, width = maps.shape
    rows, cols = index // width, index % width
    frames = torch.arange(n, device=maps.device)[:, None]

    def log_prob_at(dy: int, dx: int) -> torch.Tensor:
        value = maps[frames, (rows + dy).clamp(0, height - 1), (cols + dx).clamp(0, width - 1)]
        log_prob = F.logsigmoid(value) if from_logits else value.log()
        return log_prob.clamp_min(_LOG_FLOOR)

    centre = log_prob_at(0, 0)
    dx = _parabola_offset(log_prob_at(0, -1), centre, log_prob_at(0, 1), cols, width)
    dy = _parabola_offset(log_prob_at(-1, 0), centre, log_prob_at(1, 0), rows, height)
    points = torch.stack([cols + dx, rows + dy], dim=-1)
    scores = maps[frames, rows, cols]
    return points, torch.sigmoid(scores) if from_logits else scores


def _parabola_offset(
    before: torch.Tensor, centre: torch.Tensor, after: torch.Tensor,
    index: torch.Tensor, length: int,
) -> torch.Tensor:
    """Sub-pixel offset of a parabola's vertex through three log-probabilities, within [-0.5, 0.5].

    Zero at the border (one neighbour missing) or where a neighbour is not lower than the peak
    (a plateau has no single vertex), so the peak pixel itself is kept there.
    """
    rise_before, rise_after = centre - before, centre - after
    usable = (index > 0) & (index < length - 1) & (rise_before > 0) & (rise_after > 0)
    curvature = torch.where(usable, rise_before + rise_after, torch.ones_like(centre))
    offset = (rise_before - rise_after) / (2 * curvature)
    return torch.where(usable, offset.clamp(-0.5, 0.5), torch.zeros_like(offset))


def to_original_pixels(
    points: np.ndarray | torch.Tensor, heatmap_size: tuple[int, int], original_sizes: np.ndarray
) -> np.ndarray:
    """Heatmap-pixel points [N, 2] -> original-frame pixels; NaN stays NaN.

    `original_sizes` is one (W, H) per row [N, 2], or a single (W, H) for all rows.

    Metrics are measured in the original frame, and a batch may mix clips of different sizes, so
    each distinct size gets geometry's pixel-centre resize map.
    """
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sizes = np.broadcast_to(np.asarray(original_sizes), points.shape)
    unique_sizes, which = np.unique(sizes, axis=0, return_inverse=True)
    which = which.reshape(-1)  # numpy 2.0.x returns the inverse with the input's shape
    original = np.empty_like(points)
    for group, (width, height) in enumerate(unique_sizes):
        rows = which == group
        original[rows] = rescale_points(points[rows], heatmap_size, (width, height))
    return original


def decode_detections(scores: torch.Tensor, boxes: torch.Tensor, search_size: tuple[int, int],
                      image_size: tuple[int, int], score_threshold: float, nms_iou: float = 0.5,
                      top_k: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """One image's maps -> its detections: the cells scoring at least `score_threshold`, suppressed
    by NMS, best first, at most `top_k`, scaled from the search size to `image_size` (W, H) and
    clamped to the image. scores [h, w] probabilities, boxes [4, h, w] in search-size pixels."""
    flat_scores = scores.flatten().float()
    flat_boxes = boxes.flatten(1).T.float()  # [h*w, 4]
    keep = flat_scores >= score_threshold
    flat_scores, flat_boxes = flat_scores[keep], flat_boxes[keep]
    order = flat_scores.argsort(descending=True)[: top_k * 10]  # NMS on a short list: cheap
    flat_scores, flat_boxes = flat_scores[order], flat_boxes[order]
    from torchvision.ops import batched_nms  # imported here: torchvision.ops takes seconds, ball models never need it

    kept = batched_nms(flat_boxes, flat_scores, torch.zeros_like(flat_scores, dtype=torch.long), nms_iou)[:top_k]
    width, height = image_size
    scale = torch.tensor([width / search_size[0], height / search_size[1]] * 2, device=flat_boxes.device)
    result = flat_boxes[kept] * scale
    result[:, 0::2] = result[:, 0::2].clamp(0, width)
    result[:, 1::2] = result[:, 1::2].clamp(0, height)
    return result.cpu().numpy().astype(np.float64), flat_scores[kept].cpu().numpy().astype(np.float64)
