"""Synthetic broadcast tennis in the TrackNet layout, behind `tracknet prepare synthetic`.

A small but honest stand-in for broadcast video: a court in perspective, two players who run and
swing, a motion-blurred ball under gravity with hits and bounces, distractors and sensor noise,
and labels that put the ball exactly where it is drawn. Modules:

    spec.py        SyntheticSpec: how much to render and at what size
    court.py       court dimensions, the net, the surfaces
    camera.py      the broadcast camera and its per-clip framing
    background.py  a clip's static background: stands, court, decor and distractors, net
    trajectory.py  ball physics: toss, serve, rally, bounces, dead balls; status labels
    players.py     player positions and poses as simple shapes
    render.py      one frame: compositing, ball blur, visibility labels, sensor noise
    scene.py       one clip's scene, from (seed, game, clip)
    generate.py    the public entry point: clips in parallel, frames, videos and labels on disk

and, for reference-based detection (`--task refdet`), textured objects in cluttered scenes:

    refdet_spec.py      RefdetSpec: how many objects and search images, at what size
    refdet_objects.py   procedural objects: silhouette, texture, glyph, alpha mask; look-alikes
    refdet_scene.py     one search image (with its box and visible mask) or one template
    refdet_generate.py  the entry point: objects in parallel, templates, images and labels on disk
"""

from tracknet_cli.datasets.synthetic.generate import SyntheticSummary, generate_synthetic_dataset
from tracknet_cli.datasets.synthetic.refdet_generate import RefdetSummary, generate_refdet_dataset
from tracknet_cli.datasets.synthetic.refdet_scene import SearchFrame, render_search, render_template
from tracknet_cli.datasets.synthetic.refdet_spec import RefdetSpec
from tracknet_cli.datasets.synthetic.render import ClipScene, FrameLabel, render_frame
from tracknet_cli.datasets.synthetic.scene import build_scene
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec

__all__ = [
    "ClipScene",
    "FrameLabel",
    "RefdetSpec",
    "RefdetSummary",
    "SearchFrame",
    "SyntheticSpec",
    "SyntheticSummary",
    "build_scene",
    "generate_refdet_dataset",
    "generate_synthetic_dataset",
    "render_frame",
    "render_search",
    "render_template",
]
