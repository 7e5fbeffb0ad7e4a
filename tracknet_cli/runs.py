"""Run directories: every command writes into `runs/<command>/<name>/`.

Names auto-increment like Ultralytics': `exp`, `exp2`, `exp3`, ... and a given `--name` that is
taken becomes `name2`, `name3`, ... unless `exist_ok` reuses it.
"""

from __future__ import annotations

import re
from pathlib import Path

from tracknet_cli.errors import TracknetError

DEFAULT_ROOT = Path("runs")
BUILTIN_NAME = "builtin"  # what `--weights` takes to name the model shipped with the package
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_made: list[Path] = []  # the run directories this process created, for `remove_empty_runs`


def new_run_dir(
    command: str, name: str | None = None, exist_ok: bool = False, root: str | Path = DEFAULT_ROOT
) -> Path:
    """Create and return a fresh run directory for `command`."""
    base = name or "exp"
    if not _NAME_PATTERN.match(base) or ".." in base:
        raise TracknetError(
            f"run name {base!r} must be one folder name (letters, digits, '.', '_', '-'), "
            "not a path"
        )
    parent = Path(root) / command
    parent.mkdir(parents=True, exist_ok=True)
    if exist_ok:
        path = parent / base
        if not path.is_dir():
            _made.append(path)
        path.mkdir(exist_ok=True)
        return path
    for index in range(1, 10_000):
        path = parent / (base if index == 1 else f"{base}{index}")
        try:
            path.mkdir()  # atomic: two runs started together never share a directory
        except FileExistsError:
            continue
        _made.append(path)
        return path
    raise TracknetError(f"{parent} holds 9999 runs named {base}*; pick another --name")



def remove_empty_runs() -> None:
    """Remove the run directories this process created and left empty: a command that fails
    before it writes anything (a missing checkpoint, a video without frames) leaves no husk."""
    while _made:
        path = _made.pop()
        for folder in (path, path.parent, path.parent.parent):  # the run, runs/<command>, runs/
            if not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()


def trained_weights(root: str | Path = DEFAULT_ROOT) -> list[Path]:
    """Every `train/*/weights/best.pt` under `root`, newest first: the runs a user trained."""
    found = [p for p in Path(root).glob("train/*/weights/best.pt") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
