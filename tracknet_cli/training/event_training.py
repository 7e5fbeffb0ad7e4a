"""Train the event detector (`inference.events`) on synthetic tennis tracks: the shipped events.pt.

    uv run python -m tracknet_cli.training.event_training --out tracknet_cli/assets/events.pt

No frame is rendered: each synthetic clip's ball is simulated (points, rallies, exact hits and
bounces on the frame where the ball turns) and projected through its camera, from the `broadcast`
and `realworld` presets (cameras behind the baseline, on tripods, at the side and in the corner;
25-60 fps; 720p to 1080p sources). A simulated detector then sees that ball as the ball model
does: a position error of a fraction of a pixel to a few, runs of missed frames (more on blurred
frames), false peaks anywhere and still ones (a ball on the ground). The real tracker
(`trajectory.postprocess`) turns those into a track, and the net learns to mark the labelled events
from the track's features. So the net reads exactly what predict-video gives it.

The threshold is the one that gives the best mean F1 (hit and bounce, within ±2 frames) on held-out
clips; the checkpoint keeps it, the net's config and the recipe that made it (seeds, clips,
steps, version). About 3 minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from tracknet_cli import __version__
from tracknet_cli.datasets.synthetic.presets import load_preset
from tracknet_cli.datasets.synthetic.render import ball_label
from tracknet_cli.datasets.synthetic.scene import build_scene
from tracknet_cli.evaluation.event_metrics import EventScores, EventSet
from tracknet_cli.fileio import atomic_path
from tracknet_cli.inference.events import FEATURES, HIT, EventDetector, track_features
from tracknet_cli.inference.trajectory import Track, postprocess
from tracknet_cli.models.event_net import EventNet, EventNetConfig

PRESETS = ("broadcast", "realworld")
WINDOW = 256  # frames per training sample
TARGET_SIGMA = 0.7  # frames: the soft target's spread around an event
EVENT_WEIGHT = 5.0  # the loss of frames near an event, over that of the rest
THRESHOLDS = np.round(np.arange(0.15, 0.9, 0.05), 2)
HIDDEN_HIT = 0.5  # the share of hits the simulated detector misses for 1-9 frames around contact


@dataclass
class TrackSample:
    """One simulated clip: the track predict-video would make of it, and its labelled events."""

    track: Track
    fps: float
    frame_size: tuple[int, int]
    points: np.ndarray  # [N, 2] the true ball (px), NaN where not in view
    status: np.ndarray  # [N] 1 hit, 2 bounce on visible frames of the ball in play, else 0

    def features(self) -> np.ndarray:
        return track_features(self.track, self.fps, self.frame_size)

    def truth(self) -> EventSet:
        return EventSet.from_status(np.arange(len(self.status)), self.status, self.points)


def simulate_clip(preset: str, seed: int, clip: int, frames: int) -> TrackSample:
    """Clip `clip` of a `preset` dataset with `seed`, seen through the simulated detector."""
    spec = replace(load_preset(preset), seed=seed, frames_per_clip=frames)
    scene = build_scene(spec, 1 + clip // 4, 1 + clip % 4)
    labels = [ball_label(scene, frame) for frame in range(frames)]
    visibility = np.array([label.visibility for label in labels])
    points = np.array([(label.x, label.y) for label in labels])
    status = np.where(visibility > 0, [label.status for label in labels], 0)
    size = (scene.camera.width, scene.camera.height) if scene.finish is None else scene.finish.size
    rng = np.random.default_rng([seed, clip, 7])
    candidates = detector_view(points, visibility, status, size, rng)
    return TrackSample(postprocess(candidates, scene.fps, size), scene.fps, size, points, status)


def detector_view(points: np.ndarray, visibility: np.ndarray, status: np.ndarray, size: tuple[int, int],
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Per frame the candidates [K, 3] a ball model might report for the true ball `points` [N, 2]
    (`status` [N]: its hits and bounces): each clip draws its own error, miss rate and run length
    of misses, rate of false peaks and whether a still ball lies on the court. Hits are often
    unseen: the player's body, arm and racket hide the ball a few frames either side of them."""
    n, extent = len(points), max(size)
    sigma = rng.uniform(0.3, 2.5) * extent / 1920  # px: 0.3-2.5 px at 1080p
    miss, run = rng.uniform(0.0, 0.3), rng.uniform(1.0, 4.0)
    hidden = np.zeros(n, bool)
    for start in np.flatnonzero(rng.random(n) < miss / run):
        hidden[start:start + rng.geometric(1 / run)] = True
    hidden |= (visibility == 2) & (rng.random(n) < 0.4)  # a long streak is often missed
    for hit in np.flatnonzero(status == HIT):
        if rng.random() < HIDDEN_HIT:
            hidden[max(0, hit - rng.integers(0, 5)):hit + rng.integers(1, 6)] = True
    false_rate = rng.uniform(0.0, 0.15)
    still = rng.uniform([0, 0], size) if rng.random() < 0.5 else None
    candidates = []
    for frame in range(n):
        rows = []
        if visibility[frame] > 0 and not hidden[frame]:
            rows.append([*(points[frame] + rng.normal(0, sigma, 2)), rng.uniform(0.6, 1.0)])
        if rng.random() < false_rate:
            rows.append([*rng.uniform([0, 0], size), rng.uniform(0.5, 0.9)])
        if still is not None and rng.random() < 0.7:
            rows.append([*(still + rng.normal(0, 0.5, 2)), rng.uniform(0.5, 0.9)])
        candidates.append(np.array(rows, dtype=np.float64).reshape(-1, 3))
    return candidates


def soft_targets(status: np.ndarray) -> np.ndarray:
    """[3, N] per frame the share of nothing, hit, bounce: each labelled event spread as a
    Gaussian of TARGET_SIGMA frames, so a detection a frame off is only a little wrong."""
    n = len(status)
    target = np.zeros((3, n), np.float32)
    frames = np.arange(n)
    for event in np.flatnonzero(status > 0):
        near = np.abs(frames - event) <= 3
        spread = np.exp(-((frames[near] - event) ** 2) / (2 * TARGET_SIGMA**2))
        target[status[event], near] = np.maximum(target[status[event], near], spread)
    target[1:] = np.minimum(target[1:], 1.0 / np.maximum(target[1:].sum(axis=0), 1.0))
    target[0] = 1.0 - target[1:].sum(axis=0)
    return target


def simulate(clips: int, seed: int, frames: int) -> list[TrackSample]:
    """`clips` clips, alternating the presets."""
    return [simulate_clip(PRESETS[k % len(PRESETS)], seed + k // (4 * len(PRESETS)), k % (4 * len(PRESETS)), frames)
            for k in range(clips)]


def windows(data: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator,
            count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` random windows of WINDOW frames of (features [F, N], targets [3, N]) clips:
    features [B, F, W] and targets [B, 3, W]."""
    features, targets = [], []
    for k in rng.integers(len(data), size=count):
        x, y = data[k]
        start = int(rng.integers(0, max(1, x.shape[1] - WINDOW + 1)))
        x, y = x[:, start:start + WINDOW], y[:, start:start + WINDOW]
        pad = WINDOW - x.shape[1]
        features.append(np.pad(x, ((0, 0), (0, pad))))
        targets.append(np.pad(y, ((0, 0), (0, pad))))
    return torch.from_numpy(np.stack(features)), torch.from_numpy(np.stack(targets))


def train(samples: list[TrackSample], steps: int, seed: int, log=print) -> EventNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = [(sample.features(), soft_targets(sample.status)) for sample in samples]
    net = EventNet(EventNetConfig(features=FEATURES))
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    for step in range(steps):
        features, target = windows(data, rng, 64)
        flipped = torch.rand(len(features)) < 0.5  # a mirrored court: x and its velocities change sign
        features[flipped] = features[flipped] * _mirror()
        log_p = torch.log_softmax(net(features), dim=1)  # [B, 3, W]
        weight = 1.0 + EVENT_WEIGHT * (1.0 - target[:, 0])  # [B, W]
        loss = -(weight * (target * log_p).sum(dim=1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 200 == 0 or step == steps - 1:
            log(f"step {step}: loss {loss.item():.4f}")
    return net.eval()


def _mirror() -> torch.Tensor:
    """[F, 1] the sign of each feature under a left-right mirror of the picture."""
    sign = torch.ones(FEATURES, 1)
    sign[[2, 4, 6]] = -1.0  # x, vx, dvx
    return sign


def choose_threshold(net: EventNet, samples: list[TrackSample]) -> tuple[float, dict]:
    """The threshold with the best mean of hit and bounce F1 within ±2 frames on `samples`, and
    the scores there."""
    detector = EventDetector(net, 0.5)
    probabilities = [detector.probabilities(s.track, s.fps, s.frame_size) for s in samples]
    best = (-1.0, 0.5, {})
    for threshold in THRESHOLDS:
        detector.threshold = float(threshold)
        scores = EventScores()
        for sample, p in zip(samples, probabilities):
            scores.add(detector.decode(p, sample.track, sample.fps), sample.truth())
        mean = (scores.f1("hit", 2) + scores.f1("bounce", 2)) / 2
        if mean > best[0]:
            best = (mean, float(threshold), scores.as_dict())
    return best[1], best[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/events/events.pt"))
    parser.add_argument("--clips", type=int, default=320, help="training clips (held out: a fifth more)")
    parser.add_argument("--frames", type=int, default=900, help="frames per clip")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    held_out = max(8, args.clips // 5)
    samples = simulate(args.clips, 1000 + args.seed, args.frames)
    validation = simulate(held_out, 5000 + args.seed, args.frames)
    print(f"simulated {len(samples)} + {len(validation)} clips in {time.perf_counter() - started:.0f} s")
    net = train(samples, args.steps, args.seed)
    threshold, scores = choose_threshold(net, validation)
    recipe = {"presets": list(PRESETS), "clips": args.clips, "held_out": held_out, "frames": args.frames,
              "steps": args.steps, "seed": args.seed, "version": __version__,
              "held_out_scores": scores, "seconds": round(time.perf_counter() - started)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        torch.save({"model": net.state_dict(), "config": net.cfg.as_dict(), "threshold": threshold,
                    "recipe": recipe}, tmp)
    hit, bounce = scores["hit"]["2"], scores["bounce"]["2"]
    print(f"threshold {threshold}: held-out F1 ±2 frames hit {hit['f1']:.3f}, bounce {bounce['f1']:.3f}; "
          f"bounce error median {scores['bounce_error_px']['median']:.1f} px; wrote {args.out} "
          f"in {recipe['seconds']} s")


if __name__ == "__main__":
    main()
