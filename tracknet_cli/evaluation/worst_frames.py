"""The frames a model gets most wrong, as images to look at (eval's report shows them).

Ball models (`ORDER`):
    FP1  a ball found too far from the label: the farthest first
    FN   the ball missed: the most confident misses last (the model nearly had them)
    FP2  a ball reported where there is none: the most confident first
Each is a crop centred on the label (or, for FP2, the prediction) at the frame's own resolution;
a prediction too far to share the crop gets a second crop beside it. The label is a green ring,
the prediction a red cross.

Reference-based detectors (`DETECTION_ORDER`): FP (a box on something else, the most confident
first), then FN (the object missed). Each is the whole search image, the labelled box green, the
predicted one red.
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
DETECTION_ORDER = {"FP": ("score", False), "FN": ("iou", True)}


def worst_frames(predictions: pd.DataFrame, count: int, order: dict = ORDER) -> pd.DataFrame:
    """Up to `count` rows of `predictions` (an evaluator's, with `outcome`), shared fairly between
    the kinds of `order`: each kind's worst first, round-robin."""
    ranked = [predictions[predictions["outcome"] == kind].sort_values(column, ascending=ascending, kind="stable")
              for kind, (column, ascending) in order.items()]
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


def draw_boxes(image: np.ndarray, row: pd.Series) -> np.ndarray:
    """A detector's wrong image: the labelled box green, the predicted one red. BGR in, BGR out."""
    marked = image.copy()
    for colour, keys in ((LABEL_BGR, ("x1", "y1", "x2", "y2")), (PREDICTION_BGR, ("pred_x1", "pred_y1",
                                                                                  "pred_x2", "pred_y2"))):
        box = row[list(keys)].to_numpy(float)
        if np.isfinite(box).all():
            cv2.rectangle(marked, tuple(np.round(box[:2]).astype(int)), tuple(np.round(box[2:]).astype(int)),
                          colour, 2, cv2.LINE_AA)
    return marked


def crop_examples(rows: pd.DataFrame, image_path: Callable[[pd.Series], Path], name: Callable[[pd.Series], str],
                  draw: Callable[[np.ndarray, pd.Series], np.ndarray] = draw_example) -> dict[str, bytes]:
    """PNGs of `rows` (from `worst_frames`) drawn by `draw`, named `<rank>_<outcome>_<name(row)>.png`;
    `image_path(row)` finds the original image."""
    examples = {}
    for rank, (_, row) in enumerate(rows.iterrows(), start=1):
        image = cv2.imread(str(image_path(row)), cv2.IMREAD_COLOR)
        if image is None:
            continue  # an image that vanished since the index was written: skip it, the scores stand
        examples[f"{rank:02d}_{row['outcome']}_{name(row)}.png"] = encode_png(cv2.cvtColor(draw(image, row),
                                                                                         cv2.COLOR_BGR2RGB))
    return examples
