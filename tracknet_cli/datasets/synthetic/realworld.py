"""Assemble one clip's scene for a spec with a `variation` section (the realworld renderer).

Everything is drawn from (seed, game, clip) only, so any clip renders the same in any process:
the game's setting (venue, surface, light, frame rate, source resolution and encoder, singles or
doubles) from the stream [seed, game, 0] (clips are numbered from 1), the clip's camera, play,
props and finish from [seed, game, clip]. The ball and the players are simulated at the game's
true frame rate; a clip starts anywhere up to `variation.lead` seconds into its simulated match,
so it may open mid-rally or in the dead time between points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tracknet_cli.datasets.synthetic.camera import Camera
from tracknet_cli.datasets.synthetic.cameras import camera_motion, place_camera
from tracknet_cli.datasets.synthetic.colours import BALL, jitter
from tracknet_cli.datasets.synthetic.finish import (
    Finish,
    fence_veil,
    grading_lut,
    vignette_map,
)
from tracknet_cli.datasets.synthetic.lighting import Lighting, make_lighting
from tracknet_cli.datasets.synthetic.players import dress, plan_partner, plan_player
from tracknet_cli.datasets.synthetic.props import (
    carried_balls,
    ground_balls,
    kids_balls,
    place_ball_kids,
)
from tracknet_cli.datasets.synthetic.render import ClipScene, SensorNoise
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec
from tracknet_cli.datasets.synthetic.trajectory import FAR, NEAR, Routine, simulate_ball
from tracknet_cli.datasets.synthetic.variation import Variation
from tracknet_cli.datasets.synthetic.venue import FENCE, VenueStyle, make_style, render_venue

REFERENCE_WIDTH = 1280  # ball size limits are set for a frame this wide
# The ball's image diameter at REFERENCE_WIDTH: from a far ball's bloom to one a metre or two
# from a courtside lens.
BALL_PIXELS = (2.0, 60.0)
HANDHELD = ("tripod", "corner", "courtside")  # placements whose camera may not stand level
ROLL = 0.01  # radians: the spread of a hand-set camera's tilt
KID_CLEARANCE = 3.0  # metres between a ball kid and the camera


@dataclass(frozen=True)
class GameSetting:
    """What one game (one video) keeps for all its clips."""

    style: VenueStyle
    lighting: Lighting
    fps: float
    source_height: int  # the source's frame height; at or above the output's: rendered sharp
    quality: int  # its encoder's JPEG quality
    subsampling: bool  # its encoder halves the colour resolution
    doubles: bool


def game_setting(spec: SyntheticSpec, game: int) -> GameSetting:
    variation = spec.variation
    rng = np.random.default_rng([spec.seed, game, 0])
    indoor = pick(variation.venues, rng) == "arena"
    lights = {kind: weight for kind, weight in variation.lighting.items()
              if not (indoor and kind == "sun")}  # no sun under a roof
    kind = pick(lights, rng) if sum(lights.values()) > 0 else "floodlights"
    style = make_style(indoor, pick(variation.surfaces, rng), variation, rng)
    low, high = variation.source_height
    quality_low, quality_high = variation.compression
    return GameSetting(
        style=style,
        lighting=make_lighting(kind, indoor, variation, rng),
        fps=float(variation.frame_rates[rng.integers(len(variation.frame_rates))]),
        source_height=int(rng.integers(low, high + 1)),
        quality=int(rng.integers(quality_low, quality_high + 1)),
        subsampling=bool(rng.random() < variation.chroma_subsampling),
        doubles=bool(rng.random() < variation.doubles),
    )


def build_realworld_scene(spec: SyntheticSpec, game: int, clip: int) -> ClipScene:
    """The scene of `game{game}/Clip{clip}` (both 1-based) of a spec with a variation."""
    variation, setting = spec.variation, game_setting(spec, game)
    streams = np.random.SeedSequence([spec.seed, game, clip]).spawn(7)
    camera_rng, background_rng, play_rng, props_rng, noise_rng, finish_rng, dress_rng = map(
        np.random.default_rng, streams)
    arena, frames, fps = setting.style.arena, spec.frames_per_clip, setting.fps
    width, height = source_size(spec, setting)

    placement = pick(variation.cameras, camera_rng)
    camera = place_camera(placement, width, height, camera_rng.uniform(*variation.zoom), arena,
                          camera_rng)
    lead = int(play_rng.uniform(*variation.lead) * fps)
    total = lead + frames
    match = simulate_ball(total, fps, setting.style.surface, play_rng, pause=variation.pause,
                          routine=Routine(variation.bounces, variation.caught_toss))
    players = [plan_player(side, match.hits, total, fps, play_rng, wander=True)
               for side in (NEAR, FAR)]
    if setting.doubles:
        players += [plan_partner(side, match, total, fps, play_rng) for side in (NEAR, FAR)]
    ball = match.window(lead, frames)
    players = tuple(replace(player.window(lead, frames), look=dress(player.look, dress_rng)) for player in players)

    kids = place_ball_kids(arena, props_rng) if props_rng.random() < variation.ball_kids else []
    kids = [kid for kid in kids  # not one standing where the camera is
            if np.linalg.norm(kid.feet - camera.position[:2]) > KID_CLEARANCE]
    count = int(props_rng.integers(variation.ground_balls[0], variation.ground_balls[1] + 1))
    still = (ground_balls(count, frames, arena, props_rng)
             + carried_balls(players, ball, fps, variation, props_rng)
             + kids_balls(kids, frames, props_rng))
    scale = width / REFERENCE_WIDTH
    return ClipScene(
        camera=camera,
        background=render_venue(camera, setting.style, setting.lighting, kids, background_rng),
        ball=ball,
        players=players,
        fps=fps,
        ball_colour=jitter(BALL, props_rng, 12),
        exposure=float(props_rng.uniform(*variation.shutter)),
        noise=SensorNoise.make(width, height, frames, noise_rng),
        still_balls=tuple(still),
        lighting=setting.lighting,
        finish=_finish(spec, setting, placement, camera, finish_rng),
        ball_pixels=(max(1.0, BALL_PIXELS[0] * scale), BALL_PIXELS[1] * scale),
    )


def source_size(spec: SyntheticSpec, setting: GameSetting) -> tuple[int, int]:
    """(width, height) the game's source films at: the output's, or less for a low-res source."""
    if setting.source_height >= spec.height:
        return spec.width, spec.height
    return round(spec.width * setting.source_height / spec.height), setting.source_height


def _finish(spec: SyntheticSpec, setting: GameSetting, placement: str, camera: Camera,
            rng: np.random.Generator) -> Finish:
    variation: Variation = spec.variation
    width, height = camera.width, camera.height
    veil = None
    if placement == "tripod" and not setting.style.indoor and rng.random() < variation.fence:
        distance = -setting.style.arena[1] - camera.position[1]  # from the back fence to the lens
        veil = fence_veil(width, height, camera.focal, distance, FENCE, rng)
    shake, pan = rng.uniform(*variation.shake), rng.uniform(*variation.pan)
    roll = rng.normal(0.0, ROLL) if placement in HANDHELD else 0.0
    moves = shake > 0 or pan > 0 or roll != 0
    return Finish(
        source=(width, height),
        size=(spec.width, spec.height),
        veil=veil,
        warps=camera_motion(spec.frames_per_clip, width, height, shake, pan, roll, rng)
        if moves else None,
        lut=grading_lut(setting.lighting),
        vignette=vignette_map(width, height, setting.lighting.vignette),
        quality=setting.quality,
        subsampling=setting.subsampling,
    )


def pick(weights: dict[str, float], rng: np.random.Generator) -> str:
    """One of the names, at chances proportional to their weights."""
    names = list(weights)
    chances = np.array([weights[name] for name in names], float)
    return names[rng.choice(len(names), p=chances / chances.sum())]
