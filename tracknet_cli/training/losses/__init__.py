"""Losses by name: `build_loss(cfg.training.loss)` returns `fn(logits, targets, mask) -> (sum, count)`."""

from __future__ import annotations

from collections.abc import Callable

from tracknet_cli.errors import ConfigError
from tracknet_cli.training.losses.heatmap import focal_loss, mse_loss, wbce_loss

HEATMAP_LOSSES: dict[str, Callable] = {"mse": mse_loss, "focal": focal_loss, "wbce": wbce_loss}


def build_loss(cfg) -> Callable:
    if cfg.name not in HEATMAP_LOSSES:
        raise ConfigError(f"training.loss.name {cfg.name!r} is not one of {sorted(HEATMAP_LOSSES)}")
    return HEATMAP_LOSSES[cfg.name]
