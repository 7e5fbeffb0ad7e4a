"""Drawing a ball track: an overlay video (marker, fading trail, bounce rings and hit flashes) and a
trajectory plot (with its events marked)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from tracknet_cli.datasets.video import VideoReader, prefetched
from tracknet_cli.datasets.video_writer import video_writer
from tracknet_cli.fileio import atomic_path
from tracknet_cli.inference.events import BOUNCE, HIT, Events
from tracknet_cli.inference.trajectory import Track

BALL_COLOUR = (0, 255, 255)  # BGR yellow; interpolated positions are drawn hollow
BOUNCE_COLOUR, HIT_COLOUR = (255, 0, 255), (255, 255, 255)  # BGR magenta rings, white flashes
BOUNCE_SECONDS, HIT_SECONDS = 1.0, 0.2  # how long a bounce's ring stays, a hit's flash lasts
EVENT_RADIUS = 1 / 45  # of the frame height: a bounce ring's half-width, a flash's first radius


def draw_ball(frame: np.ndarray, track: np.ndarray, interpolated: np.ndarray, index: int, trail: int) -> None:
    """Marker at frame `index` and a trail over the `trail` frames before it, fading and thinning
    with age; `track` [N, 2] in video pixels, NaN where there is no ball."""
    radius = max(3, round(frame.shape[0] / 120))
    previous = None
    for age in range(trail, -1, -1):
        i = index - age
        if i < 0 or np.isnan(track[i, 0]):
            previous = None
            continue
        point = (round(float(track[i, 0])), round(float(track[i, 1])))
        if previous is not None:  # the segment from the frame before, faded by this end's age
            fade = 1 - age / (trail + 1)
            colour = tuple(int(c * fade) for c in BALL_COLOUR)
            cv2.line(frame, previous, point, colour, max(1, round(radius * fade)), cv2.LINE_AA)
        previous = point
    if not np.isnan(track[index, 0]):
        centre = (round(float(track[index, 0])), round(float(track[index, 1])))
        cv2.circle(frame, centre, radius, BALL_COLOUR, 2 if interpolated[index] else -1, cv2.LINE_AA)


def draw_events(frame: np.ndarray, events: Events, index: int) -> None:
    """Where the ball bounced, a ring that fades over BOUNCE_SECONDS; where it was hit, a flash
    that widens and fades over HIT_SECONDS. Only the events of the last BOUNCE_SECONDS are looked
    at (`events` are in frame order): an hour's overlay does not visit every event on every frame."""
    radius = max(6, round(frame.shape[0] * EVENT_RADIUS))
    recent = slice(np.searchsorted(events.frame, index - BOUNCE_SECONDS * events.fps),
                   np.searchsorted(events.frame, index, side="right"))
    for (x, y), kind, start in zip(events.xy[recent], events.kind[recent], events.frame[recent]):
        lasts = max(1, round((BOUNCE_SECONDS if kind == BOUNCE else HIT_SECONDS) * events.fps))
        age = index - start
        if not 0 <= age < lasts or not np.isfinite([x, y]).all():
            continue
        fade = 1 - age / lasts
        centre = (round(float(x)), round(float(y)))
        if kind == BOUNCE:
            colour = tuple(int(c * fade) for c in BOUNCE_COLOUR)
            # flattened like a ring lying on the court seen from a broadcast camera
            cv2.ellipse(frame, centre, (radius, max(2, radius // 2)), 0, 0, 360, colour, 3, cv2.LINE_AA)
        elif kind == HIT:
            colour = tuple(int(c * fade) for c in HIT_COLOUR)
            cv2.circle(frame, centre, round(radius * (1 + 1.5 * age / lasts)), colour, 3, cv2.LINE_AA)


def write_overlay(video: str | Path, track: Track, events: Events, path: Path, trail: int,
                  progress: Callable[[int], None] | None = None) -> str:
    """The video with the track and its `events` drawn into `path`, at its resolution and frame
    rate; written under a temporary name and renamed once every frame is in. A background thread
    decodes while this one draws and ffmpeg encodes. Returns the codec (`video_writer.H264`, or the
    mp4v fallback)."""
    with VideoReader(video) as reader, \
            video_writer(path, reader.info.fps, (reader.info.width, reader.info.height)) as writer:
        for index, frame in enumerate(prefetched(islice(reader, len(track)))):  # no decoding past the track
            draw_events(frame, events, index)
            draw_ball(frame, track.xy, track.interpolated, index, trail)
            writer.write(frame)
            if progress:
                progress(1)
    return writer.codec


def plot_trajectory(track: Track, events: Events, still_bgr: np.ndarray | None, path: Path) -> Path:
    """PNG: the track over a still frame (colour = time), and x and y against the frame number;
    bounces (magenta rings) and hits (white-edged crosses) marked on both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames, seen = np.arange(len(track)), track.visible
    figure, (image_axes, series_axes) = plt.subplots(1, 2, figsize=(14, 4.5), gridspec_kw={"width_ratios": [1.4, 1]})
    if still_bgr is not None:
        image_axes.imshow(cv2.cvtColor(still_bgr, cv2.COLOR_BGR2RGB))
    image_axes.scatter(track.xy[seen, 0], track.xy[seen, 1], c=frames[seen], cmap="viridis", s=6)
    image_axes.set_title("ball track (colour: frame)")
    image_axes.axis("off")
    for axis, label in enumerate("xy"):
        series_axes.plot(frames, track.xy[:, axis], label=label, linewidth=1)  # NaN: a break in the line
    for kind, name, style in ((BOUNCE, "bounce", dict(marker="o", facecolors="none", edgecolors="#e020e0")),
                              (HIT, "hit", dict(marker="X", color="#202020", edgecolors="white"))):
        chosen = events.kind == kind
        if not chosen.any():
            continue
        xy, at = events.xy[chosen], events.frame[chosen]
        image_axes.scatter(xy[:, 0], xy[:, 1], s=80, linewidths=1.5, zorder=3, **style)
        for axis in range(2):
            series_axes.scatter(at, xy[:, axis], s=40, linewidths=1.2, zorder=3,
                                label=name if axis == 0 else None, **style)
    series_axes.set_xlabel("frame")
    series_axes.set_ylabel("pixels")
    series_axes.legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
    return path
