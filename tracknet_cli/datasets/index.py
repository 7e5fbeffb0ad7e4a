"""The dataset index: one row per usable labelled frame of a TrackNet-layout dataset.

`tracknet prepare tracknet --root DIR` validates the dataset and writes `DIR/index.csv` (the
frames) and `DIR/index.json` (what was indexed and which frame caches exist). Datasets read the
index instead of walking folders and parsing labels each time; paths in it are relative to DIR
so a dataset folder can be moved.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tracknet_cli import __version__
from tracknet_cli.errors import DataError, describe
from tracknet_cli.fileio import atomic_path, file_digest, write_json

INDEX_CSV = "index.csv"
INDEX_JSON = "index.json"
LABEL_FILE = "Label.csv"
INDEX_COLUMNS = ["clip", "game", "frame", "file", "visibility", "x", "y", "status", "width", "height"]
_GAME = re.compile(r"^game(\d+)$", re.IGNORECASE)
_CLIP = re.compile(r"^clip(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ClipFolder:
    clip_id: str  # "game1/Clip3"
    game: int
    path: Path


def find_clips(root: str | Path) -> list[ClipFolder]:
    """The `game*/Clip*/` folders under `root`, in natural order (game2 before game10)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist")
    clips = []
    for game_dir in root.iterdir():
        game_match = _GAME.match(game_dir.name)
        if not (game_match and game_dir.is_dir()):
            continue
        for clip_dir in game_dir.iterdir():
            clip_match = _CLIP.match(clip_dir.name)
            if clip_match and clip_dir.is_dir():
                order = (int(game_match.group(1)), int(clip_match.group(1)))
                clips.append((order, ClipFolder(f"{game_dir.name}/{clip_dir.name}", order[0], clip_dir)))
    if not clips:
        raise DataError(f"no game*/Clip*/ folders under {root}: is this a TrackNet-layout dataset?")
    return [clip for _, clip in sorted(clips, key=lambda item: item[0])]


def cache_key(size: tuple[int, int] | list[int]) -> str:
    """`(512, 288)` -> `"512x288"`: how cache folders and index entries name a resolution."""
    return f"{int(size[0])}x{int(size[1])}"


@dataclass
class DatasetIndex:
    root: Path
    frames: pd.DataFrame  # INDEX_COLUMNS, clips in natural order, frames ascending in a clip
    caches: dict[str, str] = field(default_factory=dict)  # "512x288" -> folder relative to root
    created: float = field(default_factory=time.time)
    # each indexed clip's Label.csv digest when the index was written: content, not mtimes, says
    # whether the index is stale, so a dataset copied without its timestamps stays usable
    label_digests: dict[str, str] = field(default_factory=dict)

    def clip_ids(self) -> list[str]:
        return list(dict.fromkeys(self.frames["clip"]))

    def cache_dir(self, size: tuple[int, int] | list[int]) -> Path | None:
        relative = self.caches.get(cache_key(size))
        return self.root / relative if relative else None

    def save(self) -> Path:
        with atomic_path(self.root / INDEX_CSV) as tmp:
            self.frames[INDEX_COLUMNS].to_csv(tmp, index=False)
        self.label_digests = {clip_id: file_digest(self.root / clip_id / LABEL_FILE) for clip_id in self.clip_ids()}
        meta = {
            "version": __version__,
            "created": self.created,
            "clips": len(self.clip_ids()),
            "frames": len(self.frames),
            "caches": self.caches,
            "labels": self.label_digests,
        }
        write_json(self.root / INDEX_JSON, meta)
        return self.root / INDEX_CSV

    @classmethod
    def load(cls, root: str | Path) -> DatasetIndex:
        root = Path(root)
        csv_path, json_path = root / INDEX_CSV, root / INDEX_JSON
        if not (csv_path.is_file() and json_path.is_file()):
            raise DataError(f"{root} has no index; run `tracknet prepare tracknet --root {root}`")
        meta = _read_index_file(json_path, lambda path: json.loads(path.read_text(encoding="utf-8")))
        frames = _read_index_file(csv_path, lambda path: pd.read_csv(path, keep_default_na=False, na_values=[""]))
        missing = set(INDEX_COLUMNS) - set(frames.columns)
        if missing:
            raise DataError(f"{csv_path} lacks columns {sorted(missing)}; run prepare again")
        frames["file"] = frames["file"].astype(str)
        index = cls(root, frames, dict(meta.get("caches", {})), float(meta.get("created", 0.0)),
                    dict(meta.get("labels", {})))
        index._check_fresh()
        return index

    def _check_fresh(self) -> None:
        """Refuse an index whose label files have changed since it was written: it would silently lie."""
        for clip_id in self.clip_ids():
            label_file = self.root / clip_id / LABEL_FILE
            if file_digest(label_file) != self.label_digests.get(clip_id):
                raise DataError(f"{label_file} is not the file the index was written from (changed, removed, "
                                f"or an index of an older tracknet); run `tracknet prepare tracknet "
                                f"--root {self.root}` again")



def _read_index_file(path: Path, read):
    """`read(path)`, or an error naming the index file that is damaged and how to rebuild it."""
    try:
        return read(path)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} cannot be read ({describe(exc)}); run `tracknet prepare tracknet "
                        f"--root {path.parent}` again") from None
