"""The reference-based detection model: shapes, initialisation, fusion, correlation, gradients."""

import math

import pytest
import torch

from tracknet_cli.models.backbones.convnext_backbone import ConvNeXtBackboneConfig
from tracknet_cli.models.refdet import (
    RefDetConfig,
    RefDetModel,
    TemplateFusion,
    depthwise_correlation,
)


def tiny(fusion="attention"):
    backbone = ConvNeXtBackboneConfig(preset="tiny", use_pretrained=False, return_stages=[1, 2])
    return RefDetConfig(search_size=[128, 96], template_size=[64, 64], fpn_channels=16, corr_channels=8,
                        det_channels=16, template_fusion=fusion, backbone=backbone)


@pytest.mark.parametrize("fusion", ["attention", "average"])
def test_outputs_at_stride_4_and_gradients_everywhere(fusion):
    torch.manual_seed(0)
    model = RefDetModel(tiny(fusion))
    out = model(torch.randn(2, 3, 3, 64, 64), torch.randn(2, 3, 96, 128))
    assert out["objectness"].shape == (2, 24, 32) and out["boxes"].shape == (2, 4, 24, 32)
    boxes = out["boxes"]
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    # each box contains its cell's centre: the head predicts distances to the four sides
    assert (boxes[0, 0, 5, 7] < 7.5 * 4 < boxes[0, 2, 5, 7]) and (boxes[0, 1, 5, 7] < 5.5 * 4 < boxes[0, 3, 5, 7])
    (out["objectness"].mean() + boxes.mean()).backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []


def test_objectness_starts_at_the_prior():
    model = RefDetModel(tiny())
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
