"""`tracknet predict-video`: a match video in, the ball's track (CSV), an overlay and a plot out.

Pass 1 streams the video: a background thread decodes and letterboxes frames while the model runs
batches of T-frame windows; only the per-frame candidates are kept (and whether each frame repeats
the picture before it, which the tracker's clock needs), so memory stays flat however long the
video is. The trajectory is then post-processed as a whole (it is a few numbers per
frame). Pass 2, only with an overlay, decodes the video again and draws the final track.
Everything is written under a temporary name and renamed when complete.

`VideoOptions` are predict-video's options for every task; `track_ball` is the ball task's entry
in the task table.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from tracknet_cli.datasets.video import VideoInfo, VideoReader, opened, prefetched
from tracknet_cli.datasets.video_writer import overlay_label
from tracknet_cli.errors import DataError
from tracknet_cli.fileio import atomic_path
from tracknet_cli.geometry import inside_frame
from tracknet_cli.inference.events import BOUNCE, HIT, EventDetector, check_method, detect_events, track_table
from tracknet_cli.inference.predictor import Predictor
from tracknet_cli.inference.trajectory import Track, TrajectoryConfig, postprocess
from tracknet_cli.model_input import Letterbox, SampleSpec

HEATMAP_NOISE = 0.5  # heatmap pixels: a peak refined between pixels still misses by up to half one
REPEAT_LEVEL = 24  # of 255: how much a pixel of the model input must change to count as changed
REPEAT_PIXELS = 2  # changed pixels a repeated picture may have (the 1080p broadcast clips: 0-1)


@dataclass
class VideoOptions:
    """predict-video's options; each task reads its own (the task table says which)."""

    batch_size: int = 8  # windows (or frames) per forward pass
    threshold: float = 0.5  # heatmap peak that calls a ball; a detector's box score
    input_size: tuple[int, int] | None = None  # ball: (W, H) the model runs at; None: the size it was trained at
    overlay: bool = False
    plot: bool = False  # ball: the trajectory plot
    report: bool = True  # ball: report.html with the summary, overlay, plot and a per-frame strip (and the plot)
    trail: int = 12  # ball: frames of fading trail behind the ball on the overlay
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)  # ball: the tracker
    events: str = "learned"  # ball: hits and bounces by `events.METHODS` (learned, flights, none)
    bounces: bool = True  # ball: False: every event is a hit (badminton: the shuttle does not bounce)
    templates: Path | None = None  # reference-based detection: the folder of the object's templates


@dataclass
class VideoRun:
    """What a pass over a video did: the frames it decoded and the time it took."""

    info: VideoInfo
    frames: int  # decoded and predicted
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def truncated(self) -> bool:
        """Fewer frames decoded than the header promised: a cut-off file or a lying header."""
        return 0 < self.frames < self.info.frame_count


def summary_rows(result) -> list[tuple[str, object]]:
    """The rows any task's video result is summed up by (its `info`, `frames`, `counts()`,
    `seconds`, `fps`): what the CLI prints and the report shows."""
    return [("video", f"{result.info.width}x{result.info.height} at {result.info.fps:.2f} fps"),
            ("frames", result.frames), *result.counts(),
            ("time", f"{result.seconds:.1f} s ({result.fps:.1f} frames/s end to end)")]


@dataclass
class PredictVideoResult(VideoRun):
    with_ball: int
    interpolated: int
    csv: Path
    hits: int = 0
    bounces: int = 0
    events_csv: Path | None = None
    overlay: Path | None = None
    overlay_codec: str | None = None
    plot: Path | None = None
    report: Path | None = None

    def counts(self) -> list[tuple[str, int]]:
        return [("frames with a ball", self.with_ball), ("interpolated", self.interpolated),
                ("bounces", self.bounces), ("hits", self.hits)]

    def outputs(self) -> list[tuple[str, Path]]:
        outputs = (("track", self.csv), ("events", self.events_csv), (overlay_label(self.overlay_codec), self.overlay),
                   ("plot", self.plot), ("report", self.report))
        return [(label, path) for label, path in outputs if path is not None]


def track_ball(model: torch.nn.Module, cfg: DictConfig, device: torch.device,
               options: VideoOptions) -> Callable[..., PredictVideoResult]:
    """The ball task's predict-video for `model` (as `weights.load_weights` gives it), ready to
    run: `run(video, out_dir, on_start, progress)`."""
    predictor = Predictor.from_loaded(model, cfg, device, options.input_size, threshold=options.threshold)
    check_method(options.events)  # before any video is decoded
    detector = EventDetector.load() if options.events == "learned" else None  # once for every video

    def run(video, out_dir, on_start=None, progress=None) -> PredictVideoResult:
        return predict_video(video, predictor, out_dir, options, on_start, progress, detector)

    return run


def predict_video(video: str | Path | VideoReader, predictor: Predictor, out_dir: str | Path,
                  options: VideoOptions | None = None,
                  on_start: Callable[[int | None], None] | None = None,
                  progress: Callable[[int], None] | None = None,
                  event_detector: EventDetector | None = None) -> PredictVideoResult:
    """Track the ball through `video` (a path, or a reader opened on it) into `out_dir`, with its
    hits and bounces by `options.events` (`event_detector`: the learned one, None: the shipped
    one); `on_start(total)` with the progress to come, then `progress(n)` after every n frames."""
    options = options or VideoOptions()
    started = time.perf_counter()
    out_dir = Path(out_dir)
    with opened(video) as reader:
        if on_start:  # the progress to come: every frame once, twice with an overlay (decoded again)
            on_start(reader.info.frame_count * (2 if options.overlay else 1) or None)
        seen = detect_video(reader, predictor, options.batch_size, progress)
    info, candidates = seen.info, seen.candidates
    track = seen.track(options.trajectory, predictor.spec)
    events = detect_events(track, info.fps, (info.width, info.height), options.events, event_detector,
                           options.bounces, seen.repeats)
    stem = info.path.stem
    result = PredictVideoResult(info, len(candidates), 0.0, int(track.visible.sum()),
                                int(track.interpolated.sum()), out_dir / f"{stem}_ball.csv",
                                hits=events.count(HIT), bounces=events.count(BOUNCE))
    with atomic_path(result.csv) as tmp:
        track_table(track, events).to_csv(tmp, index=False, float_format="%.3f")
    if options.events != "none":
        result.events_csv = out_dir / f"{stem}_events.csv"
        with atomic_path(result.events_csv) as tmp:
            events.table().to_csv(tmp, index=False, float_format="%.3f")
    if options.plot or options.report:
        from tracknet_cli.inference.overlay import plot_trajectory

        result.plot = plot_trajectory(track, events, seen.first, out_dir / f"{stem}_trajectory.png")
    if options.overlay:
        from tracknet_cli.inference.overlay import write_overlay

        result.overlay = out_dir / f"{stem}_overlay.mp4"
        result.overlay_codec = write_overlay(info.path, track, events, result.overlay, options.trail, progress)
    result.seconds = time.perf_counter() - started
    if options.report:
        from tracknet_cli.inference.video_report import write_video_report

        result.report = write_video_report(out_dir / f"{stem}_report.html", f"{info.path.name}: the ball track",
                                           summary_rows(result), track, events, seen.top_scores(), options.threshold,
                                           result.overlay, result.plot, result.outputs())
    return result


@dataclass
class Detections:
    """What the model saw in a video, a few numbers per frame: memory stays flat however long it is."""

    info: VideoInfo
    letterbox: Letterbox  # video frame -> model input
    candidates: list[np.ndarray]  # per frame [K, 3] (x, y, score) in video pixels, scores above the threshold
    first: np.ndarray  # [H, W, 3] BGR: the first frame, the plot's backdrop
    repeats: np.ndarray  # [N] bool: the frame shows the picture before it again (`repeated_frames`)

    def track(self, trajectory: TrajectoryConfig, spec: SampleSpec) -> Track:
        """The ball's track by `trajectory`, its tests as sharp as the model's heatmap when it
        does not set its own noise."""
        if trajectory.noise is None:
            trajectory = replace(trajectory, noise=detection_noise(spec, self.letterbox))
        return postprocess(self.candidates, self.info.fps, (self.info.width, self.info.height), trajectory,
                           self.repeats)

    def top_scores(self) -> np.ndarray:
        """[N] each frame's best candidate score, 0 without one."""
        return np.array([c[:, 2].max() if len(c) else 0.0 for c in self.candidates])


def detect_video(reader: VideoReader, predictor: Predictor, batch_size: int = 8,
                 progress: Callable[[int], None] | None = None,
                 on_frame: Callable[[int, np.ndarray], None] | None = None) -> Detections:
    """Pass 1 over an open video: each frame's ball candidates; `progress(n)` after every n frames,
    `on_frame(index, model_input)` with each frame's model input (RGB uint8 [h, w, 3]) as it is
    decoded. Raises a DataError when no frame decodes."""
    info = reader.info
    letterbox = Letterbox.fit((info.width, info.height), predictor.spec.input_size)
    candidates, first, repeats = _detect(reader, letterbox, predictor, batch_size, progress, on_frame)
    if not candidates:
        raise DataError(f"{info.path}: no frame could be decoded (empty or corrupt video)")
    return Detections(info, letterbox, candidates, first, repeats)


def _detect(reader: VideoReader, letterbox: Letterbox, predictor: Predictor, batch_size: int,
            progress: Callable[[int], None] | None,
            on_frame: Callable[[int, np.ndarray], None] | None = None,
            ) -> tuple[list[np.ndarray], np.ndarray | None, np.ndarray]:
    """Per frame, its ball candidates [K, 3] (x, y, score) in video pixels; the first frame; and
    which frames repeat the picture before them [N] bool (`repeated_frames`)."""
    spec = predictor.spec
    candidates: list[np.ndarray] = []
    first: list[np.ndarray] = []
    unchanged: list[bool] = []  # per frame: its model input is the one before it again
    batch: list[tuple[np.ndarray | None, list[int]]] = []  # (window, the frames it stands for)

    def run_batch(outputs: tuple[np.ndarray, np.ndarray]) -> None:
        points, scores = outputs  # [B, T_out, k, 2], [B, T_out, k]: a window (or frame) per row
        for (_, frames), window_points, window_scores in zip(batch, points, scores):
            for frame, p, s in zip(frames, window_points[-len(frames):], window_scores[-len(frames):]):
                xy = letterbox.to_frame(p[s > 0])
                on_frame = inside_frame(xy, letterbox.frame_size)  # not a peak on the letterbox's bars
                candidates[frame] = np.column_stack([xy[on_frame], s[s > 0][on_frame]])
        if progress:
            progress(sum(len(frames) for _, frames in batch))
        batch.clear()

    def frames_in_order() -> Iterator[np.ndarray]:
        before = None
        for index, (raw, frame) in enumerate(decoded_frames(reader, letterbox.apply)):
            if index == 0:
                first.append(raw)
            candidates.append(np.empty((0, 3)))
            unchanged.append(before is not None and _same_picture(frame, before))
            before = frame
            if on_frame:
                on_frame(index, frame)
            yield frame

    if predictor.reuses_frames:  # late fusion, a window per frame: each frame's backbone once
        predictor.start_stream()
        for chunk in map(np.stack, batched(frames_in_order(), batch_size)):
            start = len(candidates) - len(chunk)  # the chunk's frames are the newest ones
            batch.extend((None, [start + j]) for j in range(len(chunk)))
            run_batch(predictor.predict_next_frames(chunk))
        return candidates, (first[0] if first else None), repeated_frames(unchanged)
    for window, frames in _windows(frames_in_order(), spec.frames, spec.output_frames):
        batch.append((window, frames))
        if len(batch) == batch_size:
            run_batch(predictor(np.stack([window for window, _ in batch])))
    if batch:
        run_batch(predictor(np.stack([window for window, _ in batch])))
    return candidates, (first[0] if first else None), repeated_frames(unchanged)


def detection_noise(spec: SampleSpec, letterbox: Letterbox) -> float:
    """How far a detection sits from the ball, in frame lengths (the longer side): HEATMAP_NOISE
    of a heatmap pixel, as the video shows it."""
    stride = spec.input_size[0] / spec.heatmap_size[0]  # model-input pixels per heatmap pixel
    pixel = stride * letterbox.frame_size[0] / letterbox.scaled_size[0]  # video pixels
    return HEATMAP_NOISE * pixel / max(letterbox.frame_size)


def _same_picture(frame: np.ndarray, before: np.ndarray) -> bool:
    """Whether model input `frame` [h, w, 3] uint8 shows `before` again: at most REPEAT_PIXELS of
    its pixels differ by more than REPEAT_LEVEL. Compression noise stays below the level; anything
    that moves (a player, the ball) changes hundreds of pixels."""
    change = np.abs(frame.astype(np.int16) - before).max(axis=-1)
    return int(np.count_nonzero(change > REPEAT_LEVEL)) <= REPEAT_PIXELS


def repeated_frames(unchanged: Sequence[bool]) -> np.ndarray:
    """[N] bool: the frames that repeat the picture before them (`unchanged` [N]) after a frame
    that did change: a video converted to a higher frame rate (25 fps shown at 30 repeats every
    sixth frame). A frozen picture, unchanged for frames on end, is a still scene, not a repeat."""
    unchanged = np.asarray(unchanged, dtype=bool)
    return unchanged & ~np.concatenate([[False], unchanged[:-1]])


def batched(items: Iterator, size: int) -> Iterator[list]:
    """Consecutive items in lists of `size` (the last may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _windows(frames: Iterator[np.ndarray], length: int, outputs: int) -> Iterator[tuple[np.ndarray, list[int]]]:
    """(window [T, H, W, 3], the frame numbers its last outputs stand for) covering every frame
    once. T_out = T: consecutive windows of T new frames; T_out = 1: a window ending at each frame.
    The first window is padded with copies of the first frame, the last may overlap its
    predecessor: only its new frames count."""
    recent: deque[np.ndarray] = deque(maxlen=length)
    pending: list[int] = []
    for index, frame in enumerate(frames):
        recent.append(frame)
        pending.append(index)
        if len(pending) == outputs:
            yield _padded(recent, length), pending
            pending = []
    if pending:
        yield _padded(recent, length), pending


def _padded(recent: deque[np.ndarray], length: int) -> np.ndarray:
    frames = list(recent)
    return np.stack([frames[0]] * (length - len(frames)) + frames)


def decoded_frames(reader: VideoReader,
                   prepare: Callable[[np.ndarray], np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(BGR frame, `prepare`d model input) per frame, decoded and prepared by a background thread
    so that work overlaps the model."""
    return prefetched((raw, prepare(raw)) for raw in reader)
