"""Heatmap models: shapes of every registered model, gradients, freezing, weights, input sizes."""

import pytest
import torch
from omegaconf import OmegaConf
from transformers import DINOv3ConvNextConfig, DINOv3ConvNextModel, DINOv3ViTConfig, DINOv3ViTModel

from tracknet_cli.errors import ConfigError, TracknetError
from tracknet_cli.models import (
    CNNBackbone,
    CNNBackboneConfig,
    ConvNeXtBackbone,
    ConvNeXtBackboneConfig,
    ViTBackbone,
    ViTBackboneConfig,
)
from tracknet_cli.models.backbones.base import inflate_first_conv
from tracknet_cli.models.backbones.pretrained import WeightsNotFoundError
from tracknet_cli.tasks import available_models, build_model, load_config

RANDOM = ["model.backbone.use_pretrained=false"]


def model_config(name, *overrides):
    return load_config(model=name, overrides=RANDOM + list(overrides)).model


def single_stream(name):
    """Overrides that turn off reading frame differences where `name` reads them: a single frame,
    or frames fused late, have no consecutive pair to difference (the config refuses them)."""
    return ["model.frame_differences=false"] if model_config(name).get("frame_differences") else []


def test_registered_models():
    assert {"vit_heatmap", "convnext_fpn_heatmap", "fast_heatmap"} <= set(available_models())
    with pytest.raises(ConfigError, match="built-in: .*convnext_fpn_heatmap.*vit_heatmap"):
        load_config(model="convnext_fpn")


@pytest.mark.parametrize("name", available_models("heatmap"))
def test_every_model_maps_frames_to_heatmaps(name):
    torch.manual_seed(0)
    cfg = model_config(name)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 3, 288, 512))
    assert out.shape == (2, cfg.output_frames, 144, 256) and torch.isfinite(out).all()

    single = build_model(model_config(name, "model.frames=1", "model.output_frames=1", *single_stream(name))).eval()
    with torch.no_grad():
        assert single(torch.randn(2, 3, 288, 512)).shape == (2, 1, 144, 256)


@pytest.mark.parametrize("name", ["fast_heatmap", "convnext_fpn_heatmap"])
def test_convolutional_models_take_patches(name):
    """Patch training: the heatmap follows the input size at the configured stride."""
    model = build_model(model_config(name, "model.decoder.lateral_dim=16")).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 3, 128, 96)).shape == (1, 3, 64, 48)


def test_cnn_backbone_reports_what_it_returns():
    backbone = CNNBackbone(CNNBackboneConfig(channels=[8, 16, 24, 32], depths=[1, 2, 1, 1],
                                             return_stages=[1, 3]), in_frames=3)
    features = backbone(torch.randn(2, 9, 64, 96))
    assert list(features) == list(backbone.feature_info) == ["stage1", "stage3"]
    for name, info in backbone.feature_info.items():
        assert features[name].shape == (2, info.channels, 64 // info.stride, 96 // info.stride)
    assert [info.stride for info in backbone.feature_info.values()] == [2, 8]
    assert len(backbone.stages) == 3  # stage 4 is never returned, so never built
    with pytest.raises(TracknetError, match="no pretrained weights"):
        CNNBackbone(CNNBackboneConfig(use_pretrained=True))
    with pytest.raises(TracknetError, match="return_stages must be among"):
        CNNBackbone(CNNBackboneConfig(return_stages=[4]))


@pytest.mark.parametrize("name", available_models("heatmap"))
@pytest.mark.parametrize("fusion", ["early", "late"])
def test_gradients_reach_every_trainable_parameter(name, fusion):
    late = single_stream(name) if fusion == "late" else []
    cfg = model_config(name, f"model.fusion={fusion}", "model.input_size=[128,64]",
                       "model.heatmap.size=[64,32]", *late)
    model = build_model(cfg).train()
    model(torch.randn(2, 3, 3, 64, 128)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []


def test_frozen_backbone_gets_no_gradient_and_stays_in_eval():
    cfg = model_config("convnext_fpn_heatmap", "model.backbone.preset=tiny", "model.backbone.freeze=true",
                       "model.decoder.lateral_dim=16", "model.input_size=[128,64]",
                       "model.heatmap.size=[64,32]")
    model = build_model(cfg)
    model.train()
    assert not model.backbone.training and model.decoder.training
    model(torch.randn(2, 3, 3, 64, 128)).mean().backward()
    stem = model.backbone.stages[0].downsample_layers[0]  # the inflated stem learns to read motion
    assert stem.in_channels == 9 and stem.weight.grad is not None
    frozen = [p for n, p in model.backbone.named_parameters() if not n.startswith("stages.0.downsample_layers.0")]
    assert frozen and all(p.grad is None and not p.requires_grad for p in frozen)
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_inflated_stem_reads_identical_frames_like_one():
    torch.manual_seed(0)
    cfg = ConvNeXtBackboneConfig(preset="tiny", use_pretrained=False)
    single = ConvNeXtBackbone(cfg)
    triple = ConvNeXtBackbone(cfg, in_frames=1)
    triple.load_state_dict(single.state_dict())
    inflate_first_conv(triple.stages[0], 3)
    x = torch.randn(1, 3, 64, 96)
    a, b = single(x), triple(torch.cat([x, x, x], dim=1))
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)


def test_convnext_reports_channels_and_strides():
    backbone = ConvNeXtBackbone(ConvNeXtBackboneConfig(preset="tiny", use_pretrained=False,
                                                       return_stages=[2, 4]))
    info = {name: (i.channels, i.stride) for name, i in backbone.feature_info.items()}
    assert info == {"stage2": (64, 8), "stage4": (256, 32)}
    out = backbone(torch.randn(1, 3, 64, 128))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"stage2": (1, 64, 8, 16), "stage4": (1, 256, 2, 4)}


def test_torchvision_convnext_stages():
    backbone = ConvNeXtBackbone(ConvNeXtBackboneConfig(source="torchvision", preset="tiny",
                                                       use_pretrained=False))
    out = backbone(torch.randn(1, 3, 64, 128))
    assert [tuple(v.shape[1:]) for v in out.values()] == [(32, 16, 32), (64, 8, 16), (128, 4, 8), (256, 2, 4)]


def test_vit_patch_grid_is_row_major(tmp_path):
    """With no transformer layers a patch token is the normalised patch embedding: pin the order."""
    hf = DINOv3ViTModel(DINOv3ViTConfig(hidden_size=32, num_hidden_layers=0, num_attention_heads=2,
                                        intermediate_size=64, num_register_tokens=4))
    hf.save_pretrained(tmp_path / "vit0")
    backbone = ViTBackbone(ViTBackboneConfig(pretrained_model_name=str(tmp_path / "vit0")))
    x = torch.randn(2, 3, 48, 80)
    grid = backbone.patch_grid(x)
    assert grid.shape == (2, 3, 5, 32)
    embedded = backbone.model.embeddings.patch_embeddings(x)  # [B, C, 3, 5]
    expected = backbone.model.norm(embedded.permute(0, 2, 3, 1))
    torch.testing.assert_close(grid, expected)
    assert backbone(x)["patch"].shape == (2, 32, 3, 5)


def test_saved_vit_loads_back_identically(tmp_path):
    torch.manual_seed(0)
    hf = DINOv3ViTModel(DINOv3ViTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
                                        intermediate_size=96, num_register_tokens=4)).eval()
    hf.save_pretrained(tmp_path / "tiny_vit")
    cfg = OmegaConf.structured(ViTBackboneConfig(pretrained_model_name=str(tmp_path / "tiny_vit")))
    backbone = ViTBackbone(OmegaConf.to_object(cfg)).eval()
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        expected = hf(pixel_values=x).last_hidden_state[:, 5:].unflatten(1, (2, 4))
        torch.testing.assert_close(backbone.patch_grid(x), expected)


def test_saved_convnext_loads_back_identically(tmp_path):
    torch.manual_seed(0)
    hf = DINOv3ConvNextModel(DINOv3ConvNextConfig(hidden_sizes=[16, 24, 32, 40], depths=[1, 1, 2, 1])).eval()
    hf.save_pretrained(tmp_path / "tiny_convnext")
    backbone = ConvNeXtBackbone(ConvNeXtBackboneConfig(pretrained_model_name=str(tmp_path / "tiny_convnext"))).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected = hf(pixel_values=x, output_hidden_states=True).hidden_states[-4:]
        ours = list(backbone(x).values())
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a, b)
    assert [i.channels for i in backbone.feature_info.values()] == [16, 24, 32, 40]


def test_whole_model_builds_from_saved_weights(tmp_path):
    hf = DINOv3ConvNextModel(DINOv3ConvNextConfig(hidden_sizes=[16, 24, 32, 40], depths=[1, 1, 1, 1]))
    hf.save_pretrained(tmp_path / "w")
    cfg = load_config(model="convnext_fpn_heatmap",
                      overrides=[f"model.backbone.pretrained_model_name={tmp_path / 'w'}",
                                 "model.decoder.lateral_dim=32"]).model
    model = build_model(cfg)
    stem = model.backbone.stages[0].downsample_layers[0]
    torch.testing.assert_close(stem.weight, hf.model.stages[0].downsample_layers[0].weight.repeat(1, 3, 1, 1) / 3)


def test_missing_hf_weights_say_where_and_how(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as info:
        ViTBackbone(ViTBackboneConfig(pretrained_model_name=str(tmp_path / "nowhere")))
    message = str(info.value)
    for words in ("not found", "Hugging Face cache", "save_pretrained", "HF_HUB_OFFLINE=1",
                  "use_pretrained=false", str(tmp_path / "nowhere")):
        assert words in message


def test_missing_torchvision_weights_say_where(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path / "hub" / "checkpoints")):
        ConvNeXtBackbone(ConvNeXtBackboneConfig(source="torchvision", use_pretrained=True))


def test_torchvision_weights_load_from_the_hub_cache(monkeypatch, tmp_path):
    from torchvision.models import ConvNeXt_Tiny_Weights, convnext_tiny

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = convnext_tiny(weights=None)
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(reference.state_dict(), checkpoints / ConvNeXt_Tiny_Weights.DEFAULT.url.rsplit("/", 1)[1])
    backbone = ConvNeXtBackbone(ConvNeXtBackboneConfig(source="torchvision", use_pretrained=True))
    torch.testing.assert_close(backbone.stages[3][1][0].block[0].weight, reference.features[7][0].block[0].weight)


def test_unfreezing_a_vit_leaves_its_mask_token_out():
    backbone = ViTBackbone(ViTBackboneConfig(use_pretrained=False, preset="tiny"))
    backbone.freeze()
    backbone.unfreeze()  # data-parallel training refuses a parameter that asks for a gradient it never gets
    trainable = {name for name, p in backbone.named_parameters() if p.requires_grad}
    assert "model.embeddings.mask_token" not in trainable and len(trainable) > 10


def test_random_weights_of_a_named_checkpoint_have_its_shape():
    backbone = ViTBackbone(ViTBackboneConfig(use_pretrained=False))  # dinov3-vits16, offline
    assert backbone.feature_info["patch"].channels == 384
    assert backbone.model.config.num_hidden_layers == 12 and backbone.prefix_tokens == 5
    with pytest.raises(WeightsNotFoundError, match="unknown offline"):
        ViTBackbone(ViTBackboneConfig(pretrained_model_name="someone/unknown-vit", use_pretrained=False))


def test_vit_input_size_error_names_valid_sizes():
    backbone = ViTBackbone(ViTBackboneConfig(preset="tiny", use_pretrained=False))
    with pytest.raises(TracknetError, match="width of 496 or 512 and a height of 288 or 304"):
        backbone(torch.randn(1, 3, 300, 500))


@pytest.mark.parametrize("override,words", [
    ("model.backbone.pretrained_modl_name=x", "did you mean 'model.backbone.pretrained_model_name'"),
    ("model.decoder.lateral_dim=wide", "model.decoder.lateral_dim"),
    ("model.decoder.type=unet", "model.decoder.type 'unet' is not one of"),
    ("model.fusion=middle", "model.fusion"),
])
def test_part_config_errors_name_the_key(override, words):
    with pytest.raises(ConfigError, match=words):
        load_config(model="convnext_fpn_heatmap", overrides=[override])


def test_presets_refuse_pretrained_weights():
    with pytest.raises(TracknetError, match="use_pretrained=false"):
        ConvNeXtBackbone(ConvNeXtBackboneConfig(preset="tiny", use_pretrained=True))


@pytest.mark.parametrize("model,override,key", [
    ("convnext_deformable_fpn_heatmap", "model.decoder.n_heads=0", "model.decoder.n_heads"),
    ("convnext_deformable_fpn_heatmap", "model.decoder.n_points=0", "model.decoder.n_points"),
    ("fast_heatmap", "model.head.channels=0", "model.head.channels"),
    ("fast_heatmap", "model.backbone.channels=[32,64,0]", "model.backbone.channels"),
])
def test_a_zero_width_or_count_is_refused_by_key_before_any_build(model, override, key):
    with pytest.raises(ConfigError, match=f"{key}: expected whole numbers of at least 1"):
        load_config(model=model, overrides=[override])


def test_frame_differences_are_stacked_after_the_frames():
    cfg = model_config("fast_heatmap", "model.frame_differences=true", "model.input_size=[128,64]",
                       "model.heatmap.size=[64,32]")
    model = build_model(cfg).eval()
    first = model.backbone.stages[0][0][0]
    assert first.in_channels == 3 * 5  # 3 frames and their 2 differences
    frames = torch.rand(2, 3, 3, 64, 128)
    with torch.no_grad():
        logits = model(frames)
        # the differences are computed in the model: zeroing the weights that read them changes
        # nothing on a still scene, where every difference is 0
        still = frames[:, :1].expand(-1, 3, -1, -1, -1)
        before = model(still)
        first.weight[:, 9:] = 0
        torch.testing.assert_close(model(still), before)
    assert logits.shape == (2, 3, 32, 64)
    with pytest.raises(ConfigError, match="model.frame_differences: needs early fusion"):
        model_config("fast_heatmap", "model.frame_differences=true", "model.fusion=late", "model.output_frames=1")
