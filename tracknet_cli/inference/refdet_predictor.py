"""Finding an object in images from its three templates, with a trained refdet model.

    predictor = RefdetPredictor.from_checkpoint("runs/train/exp/weights/best.pt")  # or (model, cfg.model)
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

from tracknet_cli.datasets.refdet import model_input
from tracknet_cli.devices import select_device
from tracknet_cli.errors import TracknetError

Detections = tuple[np.ndarray, np.ndarray]  # boxes [K, 4], scores [K]


class RefdetPredictor:
    """`model_cfg` is the model's config section (`search_size`, `template_size`, `mean`, `std`)."""

    def __init__(self, model: torch.nn.Module, model_cfg, device: str | torch.device = "cpu",
                 score_threshold: float = 0.5, nms_iou: float = 0.5, top_k: int = 20, flip_tta: bool = False):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.cfg = model_cfg
        self.score_threshold, self.nms_iou, self.top_k, self.flip_tta = score_threshold, nms_iou, top_k, flip_tta
        self.mean = np.array(model_cfg.mean, dtype=np.float32) * 255
        self.std = np.array(model_cfg.std, dtype=np.float32) * 255

    @classmethod
    def from_checkpoint(cls, weights, device: str = "auto", **kwargs) -> RefdetPredictor:
        """A refdet training checkpoint (or its ONNX export) on `device` (auto: CUDA if there is one)."""
        from tracknet_cli.export import load_weights

        torch_device = select_device(device)
        model, cfg, _ = load_weights(weights, torch_device)
        if cfg.model.task != "refdet":
            raise TracknetError(f"{weights} holds {cfg.model.name!r}, a {cfg.model.task} model, "
                                f"not a reference-based detector (model.task refdet)")
        return cls.from_loaded(model, cfg, torch_device, **kwargs)

    @classmethod
    def from_loaded(cls, model: torch.nn.Module, cfg, device: torch.device, **kwargs) -> RefdetPredictor:
        """From a model and config `load_weights` returned."""
        return cls(model, cfg.model, device, **kwargs)

    def predict(self, templates: list[np.ndarray], image: np.ndarray) -> Detections:
        return self.predict_batch(templates, [image])[0]

    @torch.no_grad()
    def predict_batch(self, templates: list[np.ndarray], images: list[np.ndarray],
                      search: list[np.ndarray] | None = None) -> list[Detections]:
        """Detections in each of `images`; `search` may hold their `search_input`s, made ahead
        (by a decoding thread, say)."""
        if len(templates) != 3:
            raise TracknetError(f"reference detection takes 3 template images, got {len(templates)}")
        kernel = torch.from_numpy(np.stack([model_input(t, tuple(self.cfg.template_size), self.mean, self.std)
                                            for t in templates]))  # [3, 3, th, tw]
        search = search if search is not None else [self.search_input(image) for image in images]
        scores, boxes = self._maps(kernel[None].to(self.device), torch.from_numpy(np.stack(search)).to(self.device))
        return [self._detections(s, b, image.shape[1::-1]) for s, b, image in zip(scores, boxes, images)]

    def search_input(self, image: np.ndarray) -> np.ndarray:
        """BGR image -> the model's search input [3, H, W] float32."""
        return model_input(image, tuple(self.cfg.search_size), self.mean, self.std)

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
        return decode_detections(scores, boxes, tuple(self.cfg.search_size), image_size, self.score_threshold,
                                 self.nms_iou, self.top_k)


def decode_detections(scores: torch.Tensor, boxes: torch.Tensor, search_size: tuple[int, int],
                      image_size: tuple[int, int], score_threshold: float, nms_iou: float = 0.5,
                      top_k: int = 20) -> Detections:
    """One image's maps -> its detections: the cells scoring at least `score_threshold`, suppressed
    by NMS, best first, at most `top_k`, scaled from the search size to `image_size` (W, H) and
    clamped to the image. scores [h, w] probabilities, boxes [4, h, w] in search-size pixels."""
    flat_scores = scores.flatten().float()
    flat_boxes = boxes.flatten(1).T.float()  # [h*w, 4]
    keep = flat_scores >= score_threshold
    flat_scores, flat_boxes = flat_scores[keep], flat_boxes[keep]
    order = flat_scores.argsort(descending=True)[: top_k * 10]  # NMS on a short list: cheap
    flat_scores, flat_boxes = flat_scores[order], flat_boxes[order]
    kept = batched_nms(flat_boxes, flat_scores, torch.zeros_like(flat_scores, dtype=torch.long), nms_iou)[:top_k]
    width, height = image_size
    scale = torch.tensor([width / search_size[0], height / search_size[1]] * 2, device=flat_boxes.device)
    result = flat_boxes[kept] * scale
    result[:, 0::2] = result[:, 0::2].clamp(0, width)
    result[:, 1::2] = result[:, 1::2].clamp(0, height)
    return result.cpu().numpy().astype(np.float64), flat_scores[kept].cpu().numpy().astype(np.float64)
