"""`tracknet predict-video --templates DIR`: find one object, shown by three templates, in every
frame of a video.

One pass: a background thread decodes and prepares frames while the detector runs batches of
them (the templates' kernels are computed once per batch, not per frame); each frame's best box
above the score threshold goes to the CSV and, with an overlay, is drawn on the frame and written
at once.
Outputs are written under temporary names and renamed when complete.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from omegaconf import DictConfig

from tracknet_cli.datasets.refdet_layout import TEMPLATE_NAMES
from tracknet_cli.datasets.video import VideoReader, opened
from tracknet_cli.datasets.video_writer import overlay_label, video_writer
from tracknet_cli.errors import DataError, TracknetError
from tracknet_cli.fileio import atomic_path
from tracknet_cli.inference.refdet_predictor import RefdetPredictor
from tracknet_cli.inference.video_prediction import VideoOptions, VideoRun, batched, decoded_frames

CSV_HEADER = ["Frame", "X1", "Y1", "X2", "Y2", "Score"]
BOX_COLOUR = (0, 220, 255)  # BGR amber: visible on grass, clay and hard courts


@dataclass
class RefdetVideoResult(VideoRun):
    with_object: int
    csv: Path
    overlay: Path | None = None
    overlay_codec: str | None = None

    def counts(self) -> list[tuple[str, int]]:
        return [("frames with the object", self.with_object)]

    def outputs(self) -> list[tuple[str, Path]]:
        outputs = (("boxes", self.csv), (overlay_label(self.overlay_codec), self.overlay))
        return [(label, path) for label, path in outputs if path is not None]


def detect_object(model: torch.nn.Module, cfg: DictConfig, device: torch.device,
                  options: VideoOptions) -> Callable[..., RefdetVideoResult]:
    """The reference-detection task's predict-video for `model` (as `weights.load_weights` gives
    it) and the object of `options.templates` (read here: a missing one fails before any work),
    ready to run: `run(video, out_dir, on_start, progress)`."""
    if options.templates is None:
        raise TracknetError(f"{cfg.model.name} is a reference-based detector: give the object's templates "
                            "with --templates DIR")
    templates = read_templates(options.templates)
    predictor = RefdetPredictor.from_loaded(model, cfg, device, threshold=options.threshold)

    def run(video, out_dir, on_start=None, progress=None) -> RefdetVideoResult:
        return detect_in_video(video, templates, predictor, out_dir, options.batch_size, options.overlay,
                               on_start, progress)

    return run


def read_templates(folder: str | Path) -> list[np.ndarray]:
    """The three template images of `folder` (template_0.jpg .. template_2.jpg, the refdet layout's
    names), as BGR arrays; a missing or unreadable one is named."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"templates folder {folder} does not exist")
    images = []
    for name in TEMPLATE_NAMES:
        image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if image is None:
            state = "is not a readable image" if (folder / name).is_file() else "is missing"
            raise DataError(f"template {folder / name} {state} (a templates folder holds {', '.join(TEMPLATE_NAMES)})")
        images.append(image)
    return images


def detect_in_video(video: str | Path | VideoReader, templates: list[np.ndarray], predictor: RefdetPredictor,
                    out_dir: str | Path, batch_size: int = 8, overlay: bool = False,
                    on_start: Callable[[int | None], None] | None = None,
                    progress: Callable[[int], None] | None = None) -> RefdetVideoResult:
    """Write `<video>_boxes.csv` (a row per frame; empty fields where the object is not found) and,
    with `overlay`, `<video>_overlay.mp4` into `out_dir`."""
    started = time.perf_counter()
    with opened(video) as reader:
        info, out_dir = reader.info, Path(out_dir)
        csv_path = out_dir / f"{info.path.stem}_boxes.csv"
        overlay_path = out_dir / f"{info.path.stem}_overlay.mp4" if overlay else None
        with atomic_path(csv_path) as csv_tmp, open(csv_tmp, "w", newline="") as handle:
            if on_start:  # the progress to come: every frame once
                on_start(info.frame_count or None)
            with (video_writer(overlay_path, info.fps, (info.width, info.height)) if overlay
                  else nullcontext()) as writer:
                rows = csv.writer(handle)
                rows.writerow(CSV_HEADER)
                frames = found = 0
                for batch in batched(decoded_frames(reader, predictor.search_input), batch_size):
                    images = [raw for raw, _ in batch]
                    results = predictor.predict_batch(templates, images, search=[prepared for _, prepared in batch])
                    for frame, (boxes, scores) in zip(images, results):
                        box, score = (boxes[0], scores[0]) if len(scores) else (None, None)  # once per frame at most
                        rows.writerow([frames, *(_cells(box, score))])
                        if writer is not None:
                            writer.write(draw_box(frame, box, score))
                        frames, found = frames + 1, found + (box is not None)
                    if progress:
                        progress(len(batch))
                if frames == 0:
                    raise DataError(f"{info.path}: no frame could be decoded (empty or corrupt video)")
                codec = writer.codec if writer is not None else None
    return RefdetVideoResult(info, frames, time.perf_counter() - started, found, csv_path, overlay_path, codec)


def draw_box(frame: np.ndarray, box: np.ndarray | None, score: float | None) -> np.ndarray:
    """The box and its score drawn on the BGR frame (in place, returned)."""
    if box is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        thickness = max(2, frame.shape[0] // 360)
        cv2.rectangle(frame, (x1, y1), (x2, y2), BOX_COLOUR, thickness, cv2.LINE_AA)
        cv2.putText(frame, f"{score:.2f}", (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, BOX_COLOUR, thickness, cv2.LINE_AA)
    return frame


def _cells(box: np.ndarray | None, score: float | None) -> list[str]:
    if box is None:
        return [""] * 5
    return [f"{v:.1f}" for v in box] + [f"{score:.4f}"]
