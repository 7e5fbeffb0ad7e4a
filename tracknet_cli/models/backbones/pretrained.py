"""Finding pretrained weights, on this machine first, and saying clearly where we looked.

Weights come from (1) a local directory written by `save_pretrained`, (2) the Hugging Face cache,
or (3) torchvision's torch-hub cache. When they are not there and the machine may go online, they
are downloaded into those caches as transformers and torchvision do; offline (`HF_HUB_OFFLINE=1`,
`TRANSFORMERS_OFFLINE=1`, or `local_files_only: true` in the backbone's config) building fails with
a message naming every place searched and how to fill one of them. A gated model's refusal says to
accept its licence and log in. It never falls back to random weights on its own; random weights
are asked for with `use_pretrained: false`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tracknet_cli.console import console
from tracknet_cli.errors import TracknetError, describe

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


class WeightsNotFoundError(TracknetError):
    """Pretrained weights were requested and are not on this machine."""


def hf_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def offline(local_files_only: bool = False) -> bool:
    """Whether nothing may be downloaded: the config says so, or an offline variable is set (read
    now, not when huggingface_hub was imported)."""
    return local_files_only or any(os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")
                                   for name in OFFLINE_VARIABLES)


def load_hf_pretrained(model_class, name_or_path: str, local_files_only: bool, device_map: str | None):
    """`model_class.from_pretrained` from a local folder or the cache; else downloaded from the
    hub unless offline (or `name_or_path` is a folder); else a clear error."""
    def load(local: bool):
        return model_class.from_pretrained(name_or_path, local_files_only=local, device_map=device_map,
                                           trust_remote_code=False)

    try:
        return load(local=True)
    except (OSError, ValueError) as exc:
        if Path(name_or_path).exists():  # a folder the user gave: nothing to download
            raise WeightsNotFoundError(_hf_missing_message(name_or_path, exc)) from None
        if offline(local_files_only):
            raise WeightsNotFoundError(
                f"{_hf_missing_message(name_or_path, exc)}; or (4) run online without HF_HUB_OFFLINE, "
                "TRANSFORMERS_OFFLINE and model.backbone.local_files_only, and they are downloaded") from None
    console.print(f"Downloading {name_or_path} from the Hugging Face hub into {hf_cache_dir()} (once)")
    try:
        return load(local=False)
    except (OSError, ValueError) as exc:
        if _gated(exc):
            raise WeightsNotFoundError(
                f"{name_or_path} is a gated model on the Hugging Face hub: accept its licence at "
                f"https://huggingface.co/{name_or_path} while logged in, then log in on this machine "
                "(`hf auth login`, or set HF_TOKEN) and run again; or train from random weights with "
                "model.backbone.use_pretrained=false") from None
        raise WeightsNotFoundError(f"downloading failed: {_hf_missing_message(name_or_path, exc)}") from None


def _gated(exc: BaseException | None) -> bool:
    """Whether the hub refused a gated repository, anywhere in the chain transformers wraps it in."""
    while exc is not None:
        if type(exc).__name__ == "GatedRepoError" or "gated repo" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _hf_missing_message(name_or_path: str, exc: Exception) -> str:
    looked = [f"a local directory {Path(name_or_path).resolve()} (none there)",
              f"the Hugging Face cache {hf_cache_dir()} (read offline)"]
    return (
        f"pretrained weights for {name_or_path!r} were not found; looked in "
        + " and ".join(looked)
        + f" [{describe(exc, 160)}]. To provide them: "
        f"(1) on a machine with internet run `python -c \"from transformers import AutoModel; "
        f"AutoModel.from_pretrained('{name_or_path}').save_pretrained('weights/{Path(name_or_path).name}')\"`, "
        f"copy that folder here and set model.backbone.pretrained_model_name=weights/{Path(name_or_path).name}; "
        "or (2) copy a Hugging Face cache that holds it into HF_HOME and run with HF_HUB_OFFLINE=1; "
        "or (3) train from random weights with model.backbone.use_pretrained=false"
    )


def load_hf_config(config_class, name_or_path: str, known: dict[str, dict]):
    """The architecture of a named checkpoint: its cached config.json, else our table of shapes."""
    try:
        return config_class.from_pretrained(name_or_path, local_files_only=True)
    except (OSError, ValueError):
        pass
    for key, shape in known.items():
        if key in name_or_path:
            return config_class(**shape)
    raise WeightsNotFoundError(
        f"the architecture of {name_or_path!r} is unknown offline (no config.json in a local folder or "
        f"the Hugging Face cache {hf_cache_dir()}, and not one of {sorted(known)}); give a folder "
        "written by save_pretrained, or choose model.backbone.preset=tiny"
    )


def torchvision_weights(model_name: str, local_files_only: bool = False) -> dict[str, torch.Tensor]:
    """ImageNet weights of a torchvision model from the torch-hub cache, downloaded there first
    unless offline; loaded safely."""
    from torchvision.models import get_model_weights

    try:
        weights = get_model_weights(model_name).DEFAULT
    except (ValueError, KeyError):
        raise WeightsNotFoundError(f"torchvision has no pretrained weights for {model_name!r}") from None
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not path.is_file() and not offline(local_files_only):
        console.print(f"Downloading {weights.url} into {path.parent} (once)")
        try:
            return torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", weights_only=True)
        except OSError as exc:  # URLError and friends: no network, a proxy, a firewall
            raise WeightsNotFoundError(f"downloading {weights.url} failed ({describe(exc, 160)}); on a machine "
                                       f"with internet download it and copy the file to {path.parent}; or "
                                       "train from random weights with model.backbone.use_pretrained=false") from None
    if not path.is_file():
        raise WeightsNotFoundError(
            f"torchvision weights for {model_name} were not found at {path}. To provide them: on a "
            f"machine with internet download {weights.url} and copy the file to that folder (or point "
            "TORCH_HOME at a torch-hub cache that has it); or train from random weights with "
            "model.backbone.use_pretrained=false"
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def preset_shape(presets: dict[str, dict], preset: str, use_pretrained: bool) -> dict:
    """The architecture of a random-init preset; presets and pretrained weights exclude each other."""
    if preset not in presets:
        raise TracknetError(f"model.backbone.preset {preset!r} is not one of {sorted(presets)}")
    if use_pretrained:
        raise TracknetError("model.backbone.preset builds random weights: set model.backbone.use_pretrained=false")
    return presets[preset]
