"""A dataset's card: `dataset.json` in its root, saying how the dataset was made.

`tracknet prepare synthetic` writes one (preset, spec, seed, real videos used, version); the
trainer copies it into every checkpoint it saves (`data_card`), so a model says what data made it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tracknet_cli import __version__
from tracknet_cli.errors import DataError
from tracknet_cli.fileio import write_json

CARD = "dataset.json"


def write_card(root: str | Path, **facts) -> None:
    """Write the card of the dataset in `root` (its facts, plus the version that made it)."""
    write_json(Path(root) / CARD, {**facts, "version": __version__})


def read_card(root: str | Path) -> dict | None:
    """The card of the dataset in `root`, or None for a dataset without one (a user's own)."""
    path = Path(root) / CARD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable dataset card: {exc}") from None
