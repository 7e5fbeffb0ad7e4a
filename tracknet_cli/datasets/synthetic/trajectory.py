"""Ball flight for one clip: points (toss, serve, rally, dead ball) in 3D court coordinates.

The ball flies under gravity between events. Every event sits exactly on a frame time: each shot
is aimed to land a whole number of frames after its hit, and each bounce keeps a whole number of
frames of flight (its restitution is nudged to fit, by at most half a frame of flight). So a hit
(status 1) or a bounce (status 2) is labelled on the frame where the ball really turns, and
nothing has to be rounded afterwards.

With a `Routine` (the realworld renderer) the server first bounces the ball a few times and may
toss it and catch it: the ball is in the picture but not in play, so those frames are marked
`in_play = False` and labelled 0. A toss that is hit is in play from the moment it leaves the hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracknet_cli.datasets.synthetic.court import (
    ARENA_HALF_LENGTH,
    ARENA_HALF_WIDTH,
    BALL_DIAMETER,
    HALF_DOUBLES,
    HALF_LENGTH,
    HALF_SINGLES,
    SERVICE_LINE,
    Surface,
    net_height,
)

GRAVITY = np.array([0.0, 0.0, -9.81])
BALL_RADIUS = BALL_DIAMETER / 2
NEAR, FAR = 0, 1  # players, by the half of the court they defend
FLYING, HIT, BOUNCE = 0, 1, 2  # status codes of the label format

NET_MARGIN = 0.15  # metres a shot clears the net tape by, at least
MIN_ARC_FRAMES = 3  # a bounce with less flight than this is a roll, not a bounce
CHANCE = {"fault": 0.08, "ace": 0.06, "out": 0.06, "winner": 0.10, "lob": 0.07}  # per shot


@dataclass(frozen=True)
class Hit:
    frame: int
    player: int
    position: np.ndarray  # ball centre at contact, world metres
    serve: bool
    ready: int | None = None  # a serve: the frame the server's routine began (they stand still)


@dataclass
class BallTrack:
    """The ball once per frame; NaN rows are frames without a ball in play."""

    position: np.ndarray  # (n, 3)
    velocity_in: np.ndarray  # (n, 3) velocity arriving at the frame time
    velocity_out: np.ndarray  # (n, 3) velocity leaving it: differs on hit and bounce frames
    status: np.ndarray  # (n,) FLYING, HIT or BOUNCE
    hits: list[Hit] = field(default_factory=list)
    in_play: np.ndarray | None = None  # (n,) bool: False where a drawn ball is not in play;
    # None: every drawn ball is in play

    @classmethod
    def empty(cls, frames: int) -> BallTrack:
        nan = np.full((frames, 3), np.nan)
        return cls(nan, nan.copy(), nan.copy(), np.zeros(frames, np.int64))

    def __len__(self) -> int:
        return len(self.status)

    def window(self, start: int, count: int) -> BallTrack:
        """Frames start..start+count-1, renumbered from 0 (hits outside the window are dropped)."""
        end = start + count
        hits = [Hit(h.frame - start, h.player, h.position, h.serve,
                    None if h.ready is None else h.ready - start)
                for h in self.hits if start <= h.frame < end]
        in_play = None if self.in_play is None else self.in_play[start:end]
        return BallTrack(self.position[start:end], self.velocity_in[start:end],
                         self.velocity_out[start:end], self.status[start:end], hits, in_play)

    def live(self, frame: int) -> bool:
        """Whether a ball drawn on `frame` is the ball in play."""
        return self.in_play is None or bool(self.in_play[frame])


@dataclass(frozen=True)
class Routine:
    """What a server does with the ball before the toss (the realworld renderer's dead time)."""

    bounces: tuple[int, int]  # how many times the ball is bounced, low and high
    caught_toss: float  # chance a toss is caught and tossed again


def simulate_ball(frames: int, fps: float, surface: Surface, rng: np.random.Generator,
                  pause: tuple[float, float] = (0.4, 1.2),
                  routine: Routine | None = None) -> BallTrack:
    """Points one after another, with a break of `pause` seconds (low, high) without a ball
    between them; with a `routine`, the server's routine before each toss too."""
    track = BallTrack.empty(frames)
    if routine is not None:
        track.in_play = np.ones(frames, bool)
    rally = _Rally(track, fps, surface, rng, routine)
    server = int(rng.integers(2))
    frame = 0
    while frame < frames:
        frame = rally.play_point(frame, server) + rally.frames(rng.uniform(*pause))
    return rally.track


class _Rally:
    """Writes points into a BallTrack, one free flight at a time."""

    def __init__(self, track: BallTrack, fps: float, surface: Surface, rng: np.random.Generator,
                 routine: Routine | None = None):
        self.track = track
        self.fps = fps
        self.surface = surface
        self.rng = rng
        self.routine = routine

    def frames(self, seconds: float) -> int:
        return int(round(seconds * self.fps))

    def fly(self, start: int, position: np.ndarray, velocity: np.ndarray, frames: int,
            acceleration: np.ndarray = GRAVITY, live: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Write frames start..start+frames of a free flight; return the state at the last one.
        `live=False`: the ball is drawn there but is not in play (only with a routine)."""
        t = (np.arange(frames + 1) / self.fps)[:, None]
        positions = position + velocity * t + 0.5 * acceleration * t**2
        velocities = velocity + acceleration * t
        track, end = self.track, min(start + frames + 1, len(self.track))
        if start < end:
            count = end - start
            track.position[start:end] = positions[:count]
            track.velocity_out[start:end] = velocities[:count]
            track.velocity_in[start + 1:end] = velocities[1:count]
            if np.isnan(track.velocity_in[start, 0]):  # the ball appears: nothing arrives before
                track.velocity_in[start] = velocities[0]
            if track.in_play is not None:
                track.in_play[start:end] = live
        return positions[-1], velocities[-1]

    def mark(self, frame: int, status: int) -> None:
        if frame < len(self.track):
            self.track.status[frame] = status

    def play_point(self, start: int, server: int) -> int:
        """(The routine,) toss, serve and rally until the ball is dead; return the frame after it
        is gone."""
        toward = 1.0 if server == NEAR else -1.0  # the direction the server hits in
        hand = self._toss_hand(toward)
        ready = start
        if self.routine is not None:
            start = self._routine(start, hand, toward)
        frame, position = self._toss(start, toward, hand)
        hitter, serve = server, True
        while True:
            target, good = self._target(hitter, serve, position)
            landing, velocity = self._shoot(frame, position, target, hitter, serve,
                                            ready if serve and self.routine else None)
            bounce, arc = self._bounce(velocity)
            self.mark(landing, BOUNCE)
            returned = good and arc >= MIN_ARC_FRAMES and self.rng.random() >= (
                CHANCE["ace"] if serve else CHANCE["winner"])
            reply = self._reply(landing, target, bounce, arc) if returned else None
            if reply is None or landing >= len(self.track):
                return self._dead_ball(landing, target, bounce, arc)
            frame, position = reply
            hitter, serve = 1 - hitter, False

    def _toss_hand(self, toward: float) -> np.ndarray:
        """Where the server's tossing hand is, beside the centre mark, behind the baseline."""
        lateral = self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.3, 1.2)
        return np.array([lateral + 0.25 * toward, -toward * (HALF_LENGTH + 0.1), 1.5])

    def _routine(self, start: int, hand: np.ndarray, toward: float) -> int:
        """The server bounces the ball in front of the feet, catching it at waist height, and may
        toss it and catch it; return the frame the real toss starts. Nothing here is in play."""
        rng, routine = self.rng, self.routine
        waist = hand - [0.0, 0.0, 0.5]
        floor = waist * [1.0, 1.0, 0.0] + [0.0, 0.3 * toward, BALL_RADIUS]
        frame = self._hold(start, waist, rng.uniform(0.3, 0.8))
        for _ in range(int(rng.integers(routine.bounces[0], routine.bounces[1] + 1))):
            for source, target, seconds in ((waist, floor, rng.uniform(0.2, 0.3)),
                                            (floor, waist, rng.uniform(0.3, 0.4))):
                frames = max(1, self.frames(seconds))
                self.fly(frame, source, _aim(source, target, frames / self.fps), frames,
                         live=False)
                frame += frames
            frame = self._hold(frame, waist, rng.uniform(0.2, 0.6))
        if rng.random() < routine.caught_toss:  # up and back into the hand, not hit
            frames = max(2, self.frames(rng.uniform(1.1, 1.3)))
            self.fly(frame, hand, _aim(hand, hand, frames / self.fps), frames, live=False)
            frame = self._hold(frame + frames, hand, rng.uniform(0.5, 1.2))
        return frame

    def _hold(self, start: int, position: np.ndarray, seconds: float) -> int:
        """The ball held still in the hand (not in play); return the frame after."""
        frames = max(1, self.frames(seconds))
        self.fly(start, position, np.zeros(3), frames, np.zeros(3), live=False)
        return start + frames

    def _toss(self, start: int, toward: float, hand: np.ndarray) -> tuple[int, np.ndarray]:
        """The server tosses the ball from beside the baseline and hits it on the way down."""
        rise = self.rng.uniform(1.6, 2.1)
        up = np.sqrt(2 * -GRAVITY[2] * rise)
        drop = self.rng.uniform(0.4, 0.8)  # metres it falls from the top before the racket meets it
        seconds = (up + np.sqrt(2 * -GRAVITY[2] * drop)) / -GRAVITY[2]
        frames = max(2, self.frames(seconds))
        position, _ = self.fly(start, hand, np.array([0.0, 0.3 * toward, up]), frames)
        return start + frames, position

    def _target(self, hitter: int, serve: bool, position: np.ndarray) -> tuple[np.ndarray, bool]:
        """Where the shot lands, and whether that is in (a fault or an out ends the point)."""
        rng, toward = self.rng, (1.0 if hitter == NEAR else -1.0)
        if serve:
            x = -np.sign(position[0]) * rng.uniform(0.3, HALF_SINGLES - 0.3)  # the diagonal box
            y = rng.uniform(2.5, SERVICE_LINE - 0.3)
            good = rng.random() >= CHANCE["fault"]
            if not good:
                y = SERVICE_LINE + rng.uniform(0.2, 1.5)  # long
        else:
            x = rng.uniform(-HALF_SINGLES + 0.3, HALF_SINGLES - 0.3)
            y = rng.uniform(0.65 * SERVICE_LINE, HALF_LENGTH - 0.4)
            good = rng.random() >= CHANCE["out"]
            if not good and rng.random() < 0.5:
                y = HALF_LENGTH + rng.uniform(0.2, 2.0)  # long
            elif not good:
                x = rng.choice([-1.0, 1.0]) * (HALF_SINGLES + rng.uniform(0.2, 1.2))  # wide
        return np.array([x, toward * y, BALL_RADIUS]), good

    def _shoot(self, frame: int, position: np.ndarray, target: np.ndarray, hitter: int,
               serve: bool, ready: int | None = None) -> tuple[int, np.ndarray]:
        """Hit the ball at `frame` to land on `target`; return the landing frame and velocity."""
        self.track.hits.append(Hit(frame, hitter, position, serve, ready))
        self.mark(frame, HIT)
        if not serve and self.rng.random() < CHANCE["lob"]:
            frames = self.frames(self.rng.uniform(1.5, 2.1))
        else:
            speed = self.rng.uniform(38.0, 55.0) if serve else self.rng.uniform(17.0, 32.0)
            frames = self.frames(np.linalg.norm(target[:2] - position[:2]) / speed)
        frames = max(frames, 2)
        while not _clears_net(position, _aim(position, target, frames / self.fps)):
            frames += 1
        velocity = _aim(position, target, frames / self.fps)
        _, arrival = self.fly(frame, position, velocity, frames)
        return frame + frames, arrival

    def _bounce(self, velocity: np.ndarray) -> tuple[np.ndarray, int]:
        """Velocity after a bounce and the whole frames until it comes down again (0: it rolls)."""
        surface = self.surface
        after = np.array([velocity[0] * surface.friction, velocity[1] * surface.friction,
                          -velocity[2] * surface.restitution])
        arc = self.frames(2 * after[2] / -GRAVITY[2])
        if arc < MIN_ARC_FRAMES:
            after[2] = 0.0
            return after, 0
        after[2] = arc / self.fps * -GRAVITY[2] / 2  # lands again exactly `arc` frames later
        return after, arc

    def _reply(self, landing: int, position: np.ndarray, velocity: np.ndarray,
               arc: int) -> tuple[int, np.ndarray] | None:
        """The receiver meets the bounced ball somewhere on its arc, if it is within reach."""
        first = int(np.clip(round(self.rng.uniform(0.35, 0.9) * arc), 2, arc - 1))
        for frames in range(first, 1, -1):
            t = frames / self.fps
            contact = position + velocity * t + 0.5 * GRAVITY * t**2
            if _reachable(contact):
                self.fly(landing, position, velocity, frames)
                return landing + frames, contact
        return None

    def _dead_ball(self, landing: int, position: np.ndarray, velocity: np.ndarray,
                   arc: int) -> int:
        """Nobody plays it: it bounces on and rolls away, and is gone when it leaves the arena
        or after a second or so (picked up, or the broadcast cuts away)."""
        end = landing + self.frames(self.rng.uniform(0.7, 1.5))
        frame = landing
        while arc and frame + arc < end:
            position, arriving = self.fly(frame, position, velocity, arc)
            frame += arc
            self.mark(frame, BOUNCE)
            velocity, arc = self._bounce(arriving)
        gravity = GRAVITY if arc else np.zeros(3)  # a rolling ball stays on the ground
        self.fly(frame, position, velocity, max(end - frame, 0), gravity)
        return self._remove_outside_arena(landing, end)

    def _remove_outside_arena(self, start: int, end: int) -> int:
        """Clear the frames from where the ball leaves the arena; return the last frame + 1."""
        stop = min(end + 1, len(self.track))
        for frame in range(start, stop):
            x, y, _ = self.track.position[frame]
            if abs(x) > ARENA_HALF_WIDTH or abs(y) > ARENA_HALF_LENGTH:
                stop = frame
                break
        gone = slice(stop, min(end + 1, len(self.track)))
        for array in (self.track.position, self.track.velocity_in, self.track.velocity_out):
            array[gone] = np.nan
        self.track.status[gone] = FLYING
        return stop


def _aim(position: np.ndarray, target: np.ndarray, seconds: float) -> np.ndarray:
    """The launch velocity that carries the ball from `position` to `target` in `seconds`."""
    return (target - position - 0.5 * GRAVITY * seconds**2) / seconds


def _clears_net(position: np.ndarray, velocity: np.ndarray) -> bool:
    """Whether a flight from `position` passes over the net tape with NET_MARGIN to spare."""
    if velocity[1] == 0 or np.sign(-position[1]) != np.sign(velocity[1]):
        return True  # it never reaches the net
    t = -position[1] / velocity[1]
    crossing = position + velocity * t + 0.5 * GRAVITY * t**2
    return crossing[2] - BALL_RADIUS >= net_height(crossing[0]) + NET_MARGIN


def _reachable(contact: np.ndarray) -> bool:
    """Whether a player can meet the ball there: not too far out, at a height a racket reaches."""
    x, y, z = contact
    return (abs(x) <= HALF_DOUBLES + 2.0 and 4.0 <= abs(y) <= HALF_LENGTH + 3.5
            and 0.3 <= z <= 2.3)
