"""Writing files so that a crash never leaves a half-written one behind."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds. It
    keeps `path`'s suffix, for writers that pick the format by it (OpenCV's image and video ones)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: object) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def file_digest(path: str | Path) -> str | None:
    """The SHA-256 of a file's bytes (hex), or None when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, "rb") as handle:  # in blocks: a match video may not fit in memory
        return hashlib.file_digest(handle, "sha256").hexdigest()
