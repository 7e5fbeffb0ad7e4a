"""One frame of a clip: the static background, shadows, players and balls, then sensor noise.

Only small patches change per frame (players, shadows, the balls), so a frame costs one copy of
the background, a few dozen cv2 shape fills, a ball patch of some hundred pixels and two
saturating adds of a noise tile. No full-frame float math happens per frame. Players and balls
are drawn back to front by depth; the net belongs to the background, so the ball is always drawn
over it (shots clear the tape, so only a ball low behind the net after a bounce is affected).

A realworld scene adds balls that are not in play (props.StillBall: drawn like the ball, never
labelled), its lighting's shadows, and a finish (finish.py: fence, camera motion, grading, source
resolution, compression) whose warp moves the label exactly as it moves the picture.

Visibility codes written to the labels:
    0  no ball in play (none, or a ball that is not in play: bounced or caught by the server),
       or its centre is off the frame (it may still show at the frame's edge)
    3  occluded: players in front of it cover at least OCCLUDED of its footprint (position kept)
    2  hard: its motion-blur streak (the distance its centre travels while the shutter is open)
       is at least BLUR_HARD ball diameters, so no pixel carries more than half the ball's colour
    1  easy: everything else
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import SHIFT, Camera, fixed_point
from tracknet_cli.datasets.synthetic.colours import BGR
from tracknet_cli.datasets.synthetic.court import BALL_DIAMETER
from tracknet_cli.datasets.synthetic.drawing import NEAR, in_front
from tracknet_cli.datasets.synthetic.finish import Finish
from tracknet_cli.datasets.synthetic.lighting import Lighting, player_shadows
from tracknet_cli.datasets.synthetic.players import (
    UP,
    PlayerTrack,
    Shape,
    draw_shapes,
    player_shapes,
    shadow_polygon,
)
from tracknet_cli.datasets.synthetic.props import StillBall
from tracknet_cli.datasets.synthetic.trajectory import FLYING, BallTrack

BLUR_HARD = 2.0  # streak length, in ball diameters, from which the ball is "hard" (visibility 2)
OCCLUDED = 0.5  # share of the ball's footprint covered by a player for "occluded" (visibility 3)
BALL_PIXELS = (3.0, 10.0)  # the ball's image diameter is kept in this range
# On air a ball looks larger than its geometric image: lens blur, sensor bloom and the encoder
# spread it. This factor puts a ball at the near baseline of a 1280x720 frame at about 6 px.
BALL_BLOOM = 1.35
SHADOW_DARKNESS = 0.4
NOISE_MARGIN = 16  # the noise tile is this much larger than a frame; frames use shifted windows
# A pixel's share of the ball is averaged over these radius offsets: a disc with a 1 px soft edge.
_EDGE_OFFSETS = (np.arange(8) + 0.5) / 8 - 0.5

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, ends exclusive
Piece = tuple[np.ndarray, np.ndarray, float]  # a straight part of the streak: start, end, weight


@dataclass(frozen=True)
class FrameLabel:
    visibility: int
    x: float  # image coordinates of the ball centre, NaN when visibility is 0
    y: float
    status: int


@dataclass(frozen=True)
class SensorNoise:
    """Gaussian sensor noise as two precomputed uint8 tiles (what to add, what to subtract).

    Each frame uses a window of the tiles at its own offset, so consecutive frames get different
    noise for the price of two saturating uint8 operations.
    """

    brighten: np.ndarray
    darken: np.ndarray
    offsets: np.ndarray  # (frames, 2) row and column offset per frame

    @classmethod
    def make(cls, width: int, height: int, frames: int, rng: np.random.Generator,
             sigma: float | None = None) -> SensorNoise:
        """Noise of standard deviation `sigma` grey levels (None: drawn from a camera-like range)."""
        sigma = rng.uniform(1.5, 4.0) if sigma is None else sigma
        shape = (height + NOISE_MARGIN, width + NOISE_MARGIN, 3)
        noise = np.rint(rng.normal(0.0, sigma, shape).astype(np.float32))
        brighten = np.clip(noise, 0, 255).astype(np.uint8)
        darken = np.clip(-noise, 0, 255).astype(np.uint8)
        return cls(brighten, darken, rng.integers(0, NOISE_MARGIN + 1, (frames, 2)))

    def apply(self, image: np.ndarray, frame: int) -> None:
        row, column = self.offsets[frame]
        window = np.s_[row:row + image.shape[0], column:column + image.shape[1]]
        cv2.add(image, self.brighten[window], dst=image)
        cv2.subtract(image, self.darken[window], dst=image)


@dataclass(frozen=True)
class ClipScene:
    """Everything needed to render any frame of one clip."""

    camera: Camera
    background: np.ndarray
    ball: BallTrack
    players: tuple[PlayerTrack, ...]
    fps: float
    ball_colour: BGR
    exposure: float  # shutter time as a share of the frame interval: the length of the blur
    noise: SensorNoise
    still_balls: tuple[StillBall, ...] = ()  # balls not in play: drawn, never labelled
    lighting: Lighting | None = None  # None: one soft shadow beside each player (broadcast)
    finish: Finish | None = None  # None: the frame is done after the sensor noise
    ball_pixels: tuple[float, float] = BALL_PIXELS  # the ball's image diameter is kept in this

    @property
    def frames(self) -> int:
        return len(self.ball)


@dataclass(frozen=True)
class BallImage:
    """The ball as the camera sees it on one frame."""

    centre: np.ndarray  # image point at the frame time: the label
    pieces: tuple[Piece, ...]  # weights are shares of the exposure time
    radius: float  # pixels
    depth: float

    @property
    def streak(self) -> float:
        return float(sum(np.linalg.norm(end - start) for start, end, _ in self.pieces))


def render_frame(scene: ClipScene, frame: int, noise: bool = True,
                 draw_ball: bool = True) -> tuple[np.ndarray, FrameLabel]:
    """The frame's image (BGR uint8) and its label. `noise=False` and `draw_ball=False` exist to
    check the ball's placement against its label: without noise there is no sensor noise and no
    compression, but every geometric step (camera motion, source resolution) still happens."""
    image = scene.background.copy()
    camera = scene.camera
    present = [player for player in scene.players if _in_view(player, frame, camera)]
    for player in present:
        for polygon, darkness in _shadows(scene, player, frame):
            _darken(image, polygon, darkness)
    ball = ball_image(scene, frame)
    ball_depth = -np.inf if ball is None else ball.depth
    players = [player_shapes(player, frame, camera, scene.fps) for player in present]
    ahead = [shapes for shapes in players if _depth(shapes) < ball_depth]
    box, alpha = _ball_alpha(ball, camera) if ball is not None else (None, None)
    # Back to front; at equal depth a player goes before the ball, the ball before a spare one.
    layers = [(_depth(shapes), 0, partial(draw_shapes, image, shapes)) for shapes in players]
    if draw_ball and box is not None:
        layers.append((ball_depth, 1, partial(_composite, image, box, alpha, scene.ball_colour)))
    for spare in scene.still_balls:
        layers += _still_ball_layer(image, scene, spare, frame)
    for _, _, draw in sorted(layers, key=lambda layer: (-layer[0], layer[1])):
        draw()
    label = _label(scene, frame, ball, box, alpha, ahead)
    if scene.finish is None:
        if noise:
            scene.noise.apply(image, frame)
        return image, label
    image = scene.finish.optics(image, frame)
    if noise:
        scene.noise.apply(image, frame)
    return scene.finish.encode(image, compress=noise), _finished(label, scene, frame)


def ball_label(scene: ClipScene, frame: int) -> FrameLabel:
    """The frame's label as `render_frame` writes it, without drawing anything: what a study of the
    ball's path alone (the event detector's training tracks) needs. Players are not drawn, so no
    ball is occluded (visibility 3 never occurs)."""
    label = _label(scene, frame, ball_image(scene, frame), None, None, [])
    return label if scene.finish is None else _finished(label, scene, frame)


def ball_image(scene: ClipScene, frame: int) -> BallImage | None:
    """Where the ball is on the frame and the streak it draws while the shutter is open.

    The streak is made symmetric about the ball's position at the frame time (its centroid is the
    label); on a hit or bounce frame the ball turns mid-exposure, so the streak is two pieces.
    """
    position = scene.ball.position[frame]
    if np.isnan(position[0]):
        return None
    turns = scene.ball.status[frame] != FLYING
    return _seen_ball(scene, position, scene.ball.velocity_in[frame],
                      scene.ball.velocity_out[frame], turns)


def _seen_ball(scene: ClipScene, position: np.ndarray, velocity_in: np.ndarray,
               velocity_out: np.ndarray, turns: bool) -> BallImage | None:
    """A ball at world `position` moving as given, through the scene's camera and shutter; None
    when it is (partly) behind the camera."""
    half_open = scene.exposure / (2 * scene.fps)
    points = np.stack([position, position - velocity_in * half_open,
                       position + velocity_out * half_open])
    (centre, before, after), depth = scene.camera.project(points)
    if depth.min() <= NEAR:
        return None
    if not turns:
        half = (after - before) / 2
        pieces = ((centre - half, centre + half, 1.0),)
    else:
        pieces = ((before, centre, 0.5), (centre, after, 0.5))
    diameter = np.clip(BALL_BLOOM * scene.camera.pixels(BALL_DIAMETER, depth[0]),
                       *scene.ball_pixels)
    return BallImage(centre, pieces, float(diameter) / 2, float(depth[0]))


def _still_ball_layer(image: np.ndarray, scene: ClipScene, spare: StillBall,
                      frame: int) -> list[tuple[float, int, partial]]:
    """A spare ball's drawing layer on `frame` (none when it is not in the picture); it moves
    with its carrier, so it blurs like the ball at the velocity its path gives."""
    path = spare.position
    if np.isnan(path[frame, 0]):
        return []
    before, after = max(frame - 1, 0), min(frame + 1, len(path) - 1)
    velocity = (path[after] - path[before]) * (scene.fps / max(after - before, 1))
    seen = _seen_ball(scene, path[frame], np.nan_to_num(velocity), np.nan_to_num(velocity),
                      False)
    box, alpha = _ball_alpha(seen, scene.camera) if seen is not None else (None, None)
    if box is None:
        return []
    return [(seen.depth, 2, partial(_composite, image, box, alpha, spare.colour))]


def _in_view(player: PlayerTrack, frame: int, camera: Camera) -> bool:
    """Whether the player stands wholly in front of the camera (a camera at the net post has the
    other half of the court behind it)."""
    feet = np.array([*player.ground[frame], 0.0])
    return in_front(camera, np.stack([feet, feet + 2.0 * UP]), margin=0.5)


def _shadows(scene: ClipScene, player: PlayerTrack, frame: int) -> list[tuple[np.ndarray, float]]:
    if scene.lighting is None:
        return [(shadow_polygon(player, frame, scene.camera), SHADOW_DARKNESS)]
    return player_shadows(player, frame, scene.camera, scene.lighting)


def _finished(label: FrameLabel, scene: ClipScene, frame: int) -> FrameLabel:
    """The label moved as the finish's warp moved the picture; 0 once it leaves the frame."""
    if label.visibility == 0:
        return label
    x, y = point = scene.finish.place(frame, np.array([label.x, label.y]))
    if not scene.finish.contains(point):
        return FrameLabel(0, float("nan"), float("nan"), label.status)
    return FrameLabel(label.visibility, float(x), float(y), label.status)


def streak_alpha(xs: np.ndarray, ys: np.ndarray, pieces: tuple[Piece, ...],
                 radius: float) -> np.ndarray:
    """The share of exposure time each pixel centre (xs, ys) is covered by the moving ball.

    For a hard disc of radius r sliding along a straight piece of length L, a pixel at distance d
    from the line is covered while the centre is within sqrt(r^2 - d^2) of the pixel's foot on the
    line: the covered share is that interval's overlap with [0, L], divided by L. Averaging over
    radii r +- 0.5 gives the disc a one-pixel anti-aliased edge. Exact, symmetric and cheap.
    """
    alpha = np.zeros(np.broadcast(xs, ys).shape, np.float32)
    for start, end, weight in pieces:
        dx, dy = xs - start[0], ys - start[1]
        length = float(np.hypot(*(end - start)))
        if length < 1e-6:
            distance_sq = dx * dx + dy * dy
            covered = [distance_sq < (radius + offset) ** 2 for offset in _EDGE_OFFSETS]
            alpha += weight * np.mean(covered, axis=0)
            continue
        ux, uy = (end - start) / length
        along = dx * ux + dy * uy
        across_sq = (dx * uy - dy * ux) ** 2
        share = np.zeros_like(alpha)
        for offset in _EDGE_OFFSETS:
            half_chord = np.sqrt(np.maximum((radius + offset) ** 2 - across_sq, 0.0))
            overlap = np.minimum(along + half_chord, length) - np.maximum(along - half_chord, 0.0)
            share += np.maximum(overlap, 0.0) / length
        alpha += weight * share / len(_EDGE_OFFSETS)
    return alpha


def _ball_alpha(ball: BallImage, camera: Camera) -> tuple[Box | None, np.ndarray | None]:
    """The ball's coverage on the pixel box (x0, y0, x1, y1) around its streak, cut to the frame."""
    ends = np.concatenate([[start, end] for start, end, _ in ball.pieces])
    reach = ball.radius + 1.5
    x0, y0 = np.maximum(np.floor(ends.min(axis=0) - reach), 0).astype(int)
    x1 = min(int(np.ceil(ends[:, 0].max() + reach)) + 1, camera.width)
    y1 = min(int(np.ceil(ends[:, 1].max() + reach)) + 1, camera.height)
    if x1 <= x0 or y1 <= y0:
        return None, None
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    return (int(x0), int(y0), x1, y1), streak_alpha(xs, ys, ball.pieces, ball.radius)


def _composite(image: np.ndarray, box: Box, alpha: np.ndarray, colour: BGR) -> None:
    x0, y0, x1, y1 = box
    region = image[y0:y1, x0:x1]
    base = region.astype(np.float32)
    blended = base + (np.float32(colour) - base) * alpha[..., None]
    region[:] = np.rint(blended).astype(np.uint8)


def _label(scene: ClipScene, frame: int, ball: BallImage | None, box: Box | None,
           alpha: np.ndarray | None, in_front: list[list[Shape]]) -> FrameLabel:
    status = int(scene.ball.status[frame])
    if ball is None or not scene.ball.live(frame) or not scene.camera.contains(ball.centre):
        return FrameLabel(0, float("nan"), float("nan"), status)
    x, y = (float(v) for v in ball.centre)
    if in_front and _covered_share(box, alpha, in_front) >= OCCLUDED:
        return FrameLabel(3, x, y, status)
    if ball.streak >= BLUR_HARD * 2 * ball.radius:
        return FrameLabel(2, x, y, status)
    return FrameLabel(1, x, y, status)


def _covered_share(box: Box, alpha: np.ndarray, in_front: list[list[Shape]]) -> float:
    """How much of the ball's (exposure-weighted) footprint the players in front cover."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for shapes in in_front:
        draw_shapes(mask, shapes, (x0, y0), 255)
    return float((alpha * mask).sum() / (255.0 * alpha.sum()))


def _depth(shapes: list[Shape]) -> float:
    return float(np.mean([shape.depth for shape in shapes]))


def _darken(image: np.ndarray, polygon: np.ndarray, amount: float) -> None:
    """Darken the image inside an (image-space) polygon, e.g. a shadow, on its bounding patch."""
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 2, image.shape[1::-1])
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, fixed_point(polygon - (x0, y0)), 255, cv2.LINE_AA, SHIFT)
    region = image[y0:y1, x0:x1]
    keep = 1.0 - mask[..., None].astype(np.float32) * (amount / 255.0)
    region[:] = np.rint(region * keep).astype(np.uint8)
