"""Synthetic tennis in the TrackNet layout, behind `tracknet prepare synthetic --preset NAME`.

A small but honest stand-in for match video: a court in perspective, players who run and swing,
a motion-blurred ball under gravity with hits and bounces, distractors and sensor noise, and
labels that put the ball exactly where it is drawn. Two presets (configs/synthetic/): `broadcast`,
the main TV camera over one rally after another, and `realworld`, which varies what real footage
varies (cameras, venues, surfaces, light, recording) and adds what a rally-only model gets wrong:
balls that are not in play and dead time between points, both labelled 0. Modules:

    spec.py        SyntheticSpec: how much to render and at what size, and what varies
    variation.py   Variation: the realworld renderer's ranges, checked key by key
    presets.py     presets: a SyntheticSpec as YAML, read and checked like run configs
    court.py       court dimensions, the net, the broadcast surfaces, the lines
    camera.py      the pinhole camera, the broadcast camera and its per-clip framing
    background.py  a broadcast clip's static background: stands, court, decor, distractors, net
    trajectory.py  ball physics: toss, serve, rally, bounces, dead balls, the server's routine
    players.py     player positions and poses as simple shapes; doubles partners; spare balls
    render.py      one frame: compositing, ball blur, visibility labels, sensor noise, finish
    scene.py       one clip's scene, from (seed, game, clip)
    generate.py    the public entry point: clips in parallel, frames, videos and labels on disk

and for the realworld renderer:

    realworld.py   one clip's scene: the game's setting and the clip's camera, play, props, finish
    cameras.py     camera placements (broadcast, tripod, side, corner, courtside), camera motion
    venue.py       a game's venue and a clip's background: court, wear, walls or fences, net
    scenery.py     sky or roof, buildings, trees, light poles, stands and crowds
    surfaces.py    the surfaces by name: hard courts of several colours, clay, grass, carpet...
    lighting.py    sun, overcast or floodlights: player shadows, exposure and white balance
    props.py       balls not in play: on the ground, in hands and pockets, with ball kids
    finish.py      fence veil, camera motion, grading, vignette, source resolution, compression
    drawing.py     world polygons clipped at the camera, discs, billboards, blends

and for ball flights rendered into real footage (`--backgrounds VIDEO`):

    shots.py              a video's shots (cuts found), each one's clean plate, noise, compression
    court_lines.py        the painted lines' pixels in a plate and the straight lines through them
    court_calibration.py  the camera of a plate from its court lines, or why there is none
    composite.py          a plate and its camera as the backdrop of a ClipScene
    real_backgrounds.py   the entry point: backdrops of every shot with a court, clips on disk

and, for reference-based detection (`--task refdet`), textured objects in cluttered scenes:

    refdet_spec.py      RefdetSpec: how many objects and search images, at what size
    refdet_objects.py   procedural objects: silhouette, texture, glyph, alpha mask; look-alikes
    refdet_scene.py     one search image (with its box and visible mask) or one template
    refdet_generate.py  the entry point: objects in parallel, templates, images and labels on disk
"""

from tracknet_cli.datasets.synthetic.court_calibration import (
    CourtCalibration,
    NoCourt,
    calibrate_court,
)
from tracknet_cli.datasets.synthetic.generate import SyntheticSummary, generate_synthetic_dataset
from tracknet_cli.datasets.synthetic.presets import available_presets, load_preset
from tracknet_cli.datasets.synthetic.real_backgrounds import (
    BackgroundSpec,
    BackgroundSummary,
    generate_background_dataset,
)
from tracknet_cli.datasets.synthetic.refdet_generate import RefdetSummary, generate_refdet_dataset
from tracknet_cli.datasets.synthetic.refdet_scene import SearchFrame, render_search, render_template
from tracknet_cli.datasets.synthetic.refdet_spec import RefdetSpec
from tracknet_cli.datasets.synthetic.render import ClipScene, FrameLabel, render_frame
from tracknet_cli.datasets.synthetic.scene import build_scene
from tracknet_cli.datasets.synthetic.shots import Shot, find_shots
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec
from tracknet_cli.datasets.synthetic.variation import Variation

__all__ = [
    "BackgroundSpec",
    "BackgroundSummary",
    "ClipScene",
    "CourtCalibration",
    "FrameLabel",
    "NoCourt",
    "RefdetSpec",
    "RefdetSummary",
    "SearchFrame",
    "Shot",
    "SyntheticSpec",
    "SyntheticSummary",
    "Variation",
    "available_presets",
    "build_scene",
    "calibrate_court",
    "find_shots",
    "generate_background_dataset",
    "generate_refdet_dataset",
    "generate_synthetic_dataset",
    "load_preset",
    "render_frame",
    "render_search",
    "render_template",
]
