"""`report.html` of a predict-video run: one page to open and share, beside the files it shows.

The page holds the summary table, the overlay video, the trajectory plot, a per-frame strip (the
detector's strongest peak against the threshold, where the tracker reports the ball in play, and
ticks at the hits and bounces), the list of events and links to the CSVs. It refers to its
neighbours by relative links and loads nothing from the network, so the run folder can be zipped,
mailed or served as it is.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from tracknet_cli.html_page import key_value_table, links, records_table, write_page
from tracknet_cli.inference.events import BOUNCE, EVENT_NAMES, HIT, Events
from tracknet_cli.inference.trajectory import Track, true_runs

STRIP_WIDTH, STRIP_HEIGHT = 1000, 90  # SVG user units; the strip scales to the page's width
IN_PLAY, FILLED = "#2e9d4f", "#e0a82e"  # detected ball in play, gap filled inside a flight
EVENT_COLOURS = {BOUNCE: "#c81ec8", HIT: "#222222"}  # the strip's ticks, as the plot marks them

def confidence_strip(track: Track, events: Events, top_scores: np.ndarray, threshold: float) -> str:
    """Inline SVG, a column per frame: green where the track has a detected ball in play, amber
    where it fills a gap, and the detector's strongest peak of the frame as a line (the dashed line:
    the threshold); a tick at each event (magenta: bounce, black: hit). Peaks above the line with
    no colour under them are what the tracker refused."""
    n = len(track)
    width = STRIP_WIDTH / max(n, 1)
    columns = []
    for colour, frames in ((IN_PLAY, track.visible & ~track.interpolated), (FILLED, track.interpolated)):
        for start, stop in true_runs(frames):
            columns.append(f'<rect x="{start * width:.2f}" y="0" width="{(stop - start) * width:.2f}" '
                           f'height="{STRIP_HEIGHT}" fill="{colour}" opacity="0.35"/>')
    for frame, kind in zip(events.frame, events.kind):
        x = (frame + 0.5) * width
        columns.append(f'<line x1="{x:.2f}" x2="{x:.2f}" y1="0" y2="{STRIP_HEIGHT}" stroke="{EVENT_COLOURS[kind]}" '
                       f'stroke-width="2" vector-effect="non-scaling-stroke"><title>{escape(EVENT_NAMES[kind])} '
                       f'at frame {frame}</title></line>')
    xs = (np.arange(n) + 0.5) * width
    ys = STRIP_HEIGHT * (1 - np.clip(top_scores, 0, 1))
    line = " ".join(f"{x:.2f},{y:.2f}" for x, y in zip(xs, ys))
    level = STRIP_HEIGHT * (1 - threshold)
    return (f'<svg viewBox="0 0 {STRIP_WIDTH} {STRIP_HEIGHT}" preserveAspectRatio="none" role="img" '
            f'class="wide" aria-label="per-frame confidence and ball in play">{"".join(columns)}'
            f'<line x1="0" x2="{STRIP_WIDTH}" y1="{level:.2f}" y2="{level:.2f}" stroke="#888" '
            f'stroke-dasharray="6 4" vector-effect="non-scaling-stroke"/>'
            f'<polyline points="{line}" fill="none" stroke="#1f4e99" stroke-width="1.5" '
            f'vector-effect="non-scaling-stroke"/></svg>')


def write_video_report(path: Path, title: str, summary: list[tuple[str, object]], track: Track, events: Events,
                       top_scores: np.ndarray, threshold: float, overlay: Path | None, plot: Path | None,
                       files: list[tuple[str, Path]]) -> Path:
    """The page at `path`, showing the `overlay` and the `plot` where there are, the `events`, and
    linking every one of `files` (label, path): the run's outputs beside it."""
    video_html = (f'<video src="{escape(overlay.name)}" controls muted playsinline preload="auto"></video>'
                  if overlay else "<p>No overlay in this run: <code>--overlay</code> writes one.</p>")
    plot_html = f'<img class="wide" src="{escape(plot.name)}" alt="trajectory plot">' if plot else ""
    legend = "".join(f'<span><svg><rect width="100%" height="100%" fill="{colour}" opacity="0.35"/></svg>{name}</span>'
                     for colour, name in ((IN_PLAY, "ball in play"), (FILLED, "gap filled")))
    ticks = "".join(f'<span><svg><rect width="25%" height="100%" fill="{EVENT_COLOURS[kind]}"/></svg>'
                    f'{EVENT_NAMES[kind]}</span>' for kind in (BOUNCE, HIT))
    events_html = records_table(events.table().to_dict("records")) if len(events) else "<p>No hit or bounce found.</p>"
    body = f"""{key_value_table(summary)}
<h2>Overlay</h2>
{video_html}
<h2>Trajectory</h2>
{plot_html}
<h2>Frame by frame</h2>
{confidence_strip(track, events, top_scores, threshold)}
<p class="legend">{legend}{ticks}<span>line: the detector's strongest peak (dashed: threshold {threshold:g})</span></p>
<h2>Hits and bounces</h2>
{events_html}
<h2>Files</h2>
{links(files)}"""
    return write_page(path, title, body)
