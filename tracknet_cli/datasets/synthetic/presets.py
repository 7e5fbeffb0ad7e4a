"""Presets: a SyntheticSpec written as YAML under configs/synthetic/ (or any .yaml path).

A preset holds any keys of SyntheticSpec (games, clips_per_game, frames_per_clip, width, height,
fps, seed, jpeg_quality) and optionally a `variation` section (variation.py). Keys are checked the
way run configs are (config.check_keys): an unknown key is refused by name, with the closest valid
one; values are then checked by SyntheticSpec.validate, and either error names the file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from omegaconf import OmegaConf

from tracknet_cli.config import available_configs, check_keys, find_config_file
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec
from tracknet_cli.datasets.synthetic.variation import Variation
from tracknet_cli.errors import ConfigError, DataError

SECTION = "synthetic"  # configs/synthetic/


def available_presets() -> list[str]:
    return available_configs(SECTION)


def load_preset(name_or_path: str | Path) -> SyntheticSpec:
    """The spec a preset (a built-in name such as `realworld`, or a YAML path) describes."""
    path = find_config_file(SECTION, name_or_path)
    try:
        values = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as exc:  # yaml.YAMLError and OmegaConf errors carry the line
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, found {type(values).__name__}")
    # The schema instance holds a Variation so that keys inside the section are checked too.
    check_keys(values, replace(SyntheticSpec(), variation=Variation()), "", source=str(path))
    variation = values.pop("variation", None)
    if variation is not None and not isinstance(variation, dict):
        raise ConfigError(f"{path}: variation must be a mapping of keys, got {variation!r}")
    spec = SyntheticSpec(**values,
                         variation=None if variation is None else Variation.from_mapping(variation))
    try:
        spec.validate()
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    return spec
