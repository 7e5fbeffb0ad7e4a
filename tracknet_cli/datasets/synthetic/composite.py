"""Ball flights rendered into a real shot: a calibrated clean plate as the scene's background.

A `Backdrop` is one shot made ready for the output size: its plate cut to the output's shape about
its centre (so the principal point stays at the centre and the calibrated camera only scales) and
shrunk to the output size, or, when smaller, kept at its own resolution and scaled up last; the
camera; the surface its court colour is nearest to (which sets the bounce); and how the shot
degrades a frame: sensor noise at its measured level, its compression as a JPEG quality, a
little shake when its camera moves. `composite_scene` turns a backdrop into the renderer's
`ClipScene`: ball physics, players, ball look and exposure as scene.py draws them, with the
backdrop's camera and the renderer's `Finish` for shake and compression, so `render_frame` draws
it and its labels are as exact as the renderer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import Camera
from tracknet_cli.datasets.synthetic.cameras import SHAKE_REFERENCE_WIDTH, camera_motion
from tracknet_cli.datasets.synthetic.colours import BALL, jitter
from tracknet_cli.datasets.synthetic.court import Surface
from tracknet_cli.datasets.synthetic.court_calibration import CourtCalibration, court_colour
from tracknet_cli.datasets.synthetic.finish import Finish
from tracknet_cli.datasets.synthetic.players import plan_player
from tracknet_cli.datasets.synthetic.realworld import BALL_PIXELS, REFERENCE_WIDTH
from tracknet_cli.datasets.synthetic.render import ClipScene, SensorNoise
from tracknet_cli.datasets.synthetic.scene import MAX_LEAD_SECONDS
from tracknet_cli.datasets.synthetic.shots import Shot
from tracknet_cli.datasets.synthetic.surfaces import CATALOGUE
from tracknet_cli.datasets.synthetic.trajectory import FAR, NEAR, simulate_ball

STEADY = 0.2  # px per frame (at 1280 wide): a camera moving less than this is on a tripod
MAX_SHAKE = 1.5  # px (at 1280 wide): the most per-frame jitter a moving shot's clips get
IDENTITY_LUT = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2)  # (256, 1, 3)


@dataclass(frozen=True)
class Backdrop:
    """A calibrated shot, ready to render at `source` size and show at `size`."""

    name: str  # which video and shot it is
    video: Path
    frames: tuple[int, int]  # the shot's first and last frame in the video
    plate: np.ndarray  # (h, w, 3) BGR uint8 at the source size
    camera: Camera  # at the source size
    size: tuple[int, int]  # (width, height) of the output frames
    surface: Surface
    fps: float
    noise: float  # grey levels per channel at the source size
    quality: int  # JPEG quality of the shot's compression
    shake: float  # px per frame at SHAKE_REFERENCE_WIDTH; 0 for a steady camera

    @property
    def source(self) -> tuple[int, int]:
        return self.camera.width, self.camera.height


def make_backdrop(shot: Shot, calibration: CourtCalibration, width: int, height: int) -> Backdrop:
    """The shot's plate and camera for `width` x `height` frames: the plate is cut to that shape
    about its centre and shrunk to that size if larger; a smaller one is rendered at its own
    resolution and scaled up last (render.Finish), as a player shows a low-resolution video."""
    plate, camera = shot.plate, calibration.camera
    cover = max(width / plate.shape[1], height / plate.shape[0])
    scale = min(cover, 1.0)
    source = (int(round(width * scale / cover)), int(round(height * scale / cover)))
    # x' = scale * (x - plate centre) + source centre, in pixel-centre coordinates
    matrix = np.array([[scale, 0.0, (source[0] - 1) / 2 - scale * (plate.shape[1] - 1) / 2],
                       [0.0, scale, (source[1] - 1) / 2 - scale * (plate.shape[0] - 1) / 2]])
    smooth = plate if scale == 1 else cv2.GaussianBlur(plate, (0, 0), (1 / scale - 1) / 2)
    motion = shot.motion * SHAKE_REFERENCE_WIDTH / plate.shape[1]
    return Backdrop(
        name=shot.describe(),
        video=shot.video,
        frames=(shot.start, shot.end),
        plate=cv2.warpAffine(smooth, matrix, source, flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE),
        camera=Camera(camera.position, camera.rotation, camera.focal * scale, *source),
        size=(width, height),
        surface=nearest_surface(court_colour(plate, camera)),
        fps=shot.fps,
        noise=shot.noise * scale,  # shrinking averages noise away
        quality=shot.quality,
        shake=0.0 if motion < STEADY else min(motion, MAX_SHAKE),
    )


def nearest_surface(colour: tuple[int, int, int]) -> Surface:
    """The catalogue surface whose court colour is nearest in Lab (the bounce is all a surface
    changes here: a near miss between two hard courts costs nothing)."""
    names = list(CATALOGUE)
    swatches = np.array([[CATALOGUE[name].court for name in names] + [colour]], np.uint8)
    lab = cv2.cvtColor(swatches, cv2.COLOR_BGR2LAB)[0].astype(np.float64)
    return CATALOGUE[names[int(np.argmin(np.linalg.norm(lab[:-1] - lab[-1], axis=1)))]]


def composite_scene(backdrop: Backdrop, frames: int, players: bool, seed: int, game: int,
                    clip: int) -> ClipScene:
    """Clip `clip` of game `game` (both 1-based): random streams from (seed, game, clip) only."""
    streams = np.random.SeedSequence([seed, game, clip]).spawn(4)
    play_rng, look_rng, noise_rng, shake_rng = map(np.random.default_rng, streams)
    fps, camera = backdrop.fps, backdrop.camera
    lead = int(play_rng.integers(0, int(MAX_LEAD_SECONDS * fps) + 1))
    total = lead + frames
    ball = simulate_ball(total, fps, backdrop.surface, play_rng)
    tracks = [plan_player(side, ball.hits, total, fps, play_rng) for side in (NEAR, FAR)]
    scale = camera.width / REFERENCE_WIDTH  # ball size limits are in source pixels
    warps = (camera_motion(frames, camera.width, camera.height, backdrop.shake, 0.0, 0.0,
                           shake_rng) if backdrop.shake > 0 else None)
    return ClipScene(
        camera=camera,
        background=backdrop.plate,
        ball=ball.window(lead, frames),
        players=tuple(track.window(lead, frames) for track in tracks) if players else (),
        fps=fps,
        ball_colour=jitter(BALL, look_rng, 12),
        exposure=float(look_rng.uniform(0.3, 0.6)),
        noise=SensorNoise.make(camera.width, camera.height, frames, noise_rng, sigma=backdrop.noise),
        finish=Finish(source=backdrop.source, size=backdrop.size, veil=None, warps=warps,
                      lut=IDENTITY_LUT, vignette=None, quality=backdrop.quality,
                      subsampling=True),
        ball_pixels=(max(1.0, BALL_PIXELS[0] * scale), BALL_PIXELS[1] * scale),
    )

