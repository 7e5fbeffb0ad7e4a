"""Finding an object in images from its three templates, with a trained refdet model.

    predictor = load_predictor("runs/train/exp/weights/best.pt")   # from tracknet_cli.weights
    boxes, scores = predictor.predict(templates, image)        # BGR uint8 images, as cv2 reads them
    results = predictor.predict_batch(templates, images)       # one (boxes, scores) per image

Boxes are (x1, y1, x2, y2) in the image's pixels, clamped to it, after non-maximum suppression and
the score threshold, best first. With `flip_tta` the search image and templates are also read
mirrored and the two objectness maps and box maps are averaged.
"""

from __future__ import annotations

import numpy as np
import torch

from tracknet_cli.errors import TracknetError
from tracknet_cli.model_input import image_input
from tracknet_cli.models.postprocess import decode_detections

Detections = tuple[np.ndarray, np.ndarray]  # boxes [K, 4], scores [K]


class RefdetPredictor:
    """`model_cfg` is the model's config section (`search_size`, `template_size`, `mean`, `std`)."""

    def __init__(self, model: torch.nn.Module, model_cfg, device: str | torch.device = "cpu",
                 threshold: float = 0.5, nms_iou: float = 0.5, top_k: int = 20, flip_tta: bool = False):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.cfg = model_cfg
        self.threshold, self.nms_iou, self.top_k, self.flip_tta = threshold, nms_iou, top_k, flip_tta

    @classmethod
    def from_loaded(cls, model: torch.nn.Module, cfg, device: torch.device, **kwargs) -> RefdetPredictor:
        """From a model and config `weights.load_weights` returned."""
        return cls(model, cfg.model, device, **kwargs)

    def predict(self, templates: list[np.ndarray], image: np.ndarray) -> Detections:
        return self.predict_batch(templates, [image])[0]

    @torch.no_grad()
    def predict_batch(self, templates: list[np.ndarray], images: list[np.ndarray],
                      search: list[torch.Tensor] | None = None) -> list[Detections]:
        """Detections in each of `images`; `search` may hold their `search_input`s, made ahead
        (by a decoding thread, say)."""
        if len(templates) != 3:
            raise TracknetError(f"reference detection takes 3 template images, got {len(templates)}")
        kernel = torch.stack([image_input(t, tuple(self.cfg.template_size), self.cfg.mean, self.cfg.std)
                              for t in templates])  # [3, 3, th, tw]
        search = search if search is not None else [self.search_input(image) for image in images]
        scores, boxes = self._maps(kernel[None].to(self.device), torch.stack(search).to(self.device))
        return [self._detections(s, b, image.shape[1::-1]) for s, b, image in zip(scores, boxes, images)]

    def search_input(self, image: np.ndarray) -> torch.Tensor:
        """BGR image -> the model's search input [3, H, W] float32."""
        return image_input(image, tuple(self.cfg.search_size), self.cfg.mean, self.cfg.std)

    def _maps(self, templates: torch.Tensor, search: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One object's templates [1, 3, 3, th, tw] and search images [B, 3, H, W] -> objectness
        probabilities [B, h, w] and boxes [B, 4, h, w] in search-size pixels."""
        out = self._run(templates, search)
        scores, boxes = out["objectness"].float().sigmoid(), out["boxes"].float()
        if self.flip_tta:
            mirrored = self._run(templates.flip(-1), search.flip(-1))
            width = search.shape[-1]
            back = mirrored["boxes"].flip(-1)  # the map back in place; x1 and x2 swap and mirror
            back = torch.stack([width - back[:, 2], back[:, 1], width - back[:, 0], back[:, 3]], dim=1)
            scores = (scores + mirrored["objectness"].float().sigmoid().flip(-1)) / 2
            boxes = (boxes + back.float()) / 2
        return scores, boxes

    def _run(self, templates: torch.Tensor, search: torch.Tensor) -> dict[str, torch.Tensor]:
        """The templates' kernels once for all images when the model can split its work (PyTorch);
        an exported graph takes the templates with every image."""
        if hasattr(self.model, "template_kernels"):
            kernels = [k.expand(len(search), -1, -1, -1) for k in self.model.template_kernels(templates)]
            return self.model.detect(kernels, search)
        return self.model(templates.expand(len(search), -1, -1, -1, -1), search)

    def _detections(self, scores: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int]) -> Detections:
        return decode_detections(scores, boxes, tuple(self.cfg.search_size), image_size, self.threshold,
                                 self.nms_iou, self.top_k)
