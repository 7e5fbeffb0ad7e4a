"""The frames a ball model gets most wrong, as crops to look at (eval's report shows them).

    FP1  a ball found too far from the label: the farthest first
    FN   the ball missed: the most confident misses last (the model nearly had them)
    FP2  a ball reported where there is none: the most confident first

Each crop is centred on the label (or, for FP2, the prediction) at the frame's own resolution; a
prediction too far to share the crop gets a second crop beside it. The label is a green ring, the
prediction a red cross.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tracknet_cli.evaluation.attention_maps import encode_png

LABEL_BGR, PREDICTION_BGR = (60, 200, 60), (40, 40, 230)
ORDER = {"FP1": ("error", False), "FN": ("confidence", True), "FP2": ("confidence", False)}  # column, ascending


def worst_frames(predictions: pd.DataFrame, count: int) -> pd.DataFrame:
    """Up to `count` rows of `predictions` (the evaluator's, with `outcome`), shared fairly
    between FP1, FN and FP2: each kind's worst first, round-robin."""
    ranked = [predictions[predictions["outcome"] == kind].sort_values(column, ascending=ascending, kind="stable")
              for kind, (column, ascending) in ORDER.items()]
    picked = []
    for rank in range(count):
        for table in ranked:
            if rank < len(table) and len(picked) < count:
                picked.append(table.iloc[rank])
    return pd.DataFrame(picked, columns=predictions.columns)


def crop(image: np.ndarray, centre: tuple[float, float], size: int) -> np.ndarray:
    """A `size` x `size` window of `image` around `centre`, grey where it runs off the frame."""
    half = size // 2
    padded = cv2.copyMakeBorder(image, half, half, half, half, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    x, y = (int(round(c)) for c in centre)
    return padded[y:y + size, x:x + size].copy()


def draw_example(image: np.ndarray, row: pd.Series, size: int = 160) -> np.ndarray:
    """The crop(s) of one wrong frame, label and prediction marked. BGR in, BGR out."""
    marked = image.copy()
    label = (row["x"], row["y"]) if np.isfinite(row["x"]) else None
    found = (row["pred_x"], row["pred_y"]) if np.isfinite(row["pred_x"]) else None
    if label is not None:
        cv2.circle(marked, tuple(int(round(v)) for v in label), 9, LABEL_BGR, 2, cv2.LINE_AA)
    if found is not None:
        cv2.drawMarker(marked, tuple(int(round(v)) for v in found), PREDICTION_BGR, cv2.MARKER_CROSS, 16, 2)
    centres = [point for point in (label, found) if point is not None]
    if len(centres) == 2 and np.hypot(*np.subtract(*centres)) < size * 0.35:
        centres = [tuple(np.mean(centres, axis=0))]  # both in one crop
    return np.hstack([crop(marked, centre, size) for centre in centres])


def crop_examples(rows: pd.DataFrame, image_path: Callable[[str, int], Path]) -> dict[str, bytes]:
    """PNG crops of `rows` (from `worst_frames`), named `<rank>_<outcome>_<clip>_<frame>.png`;
    `image_path(clip, frame)` finds the original frame."""
    examples = {}
    for rank, (_, row) in enumerate(rows.iterrows(), start=1):
        image = cv2.imread(str(image_path(row["clip"], int(row["frame"]))), cv2.IMREAD_COLOR)
        if image is None:
            continue  # a frame that vanished since the index was written: skip it, the scores stand
        name = f"{rank:02d}_{row['outcome']}_{str(row['clip']).replace('/', '_')}_{int(row['frame']):05d}.png"
        examples[name] = encode_png(cv2.cvtColor(draw_example(image, row), cv2.COLOR_BGR2RGB))
    return examples
