"""The reference-based detection model: shapes, initialisation, fusion, correlation, gradients;
prediction (decoding, suppression, scaling, clamping, flip TTA) with a stand-in model."""

import math

import cv2
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from tracknet_cli.errors import TracknetError
from tracknet_cli.inference.refdet_predictor import RefdetPredictor
from tracknet_cli.models.refdet import RefdetModelConfig, TemplateFusion, depthwise_correlation
from tracknet_cli.tasks import build_model, load_config

TINY = ["model.search_size=[128,96]", "model.template_size=[64,64]", "model.fpn_channels=16",
        "model.corr_channels=8", "model.det_channels=16", "model.backbone.preset=tiny",
        "model.backbone.use_pretrained=false", "model.backbone.return_stages=[1,2]"]


def tiny(fusion="attention"):
    return build_model(load_config("refdet_synthetic", "convnext_refdet", "default",
                                   TINY + [f"model.template_fusion={fusion}"]).model)


@pytest.mark.parametrize("fusion", ["attention", "average"])
def test_outputs_at_stride_4_and_gradients_everywhere(fusion):
    torch.manual_seed(0)
    model = tiny(fusion)
    out = model(torch.randn(2, 3, 3, 64, 64), torch.randn(2, 3, 96, 128))
    assert out["objectness"].shape == (2, 24, 32) and out["boxes"].shape == (2, 4, 24, 32)
    boxes = out["boxes"]
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    # each box contains its cell's centre: the head predicts distances to the four sides
    assert (boxes[0, 0, 5, 7] < 7.5 * 4 < boxes[0, 2, 5, 7]) and (boxes[0, 1, 5, 7] < 5.5 * 4 < boxes[0, 3, 5, 7])
    (out["objectness"].mean() + boxes.mean()).backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []


def test_objectness_starts_at_the_prior():
    model = tiny()
    assert model.objectness.bias.item() == pytest.approx(math.log(0.01 / 0.99)) == pytest.approx(-4.595, abs=1e-3)


def test_depthwise_correlation_finds_the_pattern():
    search = torch.zeros(1, 2, 9, 9)
    kernel = torch.zeros(1, 2, 3, 3)
    kernel[0, 0] = torch.tensor([[0.0, 1, 0], [1, 2, 1], [0, 1, 0]])  # a plus sign, channel 0 only
    search[0, 0, 6, 2] = 2
    search[0, 0, 5:8, 2] += torch.tensor([1.0, 0, 1])
    search[0, 0, 6, 1:4] += torch.tensor([1.0, 0, 1])
    out = depthwise_correlation(search, kernel)
    assert out.shape == (1, 2, 9, 9) and out[0, 1].abs().sum() == 0  # channels stay apart
    assert divmod(out[0, 0].argmax().item(), 9) == (6, 2)


def test_template_fusion_weights_sum_to_one():
    maps = torch.randn(2, 3, 8, 4, 4)
    torch.testing.assert_close(TemplateFusion(8, "average")(maps), maps.mean(dim=1))
    fused = TemplateFusion(8, "attention")(maps[:, :1].expand(-1, 3, -1, -1, -1))
    torch.testing.assert_close(fused, maps[:, 0])  # identical templates: any weights give the same map
    with pytest.raises(ValueError, match="template_fusion 'max'"):
        TemplateFusion(8, "max")


# --- prediction ------------------------------------------------------------------------------

class BrightSpot(torch.nn.Module):
    """A stand-in model: objectness where the search image is bright, 16x16 boxes about each cell."""

    def forward(self, templates, search):
        brightness = torch.nn.functional.avg_pool2d(search.mean(dim=1, keepdim=True), 4)[:, 0]  # [B, h, w]
        h, w = brightness.shape[-2:]
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) * 4
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) * 4
        cx, cy = xs.view(1, 1, w).expand(len(search), h, w), ys.view(1, h, 1).expand(len(search), h, w)
        boxes = torch.stack([cx - 8, cy - 8, cx + 8, cy + 8], dim=1)
        return {"objectness": 8 * (brightness - 1.0), "boxes": boxes}


def scene(size=(128, 96), spot=(40, 30)):
    image = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.rectangle(image, (spot[0] - 6, spot[1] - 6), (spot[0] + 6, spot[1] + 6), (255, 255, 255), -1)
    return image


@pytest.mark.parametrize("flip_tta", [False, True])
def test_predict_finds_the_spot_once_in_original_pixels(flip_tta):
    cfg = OmegaConf.structured(RefdetModelConfig(search_size=[64, 48], template_size=[32, 32]))
    predictor = RefdetPredictor(BrightSpot(), cfg, threshold=0.5, flip_tta=flip_tta)
    templates = [np.zeros((32, 32, 3), np.uint8)] * 3
    boxes, scores = predictor.predict(templates, scene())  # a 128x96 image, read at 64x48
    assert len(boxes) == 1 and scores[0] > 0.5  # the neighbouring cells' boxes are suppressed
    centre = (boxes[0, :2] + boxes[0, 2:]) / 2
    assert np.abs(centre - [40, 30]).max() <= 8 and np.allclose(boxes[0, 2:] - boxes[0, :2], 32)  # 16 px x 2
    corner = predictor.predict(templates, scene(spot=(4, 4)))[0]
    assert corner[0, 0] == 0 and corner[0, 1] == 0  # clamped to the image
    empty_boxes, empty_scores = predictor.predict(templates, np.zeros((96, 128, 3), np.uint8))
    assert empty_boxes.shape == (0, 4) and empty_scores.shape == (0,)  # nothing above the threshold
    batch = predictor.predict_batch(templates, [scene(), np.zeros((96, 128, 3), np.uint8)])
    assert [len(b) for b, _ in batch] == [1, 0]
    with pytest.raises(TracknetError, match="3 template images, got 2"):
        predictor.predict(templates[:2], scene())
