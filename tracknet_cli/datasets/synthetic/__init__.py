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
"""

from tracknet_cli.datasets.synthetic.generate import SyntheticSummary, generate_synthetic_dataset
from tracknet_cli.datasets.synthetic.render import ClipScene, FrameLabel, render_frame
from tracknet_cli.datasets.synthetic.scene import build_scene
from tracknet_cli.datasets.synthetic.spec import SyntheticSpec

__all__ = [
    "ClipScene",
    "FrameLabel",
    "SyntheticSpec",
    "SyntheticSummary",
    "build_scene",
    "generate_synthetic_dataset",
    "render_frame",
]
