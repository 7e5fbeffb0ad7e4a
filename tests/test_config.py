import pytest
from omegaconf import OmegaConf

from tracknet_cli.config import available_configs, save_config
from tracknet_cli.errors import ConfigError
from tracknet_cli.tasks import load_config


@pytest.fixture
def model_yaml(tmp_path):
    path = tmp_path / "tiny_model.yaml"
    path.write_text("frames: 3\ninput_size: [512, 288]\nheatmap: {size: [256, 144], sigma: 2.0}\n"
                    "backbone: {type: convnext, preset: tiny, use_pretrained: false}\n"
                    "decoder: {type: fpn, lateral_dim: 32}\nhead: {type: heatmap}\n")
    return path


def test_builtin_configs_exist():
    assert {"synthetic", "tennis"} <= set(available_configs("data"))
    assert "default" in available_configs("training")


def test_composition_and_overrides(model_yaml):
    cfg = load_config("synthetic", model_yaml, "default",
                      ["training.optimizer.lr=1e-4", "data.augment.hflip=0", "model.frames=5"])
    assert cfg.training.optimizer.lr == pytest.approx(1e-4)
    assert cfg.data.augment.hflip == 0.0
    assert cfg.model.frames == 5
    assert cfg.model.name == "tiny_model"  # named after its file when the file names none
    assert list(cfg.data.splits.train.games) == [1, 2, 3]
    assert cfg.training.epochs == 30  # from configs/training/default.yaml


@pytest.mark.parametrize("override,closest", [
    ("training.optimzer.lr=1", "training.optimizer"),
    ("data.augment.hflp=0.1", "data.augment.hflip"),
    ("data.splits.val.gams=[1]", "data.splits.val.games"),
    ("trainig.epochs=3", "training"),
])
def test_typo_names_the_closest_key(model_yaml, override, closest):
    with pytest.raises(ConfigError, match=f"did you mean '{closest}'"):
        load_config("synthetic", model_yaml, "default", [override])


def test_typo_in_a_file_names_the_file(tmp_path, model_yaml):
    data = tmp_path / "mine.yaml"
    data.write_text("root: data/x\nstrid: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(data, model_yaml, "default")
    assert "data.strid" in str(info.value) and str(data) in str(info.value)
    assert "did you mean 'data.stride'" in str(info.value)


@pytest.mark.parametrize("override,key", [
    ("training.epochs=abc", "training.epochs"),
    ("model.input_size=[a,1]", "model.input_size[0]"),
    ("model.output_frames=2", "model.output_frames"),
    ("data.augment.hflip=1.5", "data.augment.hflip"),
    ("data.cache=sometimes", "data.cache"),
    ("model.heatmap.size=[200,144]", "model.heatmap.size"),  # 512/200 is no whole number
    ("model.heatmap.size=[128,144]", "model.heatmap.size"),  # strides 4 and 2
    ("training.patch.size=[600,128]", "training.patch.size"),  # wider than the input
    ("training.patch.size=[127,128]", "training.patch.size"),  # not a multiple of stride 2
    ("training.patch.ball_fraction=2", "training.patch.ball_fraction"),
    ("data.eval_stride=0", "data.eval_stride"),
    ("training.epochs=0", "training.epochs"),
    ("training.accumulate=0", "training.accumulate"),  # would divide by zero at the first step
    ("training.val_every=0", "training.val_every"),  # would divide by zero after a whole epoch
    ("training.num_workers=-1", "training.num_workers"),
    ("training.optimizer.lr=-0.001", "training.optimizer.lr"),
    ("training.optimizer.backbone_lr=0", "training.optimizer.backbone_lr"),
])
def test_wrong_values_name_the_key(model_yaml, override, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[")):
        load_config("synthetic", model_yaml, "default", [override])


def test_unknown_config_name_lists_builtins(model_yaml):
    with pytest.raises(ConfigError, match="built-in: .*synthetic"):
        load_config("synthtic", model_yaml, "default")


def test_not_key_value():
    with pytest.raises(ConfigError, match="not key=value"):
        load_config("synthetic", None, "default", ["epochs"])


def test_saved_config_round_trips(tmp_path, model_yaml):
    cfg = load_config("synthetic", model_yaml, "default", ["training.seed=7"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    again = OmegaConf.load(path)
    assert again.training.seed == 7 and again.model.name == "tiny_model"
    assert OmegaConf.to_container(again) == OmegaConf.to_container(cfg)
