"""AdamW with its own backbone learning rate, and a per-step schedule with linear warmup: cosine
decay, or a constant rate (a run whose length is a time budget, not a number of epochs)."""

from __future__ import annotations

import math

import torch
from torch import nn

from tracknet_cli.config import SCHEDULES
from tracknet_cli.errors import ConfigError


def build_optimizer(model: nn.Module, cfg, pretrained_backbone: bool) -> torch.optim.Optimizer:
    """AdamW over four groups: backbone or not, decayed or not.

    A pretrained backbone wants a smaller step than the freshly initialised decoder and head (by
    default a tenth); a random one learns like the rest. Norm weights and biases (1-D tensors) get
    no weight decay, which would only pull them to zero.
    """
    backbone_lr = cfg.backbone_lr
    if backbone_lr is None:
        backbone_lr = cfg.lr / 10 if pretrained_backbone else cfg.lr
    if cfg.name != "adamw":
        raise ConfigError(f"training.optimizer.name {cfg.name!r} is not supported (adamw)")
    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            key = (name.startswith("backbone."), parameter.ndim > 1)
            groups.setdefault(key, []).append(parameter)
    param_groups = [
        {"params": params, "lr": backbone_lr if in_backbone else cfg.lr,
         "weight_decay": cfg.weight_decay if decayed else 0.0}
        for (in_backbone, decayed), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups, betas=tuple(cfg.betas))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg, total_steps: int,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over `warmup_epochs`, then cosine decay to `min_lr` (`cosine`) or the full rate
    to the end (`constant`), stepped every update."""
    if cfg.name not in SCHEDULES:
        raise ConfigError(f"training.scheduler.name {cfg.name!r} is not supported ({', '.join(SCHEDULES)})")
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    floors = [min(1.0, cfg.min_lr / group["lr"]) if group["lr"] > 0 else 0.0 for group in optimizer.param_groups]

    def factor(floor: float):
        def at(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if cfg.name == "constant":
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return at

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [factor(f) for f in floors])
