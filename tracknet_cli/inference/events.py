"""Bounces and hits from the ball's track: when and where the ball turned.

    detector = EventDetector.load()                   # the shipped net, tracknet_cli/assets/events.pt
    events = detector(track, fps=30.0, frame_size=(1920, 1080))
    events = flight_breaks(track, fps=30.0)           # the rule, for comparison (`method="flights"`)
    events.table()                                    # frame, time, event, x, y, confidence

Two ways to find them, compared in benchmarks/events.py:
    learned  `models.event_net.EventNet` reads per-frame features of the track (where the ball is,
             its velocity and its change, what is seen, filled or cut) and scores each frame as
             nothing, hit or bounce; events are the peaks above the threshold chosen on held-out
             tracks, at least MIN_GAP_SECONDS apart (SAME_KIND_SECONDS for two of one kind). It
             is trained on synthetic tennis tracks with exact events, seen through a simulated
             detector and the real tracker (`training.event_training`), so it reads the tracks
             predict-video makes.
    flights  every break between two flights of the tracker (`Track.flight`) is an event: a hit
             where the ball turns back (its velocities either side point more than a right angle
             apart), else a bounce. No training, and blind to what the tracker did not cut.
Codes are the TrackNet label's status: 1 hit, 2 bounce.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tracknet_cli.errors import DataError, TracknetError, describe
from tracknet_cli.inference.trajectory import Track, footage_times, frame_times
from tracknet_cli.models.event_net import EventNet, EventNetConfig

HIT, BOUNCE = 1, 2
EVENT_NAMES = {HIT: "hit", BOUNCE: "bounce"}
METHODS = ("learned", "flights", "none")
BUILTIN_EVENTS = Path(__file__).resolve().parent.parent / "assets" / "events.pt"
FEATURES = 10  # the rows of `track_features`
MIN_GAP_SECONDS = 0.1  # two events closer than this are one (no ball turns twice in 3 frames)
# two bounces or two hits closer than this are one: a ball bounces up for longer before it comes
# down again, and a racket does not hit twice; a bounce and a hit can be closer (a half volley)
SAME_KIND_SECONDS = 0.25
NEAR_FRAMES, NEAR_SECONDS = 2, 0.2  # an event needs a position within the longer of these
EVENT_COLUMNS = ["Frame", "Time", "Event", "X", "Y", "Confidence"]


@dataclass(frozen=True)
class Events:
    """Hits and bounces of one video, in frame order."""

    frame: np.ndarray  # [E] int
    kind: np.ndarray  # [E] int: HIT or BOUNCE
    xy: np.ndarray  # [E, 2] video pixels: the ball at the event
    confidence: np.ndarray  # [E] in [0, 1]
    fps: float

    @classmethod
    def none(cls, fps: float) -> Events:
        return cls(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 2)), np.zeros(0), fps)

    def __len__(self) -> int:
        return len(self.frame)

    def count(self, kind: int) -> int:
        return int(np.sum(self.kind == kind))

    def per_frame(self, frames: int) -> np.ndarray:
        """[frames] object: "hit", "bounce" or "" per frame (the track CSV's Event column)."""
        column = np.full(frames, "", dtype=object)
        column[self.frame] = [EVENT_NAMES[k] for k in self.kind]
        return column

    def table(self) -> pd.DataFrame:
        """`Frame, Time, Event, X, Y, Confidence`: a row per event, time in seconds."""
        return pd.DataFrame({"Frame": self.frame, "Time": self.frame / self.fps,
                             "Event": [EVENT_NAMES[k] for k in self.kind], "X": self.xy[:, 0],
                             "Y": self.xy[:, 1], "Confidence": self.confidence}, columns=EVENT_COLUMNS)


def track_table(track: Track, events: Events) -> pd.DataFrame:
    """The track's table (`Track.table`) with an `Event` column: hit, bounce or empty."""
    return track.table().assign(Event=events.per_frame(len(track)))


def track_features(track: Track, fps: float, frame_size: tuple[int, int]) -> np.ndarray:
    """[FEATURES, N] float32, per frame of the track, in units that hold from 720p to 4K and from 25
    to 60 fps (lengths in frame lengths, the longer side; velocities per second):
        seen, filled    a position, and whether the tracker filled it in
        x, y            where the ball is, from the frame's centre
        vx, vy          velocity: the central difference (one-sided at a run's ends)
        dvx, dvy        its change over the frame: a bounce or a hit is a step in velocity
        cut             the position starts another flight than the last one seen (the tracker's break)
        rate            30 / fps, for a net that counts frames
    Every entry is 0 where there is no position to compute it from."""
    extent = float(max(frame_size))
    seen = track.visible
    xy = np.where(seen[:, None], track.xy / extent, 0.0)  # [N, 2]
    xy[seen] -= (np.array(frame_size) / 2 / extent)
    step = np.diff(track.xy, axis=0) / extent * fps  # [N-1, 2] per second, NaN next to a gap
    before, after = _pad(step, 1, 0), _pad(step, 0, 1)  # [N, 2] the steps into and out of each frame
    velocity = np.where(np.isnan(before), after, np.where(np.isnan(after), before, (before + after) / 2))
    change = after - before
    last_flight = _last_seen(np.where(seen, track.flight, -1))
    cut = seen & (last_flight >= 0) & (last_flight != track.flight)
    rows = [seen, track.interpolated & seen, xy[:, 0], xy[:, 1], velocity[:, 0], velocity[:, 1],
            change[:, 0], change[:, 1], cut, np.full(len(track), 30.0 / fps)]
    return np.nan_to_num(np.stack(rows).astype(np.float32))


def _pad(values: np.ndarray, front: int, back: int) -> np.ndarray:
    return np.pad(values, ((front, back), (0, 0)), constant_values=np.nan)


def _last_seen(flight: np.ndarray) -> np.ndarray:
    """[N] the flight of the last frame before each one that has a position (-1: none)."""
    index = np.where(flight >= 0, np.arange(len(flight)), -1)
    last = np.maximum.accumulate(np.concatenate([[-1], index[:-1]])) if len(flight) else index
    return np.where(last >= 0, flight[np.maximum(last, 0)], -1)


def peaks(probability: np.ndarray, threshold: float, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events from per-frame class probabilities [3, N] (nothing, hit, bounce): frames whose
    hit + bounce probability is above `threshold` and the largest within MIN_GAP_SECONDS either
    way; the kind is the likelier of the two there; of two events of one kind within
    SAME_KIND_SECONDS, the likelier. Returns frames [E], kinds [E], confidences [E]."""
    event = probability[HIT] + probability[BOUNCE]  # [N]
    reach = max(1, round(MIN_GAP_SECONDS * fps))
    padded = np.pad(event, reach, constant_values=-1.0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)  # [N, 2 reach + 1]
    # the first of equal maxima wins, so a plateau gives one event
    is_peak = (event >= windows.max(axis=1)) & (windows[:, :reach].max(axis=1, initial=-1.0) < event)
    frames = np.flatnonzero(is_peak & (event > threshold))
    kinds = np.where(probability[HIT, frames] >= probability[BOUNCE, frames], HIT, BOUNCE)
    keep = np.ones(len(frames), bool)
    for i in np.argsort(-event[frames], kind="stable"):  # the likeliest first
        if keep[i]:
            twins = (kinds == kinds[i]) & (np.abs(frames - frames[i]) < SAME_KIND_SECONDS * fps)
            keep &= ~twins | (np.arange(len(frames)) == i)
    return frames[keep], kinds[keep], event[frames[keep]]


def event_positions(track: Track, frames: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """The ball at each event frame [E], and which events have one [E] bool (an event with no
    position within NEAR_SECONDS is dropped): the track's position there, else the nearest side's
    flight carried on to the event at its last velocity (a racket often hides the ball at a hit)."""
    known = np.flatnonzero(track.visible)
    xy = np.full((len(frames), 2), np.nan)
    found = np.zeros(len(frames), bool)
    reach = max(NEAR_FRAMES, round(NEAR_SECONDS * fps))
    for e, frame in enumerate(frames):
        before, after = known[known <= frame][-2:], known[known > frame][:2]
        side = before if len(before) and (not len(after) or frame - before[-1] <= after[0] - frame) else after
        if not len(side) or min(abs(side - frame)) > reach:
            continue
        near = side[-1] if side is before else side[0]
        velocity = (track.xy[side[-1]] - track.xy[side[0]]) / (side[-1] - side[0]) if len(side) == 2 else 0.0
        xy[e], found[e] = track.xy[near] + velocity * (frame - near), True
    return xy, found


class EventDetector:
    """The learned detector: an EventNet with the threshold chosen on its held-out tracks."""

    def __init__(self, net: EventNet, threshold: float, recipe: dict | None = None):
        self.net, self.threshold, self.recipe = net.eval(), threshold, recipe or {}

    @classmethod
    def load(cls, path: str | Path = BUILTIN_EVENTS) -> EventDetector:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no event model there (train one: python -m "
                            "tracknet_cli.training.event_training)")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            net = EventNet(EventNetConfig.from_dict(checkpoint["config"]))
            net.load_state_dict(checkpoint["model"])
        except Exception as exc:  # torch.load's many failures (zip, pickle, EOF) and missing keys say one thing
            raise DataError(f"{path} is not an event model checkpoint: {describe(exc)}") from None
        return cls(net, float(checkpoint["threshold"]), checkpoint.get("recipe"))

    @torch.no_grad()
    def probabilities(self, track: Track, fps: float, frame_size: tuple[int, int]) -> np.ndarray:
        """[3, N] per frame: nothing, hit, bounce."""
        features = torch.from_numpy(track_features(track, fps, frame_size))[None]  # [1, F, N]
        return torch.softmax(self.net(features), dim=1)[0].numpy()

    def __call__(self, track: Track, fps: float, frame_size: tuple[int, int],
                 repeats: np.ndarray | None = None) -> Events:
        """The events of `track`, read in the footage's own time: the frames that repeat the
        picture before them (`repeats` [N] bool, None: found from the track) are left out, as the
        net knows footage where every frame is new (a 25 fps broadcast shown at 30 would look like
        a ball that stops every sixth frame)."""
        if len(track) == 0:
            return Events.none(fps)
        new = new_pictures(track, repeats)
        footage = Track(track.xy[new], track.confidence[new], track.interpolated[new], track.flight[new])
        rate = fps * len(new) / len(track)
        return self.decode(self.probabilities(footage, rate, frame_size), track, fps, new)

    def decode(self, probability: np.ndarray, track: Track, fps: float, new: np.ndarray | None = None) -> Events:
        """The events of per-frame `probabilities` [3, M] of `track`'s frames `new` [M] (None:
        all of them): peaks above the threshold with a position near them."""
        rate = fps if new is None else fps * len(new) / len(track)
        frames, kinds, confidence = peaks(probability, self.threshold, rate)
        frames = frames if new is None else new[frames]
        xy, found = event_positions(track, frames, fps)
        return Events(frames[found], kinds[found], xy[found], confidence[found], fps)


def new_pictures(track: Track, repeats: np.ndarray | None = None) -> np.ndarray:
    """[M] the frames that show a new picture: all but the `repeats` [N] bool (None: the repeats
    `trajectory.frame_times` finds in the track's own motion)."""
    times = frame_times(track.xy) if repeats is None else footage_times(repeats, len(track))
    return np.flatnonzero(np.diff(np.concatenate([[-1.0], times])) > 0)


def flight_breaks(track: Track, fps: float) -> Events:
    """An event at every break between two flights of the track: at the last frame of the flight
    that ends, a hit where the ball turns back (its velocities either side of the break point
    more than a right angle apart), else a bounce. Confidence 1: the rule has no degrees."""
    seen = np.flatnonzero(track.visible)
    flight = track.flight[seen]
    ends = np.flatnonzero(np.diff(flight) != 0)  # [E] positions in `seen` where a flight ends
    ends = ends[(flight[ends] >= 0) & (flight[ends + 1] >= 0)]
    frames, kinds = [], []
    for end in ends:
        before = _flight_velocity(track, seen[max(0, end - 3):end + 1])
        after = _flight_velocity(track, seen[end + 1:end + 5])
        frames.append(seen[end])
        kinds.append(HIT if before @ after < 0 else BOUNCE)
    frames = np.array(frames, dtype=int)
    return Events(frames, np.array(kinds, dtype=int), track.xy[frames].reshape(-1, 2), np.ones(len(frames)), fps)


def _flight_velocity(track: Track, frames: np.ndarray) -> np.ndarray:
    """[2] the mean velocity (px per frame) over `frames` of one flight; 0 with fewer than 2."""
    if len(frames) < 2:
        return np.zeros(2)
    return (track.xy[frames[-1]] - track.xy[frames[0]]) / (frames[-1] - frames[0])


def check_method(method: str) -> None:
    if method not in METHODS:
        raise TracknetError(f"--events {method!r} is not one of {', '.join(METHODS)}")


def detect_events(track: Track, fps: float, frame_size: tuple[int, int], method: str = "learned",
                  detector: EventDetector | None = None, bounces: bool = True,
                  repeats: np.ndarray | None = None) -> Events:
    """The events of `track` by `method` (METHODS); `detector`: the learned one to use (None: the
    shipped one, loaded now); `repeats` as `EventDetector` takes them. Without `bounces`
    (badminton: the shuttle does not bounce in play) every event is a hit."""
    check_method(method)
    if method == "none":
        return Events.none(fps)
    events = flight_breaks(track, fps) if method == "flights" else (detector or EventDetector.load())(
        track, fps, frame_size, repeats)
    return events if bounces else replace(events, kind=np.full(len(events), HIT))
