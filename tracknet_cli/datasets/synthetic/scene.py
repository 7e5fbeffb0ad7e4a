"""Assemble one clip's scene from the spec and the clip's place in the dataset.

Random streams are derived from (seed, game, clip) only, so a clip renders the same whatever
process renders it and in whatever order. The venue (surface, colours, sponsor decor) comes from
(seed, game), so every clip of a game is played on the same court; surfaces take turns from
game to game. A spec with a `variation` section is the realworld renderer's (realworld.py).
"""

from __future__ import annotations

import numpy as np

from tracknet_cli.datasets.synthetic.background import make_venue, render_background
from tracknet_cli.datasets.synthetic.camera import broadcast_camera
from tracknet_cli.datasets.synthetic.colours import BALL, jitter
from tracknet_cli.datasets.synthetic.players import plan_player
from tracknet_cli.datasets.synthetic.realworld import build_realworld_scene
from tracknet_cli.datasets.synthetic.render import ClipScene, SensorNoise
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec
from tracknet_cli.datasets.synthetic.trajectory import FAR, NEAR, simulate_ball

MAX_LEAD_SECONDS = 3.0  # a clip starts up to this far into its simulated match, often mid-rally


def build_scene(spec: SyntheticSpec, game: int, clip: int) -> ClipScene:
    """The scene of `game{game}/Clip{clip}` (both 1-based) of the dataset `spec` describes."""
    if spec.variation is not None:
        return build_realworld_scene(spec, game, clip)
    venue = make_venue(spec.seed + game - 1, np.random.default_rng([spec.seed, game]))
    streams = np.random.SeedSequence([spec.seed, game, clip]).spawn(5)
    camera_rng, background_rng, play_rng, look_rng, noise_rng = map(np.random.default_rng, streams)

    camera = broadcast_camera(venue.framing, spec.width, spec.height, camera_rng)
    lead = int(play_rng.integers(0, int(MAX_LEAD_SECONDS * spec.fps) + 1))
    total = lead + spec.frames_per_clip
    ball = simulate_ball(total, spec.fps, venue.surface, play_rng)
    players = [plan_player(side, ball.hits, total, spec.fps, play_rng) for side in (NEAR, FAR)]
    return ClipScene(
        camera=camera,
        background=render_background(camera, venue, background_rng),
        ball=ball.window(lead, spec.frames_per_clip),
        players=tuple(player.window(lead, spec.frames_per_clip) for player in players),
        fps=spec.fps,
        ball_colour=jitter(BALL, look_rng, 12),
        exposure=float(look_rng.uniform(0.3, 0.6)),
        noise=SensorNoise.make(spec.width, spec.height, spec.frames_per_clip, noise_rng),
    )
