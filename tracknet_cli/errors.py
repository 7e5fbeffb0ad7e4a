"""Errors a user can act on.

Anything raised as a `TracknetError` is printed by the CLI as one clear line (no traceback unless
`--debug`). Library code raises these for bad input: files, labels, configs, checkpoints.
"""

from __future__ import annotations

from pathlib import Path


def describe(exc: BaseException, limit: int = 200) -> str:
    """Another library's exception in one line for a message: `Type: first line` (the type alone
    when its message is empty, as a bare `assert` or an `EOFError` of an empty file leaves it)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:limit]}" if lines else type(exc).__name__


class TracknetError(Exception):
    """A problem with the user's input, worded so the user can fix it."""


class ConfigError(TracknetError):
    """An unknown key, a wrong type or a missing config file."""


class DataError(TracknetError):
    """A dataset, label file, image or video that cannot be used as it is."""


class LabelError(DataError):
    """One defect in a dataset, located by file and line (1-based, header is line 1).

    `kind` is a short name for the sort of defect ("header", "coordinates", "corrupt-image", ...)
    so that a validation report can count them.
    """

    def __init__(self, path: str | Path, line: int | None, message: str, kind: str = "label"):
        self.path = Path(path)
        self.line = line
        self.message = message
        self.kind = kind
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # rebuilt from its fields when it crosses a process boundary
        return type(self), (self.path, self.line, self.message, self.kind)
