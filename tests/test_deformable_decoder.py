"""The deformable encoder: Deformable DETR's initialisation, geometry helpers, the decoder, both
backends through the module, and attention maps.

The module-level backend comparison runs the Triton kernels in Triton's CPU interpreter, in a
subprocess (TRITON_INTERPRET must be set before triton is imported; see test_ms_deform_attn).
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tracknet_cli.errors import TracknetError
from tracknet_cli.evaluation.attention_maps import (
    attention_maps,
    draw_attention,
    save_attention_map,
)
from tracknet_cli.models.backbones.base import FeatureInfo
from tracknet_cli.models.decoders.deformable_decoder import (
    DeformableFPNDecoder,
    DeformableFPNDecoderConfig,
    MSDeformAttn,
    pixel_centres,
    sine_position,
)

SHAPES = [(6, 8), (3, 4)]


def module_inputs(d_model=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    s = sum(h * w for h, w in SHAPES)
    tokens = torch.randn(2, s, d_model, generator=generator)
    reference = pixel_centres(SHAPES, torch.device("cpu"), torch.float32).expand(2, -1, -1)
    return tokens, reference


def test_initialisation_follows_deformable_detr():
    attention = MSDeformAttn(d_model=16, n_levels=2, n_heads=4, n_points=3)
    assert attention.sampling_offsets.weight.abs().sum() == 0
    bias = attention.sampling_offsets.bias.view(4, 2, 3, 2)
    # head m points along 2*pi*m/4 (right, down, left, up), point p at p + 1 pixels, every level
    directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    for p in range(3):
        torch.testing.assert_close(bias[:, 0, p], directions * (p + 1), atol=1e-6, rtol=0)
        torch.testing.assert_close(bias[:, 1, p], directions * (p + 1), atol=1e-6, rtol=0)
    assert attention.attention_weights.weight.abs().sum() == 0 and attention.attention_weights.bias.abs().sum() == 0
    for linear in (attention.value_proj, attention.output_proj):
        bound = math.sqrt(6 / (linear.in_features + linear.out_features))  # Xavier uniform
        assert linear.weight.abs().max() <= bound and linear.bias.abs().sum() == 0


def test_sampling_starts_on_the_grid_with_uniform_weights():
    attention = MSDeformAttn(d_model=16, n_levels=2, n_heads=4, n_points=3)
    tokens, reference = module_inputs()
    attention.record = True
    attention(tokens, reference, tokens, SHAPES)
    locations, weights, shapes = attention.recorded
    assert shapes == SHAPES
    torch.testing.assert_close(weights, torch.full_like(weights, 1 / 6))
    # head 0 points right: point p of level l sits p + 1 pixels of that level right of the query
    for level, (h, w) in enumerate(SHAPES):
        for p in range(3):
            torch.testing.assert_close(locations[:, :, 0, level, p, 0], reference[..., 0] + (p + 1) / w)
            torch.testing.assert_close(locations[:, :, 0, level, p, 1], reference[..., 1])


def test_pixel_centres_and_sine_position():
    centres = pixel_centres([(2, 4), (1, 1)], torch.device("cpu"), torch.float64)
    assert centres.tolist()[:5] == [[0.125, 0.25], [0.375, 0.25], [0.625, 0.25], [0.875, 0.25], [0.125, 0.75]]
    assert centres.tolist()[-1] == [0.5, 0.5]
    position = sine_position(3, 5, 32, torch.device("cpu"), torch.float32)
    assert position.shape == (15, 32) and position.abs().max() <= 1
    assert len({tuple(row) for row in position.round(decimals=5).tolist()}) == 15  # every pixel distinct
    # the first half encodes y: one row of pixels shares it, the second half (x) differs along it
    torch.testing.assert_close(position[:5, :16], position[0, :16].expand(5, -1))
    with pytest.raises(ValueError, match="divisible by n_heads"):
        MSDeformAttn(d_model=18, n_heads=4)


def test_decoder_maps_levels_to_the_heatmap():
    info = {"stage1": FeatureInfo(8, 4), "stage2": FeatureInfo(12, 8), "stage3": FeatureInfo(16, 16)}
    cfg = DeformableFPNDecoderConfig(d_model=32, n_heads=4, n_points=2, num_encoder_layers=2, ffn_dim=64,
                                     lateral_dim=24)
    decoder = DeformableFPNDecoder(info, cfg)
    features = {"stage1": torch.randn(2, 8, 16, 24), "stage2": torch.randn(2, 12, 8, 12),
                "stage3": torch.randn(2, 16, 4, 6)}
    out = decoder(features, (32, 48))
    assert out.shape == (2, 24, 32, 48) and decoder.out_channels == 24
    out.square().mean().backward()
    assert all(p.grad is not None for p in decoder.parameters())


def module_results() -> dict:
    """Output and parameter gradients of one module with each backend; TRITON_INTERPRET=1 here."""
    results = {}
    for backend in ("torch", "triton"):
        torch.manual_seed(0)
        attention = MSDeformAttn(d_model=16, n_levels=2, n_heads=4, n_points=3, backend=backend)
        with torch.no_grad():  # away from the initial grid, so every term of the gradient matters
            attention.sampling_offsets.weight.normal_(0, 0.3)
            attention.attention_weights.weight.normal_(0, 0.3)
        tokens, reference = module_inputs()
        out = attention(tokens, reference, tokens, SHAPES)
        out.square().sum().backward()
        results[backend] = {"out": out.tolist(),
                            **{name: p.grad.tolist() for name, p in attention.named_parameters()}}
    return results


@pytest.fixture(scope="module")
def both_backends():
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_module_gives_the_same_output_and_gradients_with_either_backend(both_backends):
    torch_run, triton_run = both_backends["torch"], both_backends["triton"]
    assert set(torch_run) == set(triton_run) and len(torch_run) == 9  # output + 4 linears x 2
    for name in torch_run:
        a, b = np.array(torch_run[name]), np.array(triton_run[name])
        assert np.abs(a - b).max() <= 1e-5 * max(np.abs(a).max(), 1e-12), name


# --- attention maps ---------------------------------------------------------------------------

def tiny_deformable_model():
    from tracknet_cli.tasks import build_model, load_config

    cfg = load_config(model="convnext_deformable_fpn_heatmap", overrides=[
        "model.backbone.use_pretrained=false", "model.backbone.preset=tiny", "model.input_size=[128,64]",
        "model.heatmap.size=[64,32]", "model.decoder.d_model=32", "model.decoder.n_heads=4",
        "model.decoder.num_encoder_layers=2", "model.decoder.ffn_dim=64", "model.decoder.lateral_dim=16"])
    return build_model(cfg.model).eval(), cfg


def test_the_attention_backend_is_a_runtime_choice_not_a_model_key(monkeypatch):
    """A config that still names a backend is told where the choice went; a checkpoint that saved
    one loads without it (tests/test_legacy.py), and the environment picks the backend at run time."""
    from tracknet_cli.commands.train import set_msda_backend
    from tracknet_cli.errors import ConfigError
    from tracknet_cli.ops.ms_deform_attn import BACKEND_ENV_VAR, resolve_backend
    from tracknet_cli.tasks import load_config

    retired = "model.decoder.msda_backend is no longer a model key: .*TRACKNET_MSDA_BACKEND"
    with pytest.raises(ConfigError, match=retired):
        load_config(model="convnext_deformable_fpn_heatmap", overrides=["model.decoder.msda_backend=torch"])
    monkeypatch.setenv(BACKEND_ENV_VAR, "auto")  # restored after the test, whatever set_msda_backend sets
    set_msda_backend("torch")
    assert resolve_backend("auto", "cuda") == "torch"
    with pytest.raises(TracknetError, match="must be one of auto, torch, triton"):
        set_msda_backend("fast")


def test_a_model_that_ran_in_inference_mode_still_trains():
    model, _ = tiny_deformable_model()
    frames = torch.randn(1, 3, 3, 64, 128)
    with torch.inference_mode():  # predict or benchmark first: the per-shape tables are made here
        model(frames)
    model.train()
    model(frames).mean().backward()  # ... and a training step reuses them
    assert all(p.grad is not None for p in model.decoder.parameters() if p.requires_grad)


def test_attention_maps_from_the_api(tmp_path):
    from tracknet_cli.model_input import SampleSpec

    model, cfg = tiny_deformable_model()
    frames = torch.randint(0, 256, (3, 3, 64, 128), dtype=torch.uint8)
    maps = attention_maps(model, frames, (70.0, 30.0), SampleSpec.from_model_config(cfg.model))
    assert [m.layer for m in maps] == [0, 1]
    # the stride-4 pixel under (70, 30) is column 17, row 7: its centre is (70, 30)
    np.testing.assert_allclose(maps[0].query, [70.0, 30.0])
    assert maps[0].points.shape == (4, 4, 4, 2) and maps[0].weights.shape == (4, 4, 4)
    np.testing.assert_allclose(maps[0].weights.sum(axis=(1, 2)), 1.0, rtol=1e-5)  # softmax per head
    image = draw_attention(frames[-1].permute(1, 2, 0).numpy(), maps[-1])
    assert image.shape == (64, 128, 3) and image.dtype == np.uint8
    assert (image[30, 70] == 255).all()  # the white cross on the query
    path = save_attention_map(frames, maps[-1], tmp_path / "attention.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(layer.recorded is None and not layer.record for layer in (l.attention for l in model.decoder.layers))


def test_attention_maps_need_a_deformable_model():
    from tracknet_cli.tasks import build_model, load_config

    model = build_model(load_config(model="fast_heatmap").model)
    with pytest.raises(TracknetError, match="deformable encoder.*FPNDecoder"):
        attention_maps(model, torch.zeros(3, 3, 64, 128), (10.0, 10.0))


if __name__ == "__main__":  # the interpreter's subprocess: see the module docstring
    print(json.dumps(module_results()))
