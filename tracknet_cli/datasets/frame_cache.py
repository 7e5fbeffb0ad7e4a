"""A frame cache: every frame of a dataset pre-resized to the training resolution.

`tracknet prepare tracknet --cache 512x288` stores each clip as one uint8 RGB array
`cache/512x288/<game>/<Clip>.npy` of shape [frames, H, W, 3], in the clip's index order. Datasets
memory-map it, so reading a window is a copy of a few hundred kilobytes instead of decoding
1280x720 JPEGs, and the operating system's page cache keeps hot clips in memory for every worker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tracknet_cli.datasets.frames import read_frame
from tracknet_cli.errors import DataError
from tracknet_cli.fileio import atomic_path


def clip_cache_path(cache_dir: Path, clip_id: str) -> Path:
    return Path(cache_dir) / f"{clip_id}.npy"


def write_clip_cache(cache_dir: Path, clip_id: str, files: list[Path], size: tuple[int, int]) -> Path:
    """Decode, resize and store one clip's frames; the file appears only when complete."""
    width, height = size
    path = clip_cache_path(cache_dir, clip_id)
    with atomic_path(path) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                          shape=(len(files), height, width, 3))
        for row, file in enumerate(files):
            array[row] = read_frame(file, size)
        array.flush()
        del array  # close the mapping before the rename
    return path


class CachedFrameSource:
    """Frames read from a clip's memory-mapped cache array, opened lazily in each worker."""

    def __init__(self, cache_dir: str | Path, size: tuple[int, int]):
        self.cache_dir = Path(cache_dir)
        self.size = size
        self._arrays: dict[str, np.ndarray] = {}

    def load(self, clip_id: str, rows: list[int], files: list[str]) -> np.ndarray:
        """[T, H, W, 3] uint8 RGB: rows `rows` of the clip's cache array."""
        del files  # image files are only needed without a cache
        array = self._arrays.get(clip_id)
        if array is None:
            array = self._arrays[clip_id] = self._open(clip_id)
        return np.ascontiguousarray(array[rows])

    def _open(self, clip_id: str) -> np.ndarray:
        path = clip_cache_path(self.cache_dir, clip_id)
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(f"frame cache {path} cannot be read ({exc}); run prepare --cache again") from None
        width, height = self.size
        if array.ndim != 4 or array.shape[1:] != (height, width, 3):
            raise DataError(f"frame cache {path} holds {array.shape[1:3]} frames, expected {height}x{width}")
        return array
