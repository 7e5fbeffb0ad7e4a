"""Pretrained weights: from this machine first, downloaded only when online and allowed, and a
refusal that says what to do. The hub and the network are faked: nothing downloads here."""

import pytest
import torch

from tracknet_cli.models.backbones.convnext_backbone import ConvNeXtBackbone, ConvNeXtBackboneConfig
from tracknet_cli.models.backbones.pretrained import WeightsNotFoundError, load_hf_pretrained, offline

NAME = "facebook/dinov3-vits16-pretrain-lvd1689m"


class FakeHub:
    """A `from_pretrained` that misses the cache and then answers the download with `download`
    (a model, or an exception to raise); it records every `local_files_only` it was called with."""

    def __init__(self, download):
        self.download, self.calls = download, []

    def from_pretrained(self, name, local_files_only, device_map, trust_remote_code):
        assert trust_remote_code is False
        self.calls.append(local_files_only)
        if local_files_only:
            raise OSError(f"{name} is not in the cache")
        if isinstance(self.download, BaseException):
            raise self.download
        return self.download


@pytest.fixture
def online(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def test_offline_never_downloads_and_says_how_to_provide_weights(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = FakeHub(download=object())
    with pytest.raises(WeightsNotFoundError) as info:
        load_hf_pretrained(hub, NAME, local_files_only=False, device_map=None)
    assert hub.calls == [True]
    for words in ("not found", "save_pretrained", "HF_HUB_OFFLINE", "use_pretrained=false", "downloaded"):
        assert words in str(info.value)


def test_online_a_cache_miss_downloads(online):
    model = object()
    hub = FakeHub(download=model)
    assert load_hf_pretrained(hub, NAME, local_files_only=False, device_map=None) is model
    assert hub.calls == [True, False]


def test_local_files_only_forbids_the_download_even_online(online):
    hub = FakeHub(download=object())
    with pytest.raises(WeightsNotFoundError):
        load_hf_pretrained(hub, NAME, local_files_only=True, device_map=None)
    assert hub.calls == [True] and offline(True) and not offline(False)


def test_a_folder_that_holds_no_weights_is_not_looked_up_online(online, tmp_path):
    hub = FakeHub(download=object())
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path)):
        load_hf_pretrained(hub, str(tmp_path), local_files_only=False, device_map=None)
    assert hub.calls == [True]


def test_a_gated_model_says_to_accept_the_licence_and_log_in(online):
    from huggingface_hub.errors import GatedRepoError

    cause = GatedRepoError.__new__(GatedRepoError)  # as the hub raises it, without an HTTP response to hand
    Exception.__init__(cause, "403 Client Error: Cannot access this repository.")
    wrapped = OSError(f"Cannot access {NAME}.")  # transformers' wording varies; the cause does not
    wrapped.__cause__ = cause
    with pytest.raises(WeightsNotFoundError) as info:
        load_hf_pretrained(FakeHub(download=wrapped), NAME, local_files_only=False, device_map=None)
    message = str(info.value)
    assert f"https://huggingface.co/{NAME}" in message and "hf auth login" in message and "licence" in message


def test_a_failed_download_keeps_the_offline_instructions(online):
    hub = FakeHub(download=OSError("We couldn't connect to 'https://huggingface.co'"))
    with pytest.raises(WeightsNotFoundError, match="downloading failed.*couldn't connect.*save_pretrained"):
        load_hf_pretrained(hub, NAME, local_files_only=False, device_map=None)


def test_torchvision_weights_download_into_the_hub_cache_when_online(online, monkeypatch, tmp_path):
    from torchvision.models import ConvNeXt_Tiny_Weights, convnext_tiny

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = convnext_tiny(weights=None).state_dict()
    asked = []

    def fake_download(url, map_location, weights_only):
        asked.append((url, weights_only))
        return reference

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    backbone = ConvNeXtBackbone(ConvNeXtBackboneConfig(source="torchvision", use_pretrained=True))
    assert asked == [(ConvNeXt_Tiny_Weights.DEFAULT.url, True)]
    torch.testing.assert_close(backbone.stages[3][1][0].block[0].weight, reference["features.7.0.block.0.weight"])
