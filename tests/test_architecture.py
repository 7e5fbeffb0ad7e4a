"""The house plan: the import layers hold, and weights written before the refactor that set them up
(commit 954c444, tests/fixtures/legacy/make_legacy.py) still load and give the same outputs."""

from pathlib import Path

import pytest
import torch

from tracknet_cli.weights import load_model, load_weights

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests/fixtures/legacy"


def test_import_layers_and_no_cycles(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # the contracts live in pyproject.toml
    assert lint_imports(no_cache=True, no_logo=True) == 0, capsys.readouterr().out


def legacy_inputs(shapes: list[list[int]]) -> tuple[torch.Tensor, ...]:
    """The inputs make_legacy.py fed: `export.example_input`'s draws, in order, from a generator seeded 0."""
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*shape, generator=generator) for shape in shapes)


@pytest.mark.parametrize("name", ["heatmap", "deformable", "refdet"])
def test_checkpoints_of_the_previous_layout_load_and_give_the_same_outputs(name):
    """heatmap: fast_heatmap; deformable: a deformable decoder whose config still names
    `msda_backend: triton` (a retired key); refdet: an FPN that refined a level it never output
    (its weights are dropped on load)."""
    expected = torch.load(LEGACY / "expected.pt", weights_only=True)[name]
    model, cfg, checkpoint = load_model(LEGACY / f"{name}.pt")
    assert checkpoint["epoch"] == 2 and "msda_backend" not in cfg.model.get("decoder", {})
    with torch.no_grad():
        outputs = model(*legacy_inputs(expected["input_shapes"]))
    outputs = outputs if isinstance(outputs, dict) else {"logits": outputs}
    assert outputs.keys() == expected["outputs"].keys()
    for key, value in expected["outputs"].items():
        torch.testing.assert_close(outputs[key], value, rtol=0, atol=1e-5)


def test_an_onnx_export_of_the_previous_layout_runs_and_matches_its_checkpoint():
    expected = torch.load(LEGACY / "expected.pt", weights_only=True)["heatmap"]
    model, cfg, info = load_weights(LEGACY / "heatmap.onnx")
    assert info["format"] == "onnx" and cfg.model.name == "fast_heatmap"
    logits = model(*legacy_inputs(expected["input_shapes"]))
    torch.testing.assert_close(logits, expected["outputs"]["logits"], rtol=0, atol=1e-4)
