"""Search images and templates for reference-based detection.

A search image is a cluttered scene (a colour gradient, textured patches, solid shapes and lines)
with 2-5 distractors pasted in (other objects of the set, and look-alikes of the target that share
its silhouette in other colours), then, unless the frame is one of its object's absent frames, the
target on top: resized, rotated, relit (gain, offset, tint and a shading ramp), possibly past an
image edge and possibly partly covered by an occluder. Last, the whole scene gets an uneven
light, sometimes a slight blur, and sensor noise.

The label is the tight box of what is seen of the target: pixels where its alpha is at least 0.5,
inside the image and not under the occluder, as pixel edges (x2, y2 exclusive, so a box can reach
the image size). Placement keeps at least 70% of the width and of the height of the object's box
inside the image and an occluder hides at most 30% of what is inside, so most of the object is
always seen (at least 64% of its area over 1200 sampled targets), and every frame with the object
carries the box of its visible part. Frames without the object are rendered without it (never
hidden by an occluder), so an empty label always means "not in the image".

Every random choice comes from (seed, split, object, frame) or (seed, object, view), so an image
renders the same in any process and order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracknet_cli.datasets.refdet_layout import SPLITS
from tracknet_cli.datasets.synthetic.refdet_objects import (
    PATTERNS,
    TexturedObject,
    dataset_object,
    draw_object,
    draw_pattern,
    lookalike_recipe,
    object_recipe,
)
from tracknet_cli.datasets.synthetic.refdet_spec import RefdetSpec

TEMPLATE_STREAM, SCENE_STREAM, ABSENT_STREAM = 2, 3, 4  # apart from the objects' stream (1)
OBJECT_SIZE = (0.07, 0.35)  # longest side of an upright object, in search-image heights
MIN_INSIDE = 0.7  # share of an object's box width and height that stays inside the image
EDGE_SHARE = 0.2  # share of targets allowed to cross an image edge
OCCLUDED_SHARE = 0.5  # share of targets with an occluder
MAX_OCCLUSION = 0.3  # most of a target's in-image mask an occluder may cover
DISTRACTORS = (2, 5)  # fewest and most distractor objects per search image


@dataclass(frozen=True)
class Layer:
    """Something to paste: float BGR pixels and alpha in [0, 1] over an image region."""

    x0: int
    y0: int
    image: np.ndarray  # (h, w, 3) float32
    alpha: np.ndarray  # (h, w) float32

    def paste(self, canvas: np.ndarray) -> None:
        h, w = self.alpha.shape
        region = canvas[self.y0:self.y0 + h, self.x0:self.x0 + w]
        alpha = self.alpha[..., None]
        region[:] = region * (1 - alpha) + self.image * alpha

    def solid(self, shape: tuple[int, int]) -> np.ndarray:
        """Where it covers a (height, width) image at least half: the mask labels are made of."""
        mask = np.zeros(shape, bool)
        h, w = self.alpha.shape
        mask[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.alpha >= 0.5
        return mask


@dataclass(frozen=True)
class SearchFrame:
    image: np.ndarray  # (H, W, 3) uint8
    box: tuple[int, int, int, int] | None  # x1, y1, x2, y2 of the visible target; None: absent
    visible: np.ndarray  # (H, W) bool: the target's pixels seen in the image


def absent_frames(spec: RefdetSpec, split: str, index: int) -> frozenset[int]:
    """The frames of object `index` in `split` rendered without it: a fixed share, so that even a
    small dataset has some, at places that differ from object to object."""
    count = spec.frames(split)
    rng = np.random.default_rng(np.random.SeedSequence(
        [ABSENT_STREAM, spec.seed, SPLITS.index(split), index]))
    return frozenset(int(f) for f in rng.permutation(count)[:round(spec.absent_share * count)])


def render_search(spec: RefdetSpec, split: str, index: int, frame: int, draw_target: bool = True,
                  noise: bool = True) -> SearchFrame:
    """Search image `frame` of object `index` in `split`. `draw_target=False` leaves the target
    out but keeps everything else (its label and mask too), for checking labels against pixels."""
    streams = np.random.SeedSequence([SCENE_STREAM, spec.seed, SPLITS.index(split), index, frame])
    clutter_rng, distractor_rng, target_rng, finish_rng = map(np.random.default_rng,
                                                              streams.spawn(4))
    shape = (spec.height, spec.width)
    canvas = _clutter(shape, clutter_rng).astype(np.float32)
    for layer in _distractors(spec, index, distractor_rng):
        layer.paste(canvas)
    visible = np.zeros(shape, bool)
    if frame not in absent_frames(spec, split, index):
        target, occluder = _target(spec, index, target_rng)
        if draw_target:
            target.paste(canvas)
        visible = target.solid(shape)
        if occluder is not None:
            occluder.paste(canvas)
            visible &= ~occluder.solid(shape)
    _finish(canvas, finish_rng, noise)
    return SearchFrame(canvas.astype(np.uint8), _tight_box(visible), visible)


def render_template(spec: RefdetSpec, index: int, view: int) -> np.ndarray:
    """Template `view` (0-2) of object `index`: the whole object, fairly large, on a plain or a
    faintly cluttered background, each view at its own size, angle and light."""
    rng = np.random.default_rng(np.random.SeedSequence([TEMPLATE_STREAM, spec.seed, index, view]))
    size = spec.template_size
    canvas = np.empty((size, size, 3), np.float32)
    canvas[:] = rng.uniform(40, 230, 3)
    if rng.random() < 0.5:  # faint clutter: the plain colour over a scene, mostly opaque
        canvas[:] = canvas * 0.7 + _clutter((size, size), rng) * 0.3
    item = dataset_object(spec.seed, index)
    angle = rng.uniform(-45, 45)
    fill = rng.uniform(0.55, 0.9)  # the rotated object's longest side, in template widths
    longest = fill * size * max(item.alpha.shape) / max(_rotated_extent(item, angle))
    slack = size * (1 - fill) / 2  # the object may sit off centre, but wholly inside
    centre = size / 2 + rng.uniform(-slack, slack, 2) * 0.8
    layer = _warp(item, longest, angle, centre, (size, size))
    _relight(layer, rng, strength=0.5).paste(canvas)
    canvas += rng.normal(0, rng.uniform(1, 2.5), canvas.shape).astype(np.float32)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _target(spec: RefdetSpec, index: int, rng: np.random.Generator) -> tuple[Layer, Layer | None]:
    """The target, placed and relit, and its occluder (None for about half the frames)."""
    item = dataset_object(spec.seed, index)
    height, width = spec.height, spec.width
    longest = _object_size(height, rng)
    angle = rng.uniform(0, 360)
    extent = np.array(_rotated_extent(item, angle)) * longest / max(item.alpha.shape)
    overhang = (1 - MIN_INSIDE) * extent if rng.random() < EDGE_SHARE else np.zeros(2)
    low, high = extent / 2 - overhang, np.array([width, height]) - extent / 2 + overhang
    centre = rng.uniform(low, np.maximum(high, low))
    target = _relight(_warp(item, longest, angle, centre, (height, width)), rng)
    occluder = _occluder(target, longest, (height, width), rng) if rng.random() < OCCLUDED_SHARE \
        else None
    return target, occluder


def _distractors(spec: RefdetSpec, index: int, rng: np.random.Generator) -> list[Layer]:
    """Other objects of the set and look-alikes of the target, anywhere, under the target."""
    layers = []
    others = [other for other in range(spec.objects) if other != index]
    for _ in range(int(rng.integers(DISTRACTORS[0], DISTRACTORS[1] + 1))):
        if others and rng.random() < 0.5:
            item = dataset_object(spec.seed, others[rng.integers(len(others))])
        else:
            item = draw_object(lookalike_recipe(object_recipe(spec.seed, index), rng))
        centre = rng.uniform(0, [spec.width, spec.height])
        layer = _warp(item, _object_size(spec.height, rng), rng.uniform(0, 360), centre,
                      (spec.height, spec.width))
        if layer is not None:  # None: the distractor fell wholly outside the image
            layers.append(_relight(layer, rng))
    return layers


def _occluder(target: Layer, longest: float, shape: tuple[int, int],
              rng: np.random.Generator) -> Layer | None:
    """A shape across part of the target, shrunk until it hides at most MAX_OCCLUSION of it;
    None if even small ones hide more (a thin target)."""
    solid = target.solid(shape)
    area = solid.sum()
    ys, xs = np.nonzero(solid)
    centre = np.array([xs.mean(), ys.mean()])
    direction = rng.uniform(0, 2 * np.pi)
    offset = np.array([np.cos(direction), np.sin(direction)]) * longest * rng.uniform(0.3, 0.6)
    radius = longest * rng.uniform(0.2, 0.45)
    fill = _random_fill(rng)
    for _ in range(6):
        layer = _polygon_layer(_shape_polygon(centre + offset, radius, rng), fill, shape, rng)
        if layer is not None and (layer.solid(shape) & solid).sum() <= MAX_OCCLUSION * area:
            return layer
        radius *= 0.7
    return None


def _object_size(height: int, rng: np.random.Generator) -> float:
    """Longest side of an upright object, log-uniform: small objects as often as large ones."""
    low, high = np.log(np.array(OBJECT_SIZE) * height)
    return float(np.exp(rng.uniform(low, high)))


def _rotated_extent(item: TexturedObject, angle: float) -> tuple[float, float]:
    """Width and height of the box around the object's canvas turned by `angle` degrees."""
    h, w = item.alpha.shape
    cos, sin = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    return w * cos + h * sin, w * sin + h * cos


def _warp(item: TexturedObject, longest: float, angle: float, centre: np.ndarray,
          shape: tuple[int, int]) -> Layer | None:
    """The object resized so its longest side is `longest` px, turned by `angle` degrees about its
    centre, which lands on `centre` (x, y); cut to the image; None when nothing is inside."""
    h, w = item.alpha.shape
    scale = longest / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    rgba = np.dstack([item.image.astype(np.float32), item.alpha]).astype(np.float32)
    # INTER_AREA averages when shrinking: a 256 px texture brought to 20 px does not alias
    rgba = cv2.resize(rgba, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    middle = ((size[0] - 1) / 2, (size[1] - 1) / 2)
    matrix = cv2.getRotationMatrix2D(middle, angle, 1.0)
    matrix[:, 2] += np.asarray(centre) - middle
    corners = np.array([[-0.5, -0.5], [size[0] - 0.5, -0.5], [-0.5, size[1] - 0.5],
                        [size[0] - 0.5, size[1] - 0.5]]) @ matrix[:, :2].T + matrix[:, 2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 1, shape[1])
    y1 = min(int(np.ceil(corners[:, 1].max())) + 1, shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    matrix[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(rgba, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return Layer(int(x0), int(y0), np.ascontiguousarray(warped[..., :3]),
                 np.clip(warped[..., 3], 0, 1))


def _relight(layer: Layer, rng: np.random.Generator, strength: float = 1.0) -> Layer:
    """Another light on the object: gain, offset, a colour tint and a shading ramp across it."""
    gain = 1 + strength * rng.uniform(-0.4, 0.35)
    bias = strength * rng.uniform(-25, 25)
    tint = 1 + strength * rng.uniform(-0.08, 0.08, 3)
    shade = 1 + strength * rng.uniform(0, 0.4) * _ramp(layer.alpha.shape, rng)
    image = layer.image * (gain * tint) * shade[..., None].astype(np.float32) + bias
    return Layer(layer.x0, layer.y0, np.clip(image, 0, 255).astype(np.float32), layer.alpha)


def _ramp(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A linear ramp from about -0.5 to 0.5 across a (height, width) region, in a random
    direction: light falling from one side."""
    direction = rng.uniform(0, 2 * np.pi)
    height, width = shape
    return (np.cos(direction) * np.linspace(-0.5, 0.5, width)[None]
            + np.sin(direction) * np.linspace(-0.5, 0.5, height)[:, None])


def _clutter(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A busy uint8 scene: a two-colour gradient, textured patches, solid shapes and lines.

    Counts grow with the area, so a small image is as busy as a large one."""
    height, width = shape
    busy = width * height / (640 * 360)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    start, end = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    image = start + (end - start) * ramp[..., None]
    for _ in range(_count(4 * busy, rng)):
        layer = _polygon_layer(_shape_polygon(rng.uniform(0, [width, height]),
                                              height * rng.uniform(0.08, 0.3), rng),
                               _random_fill(rng), shape, rng)
        if layer is not None:
            layer.paste(image)
    image = image.astype(np.uint8)
    for _ in range(_count(30 * busy, rng)):
        points = _shape_polygon(rng.uniform(0, [width, height]), height * rng.uniform(0.01, 0.12),
                                rng)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.25:  # a line or an outline rather than a filled shape
            cv2.polylines(image, [np.round(points * 16).astype(np.int32)], rng.random() < 0.5,
                          colour, int(rng.integers(1, 5)), cv2.LINE_AA, 4)
        else:
            cv2.fillPoly(image, [np.round(points * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
    return image


def _count(mean: float, rng: np.random.Generator) -> int:
    return int(rng.poisson(mean)) + 1


def _shape_polygon(centre: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A rectangle, an ellipse or an irregular polygon about `centre`, at any angle."""
    kind = rng.integers(3)
    if kind == 0:
        angles = np.array([0.25, 0.75, 1.25, 1.75]) * np.pi
        radii = np.ones(4)
    elif kind == 1:
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        radii = np.ones(32)
    else:
        count = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = rng.uniform(0.4, 1.0, count)
    points = np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None] * radius
    points[:, 1] *= rng.uniform(0.3, 1.0)  # squash, then turn: elongated shapes at any angle
    turn = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return points @ rotation.T + centre


def _random_fill(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A fill for a patch or an occluder: one colour, or a texture of two to three colours."""
    kind = "solid" if rng.random() < 0.5 else PATTERNS[rng.integers(len(PATTERNS))]
    return kind, rng.integers(0, 256, (int(rng.integers(2, 4)), 3)).astype(np.uint8)


def _polygon_layer(points: np.ndarray, fill: tuple[str, np.ndarray], shape: tuple[int, int],
                   rng: np.random.Generator) -> Layer | None:
    """A filled polygon as a Layer, cut to the image; None when it lies wholly outside."""
    x0, y0 = np.maximum(np.floor(points.min(axis=0)).astype(int) - 1, 0)
    x1 = min(int(np.ceil(points[:, 0].max())) + 2, shape[1])
    y1 = min(int(np.ceil(points[:, 1].max())) + 2, shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((points - (x0, y0)) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    kind, palette = fill
    if kind == "solid":
        image = np.broadcast_to(palette[0].astype(np.float32), mask.shape + (3,))
    else:
        image = draw_pattern(kind, palette, mask.shape, rng).astype(np.float32)
    return Layer(int(x0), int(y0), image, mask.astype(np.float32) / 255)


def _finish(canvas: np.ndarray, rng: np.random.Generator, noise: bool) -> None:
    """Uneven light over the whole scene, sometimes a slight defocus, then sensor noise."""
    light = 1 + rng.uniform(0, 0.3) * _ramp(canvas.shape[:2], rng)
    canvas *= light[..., None].astype(np.float32)
    if rng.random() < 0.25:
        cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.2), dst=canvas)
    sigma = rng.uniform(1.5, 4.0)
    if noise:
        canvas += rng.normal(0, sigma, canvas.shape).astype(np.float32)
    np.clip(canvas, 0, 255, out=canvas)


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The pixel-edge box round a mask's pixels (x2, y2 exclusive), None when it is empty."""
    if not mask.any():
        return None
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1
