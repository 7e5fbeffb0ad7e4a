"""Finding an object in images from its three templates, with a trained refdet model.

    predictor = RefdetPredictor(model, RefDetConfig(...))
    boxes, scores = predictor.predict(templates, image)        # BGR uint8 images, as cv2 reads them
    results = predictor.predict_batch(templates, images)       # one (boxes, scores) per image

Boxes are (x1, y1, x2, y2) in the image's pixels, clamped to it, after non-maximum suppression and
the score threshold, best first. With `flip_tta` the search image and templates are also read
mirrored and the two objectness maps and box maps are averaged.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import batched_nms

from tracknet_cli.config import IMAGENET_MEAN, IMAGENET_STD
from tracknet_cli.datasets.refdet import model_input
from tracknet_cli.errors import TracknetError
from tracknet_cli.models.refdet import RefDetConfig

Detections = tuple[np.ndarray, np.ndarray]  # boxes [K, 4], scores [K]


class RefdetPredictor:
    def __init__(self, model: torch.nn.Module, cfg: RefDetConfig, device: str | torch.device = "cpu",
                 score_threshold: float = 0.5, nms_iou: float = 0.5, top_k: int = 20, flip_tta: bool = False):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.cfg = cfg
        self.score_threshold, self.nms_iou, self.top_k, self.flip_tta = score_threshold, nms_iou, top_k, flip_tta
        self.mean = np.array(IMAGENET_MEAN, dtype=np.float32) * 255
        self.std = np.array(IMAGENET_STD, dtype=np.float32) * 255

    def predict(self, templates: list[np.ndarray], image: np.ndarray) -> Detections:
        return self.predict_batch(templates, [image])[0]

    @torch.no_grad()
    def predict_batch(self, templates: list[np.ndarray], images: list[np.ndarray]) -> list[Detections]:
        if len(templates) != 3:
            raise TracknetError(f"reference detection takes 3 template images, got {len(templates)}")
        size = tuple(self.cfg.search_size)
        kernel = torch.from_numpy(np.stack([model_input(t, tuple(self.cfg.template_size), self.mean, self.std)
                                            for t in templates]))  # [3, 3, th, tw]
        search = torch.from_numpy(np.stack([model_input(i, size, self.mean, self.std) for i in images]))
        kernel = kernel[None].expand(len(images), -1, -1, -1, -1).to(self.device)
        scores, boxes = self._maps(kernel, search.to(self.device))
        return [self._detections(s, b, image.shape[1::-1]) for s, b, image in zip(scores, boxes, images)]

    def _maps(self, templates: torch.Tensor, search: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Objectness probabilities [B, h, w] and boxes [B, 4, h, w] in search-size pixels."""
        out = self.model(templates, search)
        scores, boxes = out["objectness"].sigmoid(), out["boxes"]
        if self.flip_tta:
            mirrored = self.model(templates.flip(-1), search.flip(-1))
            width = search.shape[-1]
            back = mirrored["boxes"].flip(-1)  # the map back in place; x1 and x2 swap and mirror
            back = torch.stack([width - back[:, 2], back[:, 1], width - back[:, 0], back[:, 3]], dim=1)
            scores = (scores + mirrored["objectness"].sigmoid().flip(-1)) / 2
            boxes = (boxes + back) / 2
        return scores, boxes

    def _detections(self, scores: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int]) -> Detections:
        """The top cells above the threshold, suppressed, scaled to the image and clamped to it."""
        flat_scores = scores.flatten()
        flat_boxes = boxes.flatten(1).T  # [h*w, 4]
        keep = flat_scores >= self.score_threshold
        flat_scores, flat_boxes = flat_scores[keep], flat_boxes[keep]
        order = flat_scores.argsort(descending=True)[: self.top_k * 10]
        flat_scores, flat_boxes = flat_scores[order], flat_boxes[order]
        kept = batched_nms(flat_boxes.float(), flat_scores.float(), torch.zeros_like(flat_scores, dtype=torch.long),
                           self.nms_iou)[: self.top_k]
        width, height = image_size
        scale = torch.tensor([width / self.cfg.search_size[0], height / self.cfg.search_size[1]] * 2,
                             device=flat_boxes.device)
        result = flat_boxes[kept] * scale
        result[:, 0::2] = result[:, 0::2].clamp(0, width)
        result[:, 1::2] = result[:, 1::2].clamp(0, height)
        return result.cpu().numpy().astype(np.float64), flat_scores[kept].cpu().numpy().astype(np.float64)
