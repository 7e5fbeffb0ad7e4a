"""Checks shared by both backends: the level shapes and the shapes, dtypes and devices of inputs.

Level shapes become a tuple of Python ints, so no backend needs a device-to-host copy per call
when they are given as a list. A tensor, for the shapes or the level start index, is read once
here: a sync when it lives on a GPU, which lists (and a start index of None) avoid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tracknet_cli.errors import TracknetError

LevelShapes = tuple[tuple[int, int], ...]


def level_shapes(spatial_shapes: torch.Tensor | Sequence[Sequence[int]]) -> LevelShapes:
    """(H, W) per level as Python ints, from a list of pairs or an integer tensor [L, 2]."""
    rows = spatial_shapes.tolist() if isinstance(spatial_shapes, torch.Tensor) else spatial_shapes
    try:
        shapes = tuple((int(h), int(w)) for h, w in rows)
    except (TypeError, ValueError):
        raise TracknetError(f"spatial_shapes must be (H, W) pairs, one per level; "
                            f"got {rows!r}") from None
    if not shapes or any(h < 1 or w < 1 for h, w in shapes):
        raise TracknetError(f"spatial_shapes must hold at least one level of positive (H, W); "
                            f"got {shapes}")
    return shapes


def level_starts(shapes: LevelShapes) -> list[int]:
    """Index in S of each level's first position: levels are stored one after another."""
    starts = [0]
    for h, w in shapes[:-1]:
        starts.append(starts[-1] + h * w)
    return starts


def check_inputs(value: torch.Tensor, shapes: LevelShapes, level_start_index,
                 sampling_locations: torch.Tensor, attention_weights: torch.Tensor) -> None:
    """Raise a TracknetError naming the first disagreement between the arguments."""
    if value.dim() != 4:
        raise TracknetError(f"value must be [N, S, M, D]; got shape {tuple(value.shape)}")
    n, s, m, _ = value.shape
    covered = sum(h * w for h, w in shapes)
    if covered != s:
        raise TracknetError(f"spatial_shapes {list(shapes)} cover {covered} positions but value "
                            f"has S={s} (value shape {tuple(value.shape)})")
    if level_start_index is not None:
        given = (level_start_index.tolist() if isinstance(level_start_index, torch.Tensor)
                 else list(level_start_index))
        if given != level_starts(shapes):
            raise TracknetError(f"level_start_index {given} does not match spatial_shapes "
                                f"{list(shapes)}, which start at {level_starts(shapes)}")
    loc = tuple(sampling_locations.shape)
    if len(loc) != 6 or (loc[0], loc[2], loc[3], loc[5]) != (n, m, len(shapes), 2):
        raise TracknetError(f"sampling_locations must be [N, Lq, M, L, P, 2] = [{n}, Lq, {m}, "
                            f"{len(shapes)}, P, 2]; got {loc}")
    if tuple(attention_weights.shape) != loc[:-1]:
        raise TracknetError(f"attention_weights must be [N, Lq, M, L, P] = {loc[:-1]}; "
                            f"got {tuple(attention_weights.shape)}")
    _check_same("dtype", value, sampling_locations, attention_weights)
    _check_same("device", value, sampling_locations, attention_weights)


def _check_same(attribute: str, value, sampling_locations, attention_weights) -> None:
    found = [getattr(t, attribute) for t in (value, sampling_locations, attention_weights)]
    if found[1] != found[0] or found[2] != found[0]:
        raise TracknetError(f"value, sampling_locations and attention_weights must share one "
                            f"{attribute}; got {', '.join(str(f) for f in found)}")
