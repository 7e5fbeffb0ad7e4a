"""Heatmap losses against values computed by hand."""

import math

import pytest
import torch

from tracknet_cli.training.losses import build_loss
from tracknet_cli.training.losses.heatmap import focal_loss, mse_loss, wbce_loss


def _case():
    """Two frames of 1x3 pixels: frame 0 has its ball at pixel 1, frame 1 has none."""
    logits = torch.tensor([[[[0.0, 2.0, -1.0]], [[-3.0, 0.0, 1.0]]]])  # [B=1, T=2, H=1, W=3]
    targets = torch.tensor([[[[0.5, 1.0, 0.25]], [[0.0, 0.0, 0.0]]]])
    return logits, targets


def sig(x):
    return 1 / (1 + math.exp(-x))


def test_mse_by_hand():
    logits, targets = _case()
    total, count = mse_loss(logits, targets, torch.tensor([[True, True]]))
    expected = sum((sig(x) - t) ** 2 for x, t in zip([0, 2, -1, -3, 0, 1], [0.5, 1, 0.25, 0, 0, 0]))
    assert total.item() == pytest.approx(expected, rel=1e-6) and count.item() == 6


def test_focal_by_hand():
    logits, targets = _case()
    total, count = focal_loss(logits, targets, torch.tensor([[True, True]]))
    p = [sig(x) for x in (0, 2, -1, -3, 0, 1)]
    t = [0.5, 1.0, 0.25, 0, 0, 0]
    expected = -(1 - p[1]) ** 2 * math.log(p[1])  # the peak of frame 0 is its positive
    for i in (0, 2, 3, 4, 5):
        expected -= (1 - t[i]) ** 4 * p[i] ** 2 * math.log(1 - p[i])
    assert count.item() == 1  # one ball: frame 1 has none
    assert total.item() == pytest.approx(expected, rel=1e-6)


def test_wbce_by_hand():
    logits, targets = _case()
    total, count = wbce_loss(logits, targets, torch.tensor([[True, True]]))
    expected = 0.0
    for x, t in zip([0, 2, -1, -3, 0, 1], [0.5, 1, 0.25, 0, 0, 0]):
        p = sig(x)
        expected -= (1 - p) ** 2 * t * math.log(p) + p ** 2 * (1 - t) * math.log(1 - p)
    assert total.item() == pytest.approx(expected, rel=1e-6) and count.item() == 6


@pytest.mark.parametrize("name", ["mse", "focal", "wbce"])
def test_mask_removes_frames(name):
    logits, targets = _case()
    loss = build_loss(type("Cfg", (), {"name": name}))
    only_first, _ = loss(logits[:, :1], targets[:, :1], torch.tensor([[True]]))
    masked, _ = loss(logits, targets, torch.tensor([[True, False]]))
    assert masked.item() == pytest.approx(only_first.item())
    nothing, count = loss(logits, targets, torch.tensor([[False, False]]))
    assert nothing.item() == 0 and count.item() == 0


def test_gradient_flows_and_is_finite_for_extreme_logits():
    logits = torch.tensor([[[[60.0, -60.0, 0.0]]]], requires_grad=True)
    targets = torch.tensor([[[[1.0, 0.0, 0.2]]]])
    for loss in (mse_loss, focal_loss, wbce_loss):
        total, _ = loss(logits, targets, torch.tensor([[True]]))
        (grad,) = torch.autograd.grad(total, logits)
        assert torch.isfinite(total) and torch.isfinite(grad).all()
