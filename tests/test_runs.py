import pytest

from tracknet_cli.errors import TracknetError
from tracknet_cli.runs import new_run_dir


def test_auto_increment(tmp_path):
    names = [new_run_dir("train", root=tmp_path).name for _ in range(3)]
    assert names == ["exp", "exp2", "exp3"]
    assert (tmp_path / "train" / "exp2").is_dir()


def test_given_name_increments_unless_exist_ok(tmp_path):
    assert new_run_dir("eval", "night", root=tmp_path).name == "night"
    assert new_run_dir("eval", "night", root=tmp_path).name == "night2"
    assert new_run_dir("eval", "night", exist_ok=True, root=tmp_path).name == "night"


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "/abs"])
def test_name_must_not_escape(tmp_path, name):
    with pytest.raises(TracknetError, match="one folder name"):
        new_run_dir("train", name, root=tmp_path)
