"""The players: where they stand on each frame, and their pose as a few simple shapes.

A player is built in 3D court coordinates (legs, shorts, shirt, arms, head, racket) and projected
through the camera, so perspective scales the far player down for free. Right-handed players run
to where they will meet the ball, swing through it (the racket head is on the ball at the hit
frame), and recover toward the middle of their baseline. Between long points (the realworld
renderer's dead time) they may wander off to the back fence and come back; a doubles partner
stands at the net and shuffles after the ball. `free_hand` and `pocket` say where a ball they
carry would be.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import ONE, SHIFT, Camera, fixed_point
from tracknet_cli.datasets.synthetic.colours import BGR, jitter
from tracknet_cli.datasets.synthetic.court import HALF_DOUBLES, HALF_LENGTH
from tracknet_cli.datasets.synthetic.trajectory import NEAR, BallTrack, Hit

UP = np.array([0.0, 0.0, 1.0])
SWING_CORE = 0.15  # seconds either side of the hit when the racket sweeps through the ball
SWING_BLEND = 0.45  # seconds either side of the hit over which the swing leaves the ready pose
SWING_ANGLE = {"serve": 2.4, "forehand": 1.5, "backhand": 1.5}  # radians covered per SWING_CORE
STEP_LENGTH = 0.9  # metres per half walk cycle
WALK_SPEED = 1.4  # metres per second, between points


@dataclass(frozen=True)
class Look:
    shirt: BGR
    shorts: BGR
    skin: BGR
    shoes: BGR = (235, 235, 235)
    racket: BGR = (40, 40, 50)
    strings: BGR = (190, 195, 195)
    # what real players wear that a ball detector confuses with a ball: small bright patches on
    # the ankles, wrists and head, and the hands themselves (None / False: not drawn, the
    # broadcast renderer's players)
    socks: BGR | None = None
    wristband: BGR | None = None
    cap: BGR | None = None
    hands: bool = False


def dress(look: Look, rng: np.random.Generator) -> Look:
    """`look` with socks (mostly white), maybe a wristband and a cap, and hands."""
    white = (235, 235, 235)
    colours = [white, white, (40, 40, 40), (40, 40, 200), (200, 120, 40), (60, 200, 230)]

    def maybe(chance: float) -> BGR | None:
        return jitter(colours[rng.integers(len(colours))], rng, 10) if rng.random() < chance else None

    return replace(look, socks=jitter(white, rng, 10) if rng.random() < 0.8 else maybe(1.0),
                   wristband=maybe(0.6), cap=maybe(0.4), hands=True)


def make_look(rng: np.random.Generator) -> Look:
    shirts = [(240, 240, 240), (40, 40, 200), (120, 50, 20), (30, 30, 30), (200, 120, 40),
              (60, 160, 60), (150, 60, 150)]
    shorts = [(240, 240, 240), (30, 30, 30), (90, 50, 20)]
    skins = [(150, 185, 225), (110, 150, 195), (60, 90, 130), (80, 120, 170)]
    return Look(shirt=jitter(shirts[rng.integers(len(shirts))], rng, 10),
                shorts=shorts[rng.integers(len(shorts))],
                skin=jitter(skins[rng.integers(len(skins))], rng, 10))


@dataclass(frozen=True)
class Swing:
    frame: int
    contact: np.ndarray  # ball centre at the hit, world metres
    stroke: str  # "serve", "forehand" or "backhand"


@dataclass(frozen=True)
class Shape:
    """One flat piece of a player, already in image coordinates."""

    kind: str  # "polygon", "segment" or "disc"
    points: np.ndarray  # (k, 2): polygon corners, segment ends, or the disc centre
    size: float  # segment thickness or disc radius, pixels (unused for polygons)
    colour: BGR
    depth: float  # for back-to-front drawing


@dataclass
class PlayerTrack:
    side: int  # NEAR or FAR
    look: Look
    ground: np.ndarray  # (n, 2) where the feet are on each frame
    stride: np.ndarray  # (n,) walk-cycle phase, radians
    swings: list[Swing]

    @property
    def facing(self) -> float:
        """+1 when looking toward +Y (the near player), -1 for the far player."""
        return 1.0 if self.side == NEAR else -1.0

    def window(self, start: int, count: int) -> PlayerTrack:
        """Frames start..start+count-1, renumbered from 0. Every swing is kept (renumbered too):
        one that ends just after the window starts still moves the racket on its first frames."""
        end = start + count
        swings = [Swing(s.frame - start, s.contact, s.stroke) for s in self.swings]
        return PlayerTrack(self.side, self.look, self.ground[start:end], self.stride[start:end],
                           swings)


def plan_player(side: int, hits: list[Hit], frames: int, fps: float,
                rng: np.random.Generator, wander: bool = False) -> PlayerTrack:
    """Keyframe the player's position from their hits and fill the frames between smoothly.
    With `wander`, long breaks between keyframes send the player off somewhere and back."""
    facing = 1.0 if side == NEAR else -1.0
    home = np.array([rng.normal(0.0, 0.5), -facing * (HALF_LENGTH + 1.0)])
    keys: list[tuple[int, np.ndarray]] = [(0, home)]
    swings = []
    for hit in (h for h in hits if h.player == side):
        stroke = _choose_stroke(hit, keys[-1][1], facing, rng)
        stance = _stance(hit.position, stroke, facing)
        lead = 1.0 if hit.serve else 0.12  # a server stands still while tossing
        # (and through the routine before it, when the ball's simulation had one)
        ready = max(hit.frame - int(round(lead * fps)) if hit.ready is None else hit.ready, 1)
        keys = [key for key in keys if key[0] < ready] + [(ready, stance), (hit.frame, stance)]
        back = HALF_LENGTH + rng.uniform(0.3, 1.5)
        recovered = np.array([0.3 * hit.position[0], -facing * back])
        keys.append((hit.frame + int(round(0.6 * fps)), recovered))
        swings.append(Swing(hit.frame, hit.position, stroke))
    if swings and swings[0].stroke == "serve":  # start in place rather than walk in from home
        keys[0] = (0, keys[1][1])
    if wander:
        keys = _wander(keys, facing, fps, rng)
    return _walking(side, keys, frames, swings, rng)


def plan_partner(side: int, ball: BallTrack, frames: int, fps: float,
                 rng: np.random.Generator) -> PlayerTrack:
    """A doubles partner: stands between the service line and the net on one side of the court
    and shuffles toward the ball's side every half second; never hits."""
    facing = 1.0 if side == NEAR else -1.0
    base = np.array([rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0),
                     -facing * rng.uniform(3.0, 6.0)])
    keys: list[tuple[int, np.ndarray]] = [(0, base)]
    step = max(1, int(round(0.5 * fps)))
    for frame in range(step, frames, step):
        x = ball.position[frame, 0]
        lean = 0.0 if np.isnan(x) else np.clip(0.4 * (x - base[0]), -1.5, 1.5)
        keys.append((frame, base + [lean, 0.0]))
    return _walking(side, keys, frames, [], rng)


def _walking(side: int, keys: list[tuple[int, np.ndarray]], frames: int, swings: list[Swing],
             rng: np.random.Generator) -> PlayerTrack:
    """The track through `keys`: eased positions, and the walk cycle they take."""
    ground = _smooth_keyframes(keys, frames)
    steps = np.linalg.norm(np.diff(ground, axis=0, prepend=ground[:1]), axis=1)
    stride = np.cumsum(steps) * (np.pi / STEP_LENGTH)
    return PlayerTrack(side, make_look(rng), ground, stride, swings)


def _wander(keys: list[tuple[int, np.ndarray]], facing: float, fps: float,
            rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """Between two keyframes far enough apart, walk to a spot behind the baseline (the towel by
    the back fence, or just away from the court), stay, and be back in time."""
    wandered = [keys[0]]
    for (start, here), (end, there) in zip(keys, keys[1:]):
        spot = np.array([rng.uniform(-1.0, 1.0) * (HALF_DOUBLES + 2.0),
                         -facing * (HALF_LENGTH + rng.uniform(1.5, 4.5))])
        walk = int(round(max(np.linalg.norm(spot - here), np.linalg.norm(spot - there))
                         / WALK_SPEED * 1.5 * fps))  # smoothstep peaks at 1.5x its mean speed
        if end - start > 2 * walk + 2 * fps:
            wandered += [(start + walk, spot), (end - walk, spot)]
        wandered.append((end, there))
    return wandered


def _choose_stroke(hit: Hit, standing: np.ndarray, facing: float, rng: np.random.Generator) -> str:
    """Forehand when the ball comes to the player's right (x grows to the right of a player facing
    +Y, to the left of one facing -Y), backhand otherwise; a coin toss for balls near the body."""
    if hit.serve:
        return "serve"
    rightward = (hit.position[0] - standing[0]) * facing
    return "forehand" if rightward + rng.normal(0.0, 0.8) > 0 else "backhand"


def _stance(contact: np.ndarray, stroke: str, facing: float) -> np.ndarray:
    """Where the feet are at the hit: the ball is met in front and out to the side of the body."""
    sideways = {"serve": 0.25, "forehand": 0.75, "backhand": -0.75}[stroke]
    return np.array([contact[0] - facing * sideways, contact[1] - facing * 0.45])


def _smooth_keyframes(keys: list[tuple[int, np.ndarray]], frames: int) -> np.ndarray:
    """Positions on every frame, easing in and out between keyframes (smoothstep)."""
    key_frames = np.array([frame for frame, _ in keys], dtype=float)
    key_points = np.array([point for _, point in keys])
    if len(keys) == 1:
        return np.repeat(key_points, frames, axis=0)
    frame = np.arange(frames, dtype=float)
    index = np.clip(np.searchsorted(key_frames, frame, side="right") - 1, 0, len(keys) - 2)
    span = key_frames[index + 1] - key_frames[index]
    t = np.clip((frame - key_frames[index]) / span, 0.0, 1.0)[:, None]
    eased = t * t * (3 - 2 * t)
    return key_points[index] + (key_points[index + 1] - key_points[index]) * eased


def player_shapes(track: PlayerTrack, frame: int, camera: Camera, fps: float) -> list[Shape]:
    """The player's shapes on `frame`, sorted back to front."""
    forward, right = _axes(track)
    feet = np.array([*track.ground[frame], 0.0])
    before, after = max(frame - 1, 0), min(frame + 1, len(track.ground) - 1)
    step = np.linalg.norm(track.ground[after] - track.ground[before]) / max(after - before, 1)
    speed = step * fps
    stride = 0.3 * min(speed / 5.0, 1.0) * np.sin(track.stride[frame]) * forward  # legs apart

    hips = [feet + side * 0.13 * right + 0.95 * UP for side in (-1, 1)]
    soles = [feet + side * 0.16 * right + sign * stride + 0.05 * UP
             for side, sign in ((-1, 1), (1, -1))]
    knees = [(hip + sole) / 2 + 0.08 * forward for hip, sole in zip(hips, soles)]
    shoulders = [feet + side * 0.21 * right + 1.45 * UP for side in (-1, 1)]
    pivot = feet + 1.4 * UP
    head, hand = _racket(track, frame, fps, pivot, feet, forward, right)
    free_hand = _free_hand(shoulders[0], forward, right)

    look = track.look
    parts = [*_accessories(camera, look, soles, knees, shoulders[1], hand, free_hand, feet), 
        *(_segment(camera, hip, knee, 0.15, look.skin) for hip, knee in zip(hips, knees)),
        *(_segment(camera, knee, sole, 0.11, look.skin) for knee, sole in zip(knees, soles)),
        *(_disc(camera, sole, 0.08, look.shoes) for sole in soles),
        _polygon(camera, [hips[0], hips[1], (hips[1] + knees[1]) / 2, (hips[0] + knees[0]) / 2],
                 look.shorts),
        _polygon(camera, [shoulders[0], shoulders[1], hips[1] + 0.1 * UP, hips[0] + 0.1 * UP],
                 look.shirt),
        _segment(camera, shoulders[0], free_hand, 0.08, look.skin),
        _segment(camera, shoulders[1], hand, 0.08, look.skin),
        _disc(camera, feet + 1.66 * UP, 0.115, look.skin),
        *_racket_shapes(camera, hand, head, forward, look),
    ]
    return sorted(parts, key=lambda shape: -shape.depth)


def _accessories(camera: Camera, look: Look, soles: list[np.ndarray], knees: list[np.ndarray],
                 shoulder: np.ndarray, hand: np.ndarray, free_hand: np.ndarray, feet: np.ndarray) -> list[Shape]:
    """Socks above the shoes, a wristband on the racket arm, a cap, the hands: as `look` says."""
    shapes = []
    if look.socks is not None:
        shapes += [_segment(camera, sole + 0.04 * UP, sole + 0.3 * (knee - sole), 0.12, look.socks)
                   for sole, knee in zip(soles, knees)]
    if look.wristband is not None:
        shapes.append(_disc(camera, shoulder + 0.85 * (hand - shoulder), 0.05, look.wristband))
    if look.cap is not None:
        shapes.append(_disc(camera, feet + 1.74 * UP, 0.1, look.cap))
    if look.hands:
        shapes += [_disc(camera, point, 0.05, look.skin) for point in (hand, free_hand)]
    return shapes


def free_hand(track: PlayerTrack, frame: int) -> np.ndarray:
    """World position (3,) of the hand without the racket (it may hold a spare ball)."""
    forward, right = _axes(track)
    feet = np.array([*track.ground[frame], 0.0])
    return _free_hand(feet - 0.21 * right + 1.45 * UP, forward, right)


def pocket(track: PlayerTrack, frame: int) -> np.ndarray:
    """World position (3,) of a ball in the back pocket of the shorts, on the racket side."""
    forward, right = _axes(track)
    return np.array([*track.ground[frame], 0.0]) + 0.17 * right - 0.14 * forward + 0.8 * UP


def _axes(track: PlayerTrack) -> tuple[np.ndarray, np.ndarray]:
    """The player's forward and right directions (world)."""
    facing = track.facing
    return np.array([0.0, facing, 0.0]), np.array([facing, 0.0, 0.0])


def _free_hand(shoulder: np.ndarray, forward: np.ndarray, right: np.ndarray) -> np.ndarray:
    return shoulder - 0.05 * right + 0.2 * forward - 0.45 * UP


def _racket(track: PlayerTrack, frame: int, fps: float, pivot: np.ndarray, feet: np.ndarray,
            forward: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Racket head centre and hand. Near a hit the head sweeps on an arc around the chest that
    passes through the ball at the hit frame; away from hits it is held up in front."""
    ready = feet + 0.25 * right + 0.55 * forward + 1.25 * UP
    head = ready
    for swing in track.swings:
        seconds = (frame - swing.frame) / fps
        if abs(seconds) >= SWING_BLEND:
            continue
        if swing.stroke == "serve":  # overhead: around the shoulder axis, back then over the top
            axis, angle = right, -np.clip(seconds / SWING_CORE, -1, 1) * SWING_ANGLE["serve"]
        else:  # a flat sweep around the body, mirrored for the backhand
            sign = 1.0 if swing.stroke == "forehand" else -1.0
            axis = UP
            angle = sign * np.clip(seconds / SWING_CORE, -1, 1) * SWING_ANGLE[swing.stroke]
        swept = pivot + _rotate(swing.contact - pivot, axis, angle)
        weight = np.clip((SWING_BLEND - abs(seconds)) / (SWING_BLEND - SWING_CORE), 0.0, 1.0)
        head = ready + (swept - ready) * weight
        break
    return head, pivot + (head - pivot) * 0.45


def _rotate(vector: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of `vector` about the unit `axis` by `angle` radians."""
    cos, sin = np.cos(angle), np.sin(angle)
    return vector * cos + np.cross(axis, vector) * sin + axis * np.dot(axis, vector) * (1 - cos)


def _racket_shapes(camera: Camera, hand: np.ndarray, head: np.ndarray, forward: np.ndarray,
                   look: Look) -> list[Shape]:
    """Handle, frame and string bed; the face is turned toward the net."""
    along = head - hand
    along /= np.linalg.norm(along)
    across = np.cross(forward, along)
    norm = np.linalg.norm(across)
    across = across / norm if norm > 1e-3 else UP
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)[:, None]
    rim = head + 0.16 * np.cos(angles) * along + 0.125 * np.sin(angles) * across
    frame = _polygon(camera, rim, look.racket)
    # The string bed gets the frame's depth exactly, so the stable sort keeps it drawn on top.
    strings = replace(_polygon(camera, head + 0.8 * (rim - head), look.strings), depth=frame.depth)
    return [_segment(camera, hand, head - 0.16 * along, 0.03, look.racket), frame, strings]


def _segment(camera: Camera, start: np.ndarray, end: np.ndarray, width: float,
             colour: BGR) -> Shape:
    uv, depth = camera.project(np.stack([start, end]))
    return Shape("segment", uv, float(camera.pixels(width, depth.mean())), colour, depth.mean())


def _disc(camera: Camera, centre: np.ndarray, radius: float, colour: BGR) -> Shape:
    uv, depth = camera.project(centre[None])
    return Shape("disc", uv, float(camera.pixels(radius, depth[0])), colour, depth[0])


def _polygon(camera: Camera, corners, colour: BGR) -> Shape:
    uv, depth = camera.project(np.asarray(corners))
    return Shape("polygon", uv, 0.0, colour, depth.mean())


def draw_shapes(canvas: np.ndarray, shapes: list[Shape], origin: tuple[int, int] = (0, 0),
                colour: BGR | int | None = None) -> None:
    """Draw `shapes` (in order) on `canvas` whose top-left pixel is image point `origin`.

    `colour` replaces every shape's own colour: 255 on a one-channel canvas gives the coverage mask.
    """
    for shape in shapes:
        points = fixed_point(shape.points - origin)
        paint = shape.colour if colour is None else colour
        if shape.kind == "polygon":
            cv2.fillConvexPoly(canvas, points, paint, cv2.LINE_AA, SHIFT)
        elif shape.kind == "segment":
            cv2.line(canvas, tuple(points[0]), tuple(points[1]), paint,
                     max(1, int(round(shape.size))), cv2.LINE_AA, SHIFT)
        else:
            cv2.circle(canvas, tuple(points[0]), int(round(shape.size * ONE)), paint, -1,
                       cv2.LINE_AA, SHIFT)


def shadow_polygon(track: PlayerTrack, frame: int, camera: Camera) -> np.ndarray:
    """The player's shadow on the ground, an ellipse cast a little to the side (image points)."""
    centre = np.array([*track.ground[frame], 0.0]) + [0.25, 0.15, 0.0]
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = centre + np.stack([0.45 * np.cos(angles), 0.3 * np.sin(angles), 0 * angles], axis=1)
    return camera.project(ring)[0]
