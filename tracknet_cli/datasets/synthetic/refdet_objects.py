"""Procedural textured objects for reference-based detection: a silhouette, a multi-colour texture
and often a glyph, cut out by an anti-aliased alpha mask.

An object is a `Recipe` (every random choice) drawn by `draw_object`, so a look-alike distractor
is a real object's recipe with another texture and colours. The objects of a dataset come from
(seed, index) alone, so every split, template and worker process sees the same objects. Their
silhouette and texture kinds take turns by index, and their hues are spread round the colour
wheel, so no two objects of a dataset look alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

CANVAS = 256  # px an object is drawn at; pasting resizes it to the size wanted
SHAPES = ("polygon", "ellipse", "rounded_rect", "blob")
PATTERNS = ("stripes", "checks", "blobs", "rings", "dots")
GOLDEN = 0.6180339887  # hue step between objects: consecutive objects land far apart on the wheel
OBJECT_STREAM = 1  # first word of the objects' seed sequences, apart from the scenes' streams


@dataclass(frozen=True)
class TexturedObject:
    """A cut-out: BGR pixels and an alpha mask in [0, 1], cropped to where alpha > 0."""

    image: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) float32


@dataclass(frozen=True)
class Recipe:
    shape: str
    outline: np.ndarray  # (n, 2) silhouette polygon in canvas pixels
    palette: np.ndarray  # (k, 3) uint8 BGR, k >= 2
    pattern: str
    pattern_seed: int  # the pattern's own layout: stripe angle, blob field, ...
    glyph: str  # a few letters printed over the texture, or ""
    glyph_seed: int
    border: bool  # a dark rim along the silhouette


def object_recipe(seed: int, index: int) -> Recipe:
    """Object `index` of the dataset rendered with `seed`."""
    rng = np.random.default_rng(np.random.SeedSequence([OBJECT_STREAM, seed, index]))
    shape = SHAPES[index % len(SHAPES)]
    # each round of shapes moves on one pattern: the first 20 objects all differ in the pair
    pattern = PATTERNS[(index % len(SHAPES) + index // len(SHAPES)) % len(PATTERNS)]
    hue = (rng.uniform(0, 1) + index * GOLDEN) % 1.0  # the dataset's hues: a shifted golden walk
    return _recipe(shape, pattern, hue, rng)


def lookalike_recipe(recipe: Recipe, rng: np.random.Generator) -> Recipe:
    """A distractor with the silhouette of `recipe` but its own texture and colours: a look-alike
    that only the object's appearance tells apart, so the templates have to be read. (A look-alike
    sharing the colours instead is not a fair negative: what would tell it apart, a texture whose
    bands are 7-26 px on the 256 px canvas, is under a pixel once the object is 20 px tall.)"""
    other = _recipe(recipe.shape, _other(PATTERNS, recipe.pattern, rng), rng.uniform(0, 1), rng)
    return dataclasses.replace(other, outline=recipe.outline)


@lru_cache(maxsize=64)
def dataset_object(seed: int, index: int) -> TexturedObject:
    """Object `index`, kept once drawn in each process: scenes paste the set's objects again and
    again, as targets and as distractors."""
    return draw_object(object_recipe(seed, index))


def draw_object(recipe: Recipe) -> TexturedObject:
    """Texture, glyph and rim on the canvas, cut out by the silhouette and cropped to it."""
    mask = np.zeros((CANVAS, CANVAS), np.uint8)
    outline = np.round(recipe.outline * 16).astype(np.int32)  # 4 fractional bits: smooth edges
    cv2.fillPoly(mask, [outline], 255, cv2.LINE_AA, 4)
    image = draw_pattern(recipe.pattern, recipe.palette, (CANVAS, CANVAS),
                         np.random.default_rng(recipe.pattern_seed))
    if recipe.glyph:
        _draw_glyph(image, recipe, np.random.default_rng(recipe.glyph_seed))
    if recipe.border:
        cv2.polylines(image, [outline], True, (25, 25, 25), 5, cv2.LINE_AA, 4)
    x, y, w, h = cv2.boundingRect(mask)
    alpha = mask[y:y + h, x:x + w].astype(np.float32) / 255
    return TexturedObject(np.ascontiguousarray(image[y:y + h, x:x + w]), alpha)


def draw_pattern(kind: str, palette: np.ndarray, size: tuple[int, int],
                 rng: np.random.Generator) -> np.ndarray:
    """A (height, width, 3) texture of the palette's colours; also fills background patches."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "blobs":
        levels = _blob_field(size, rng)
    elif kind == "rings":
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        levels = np.hypot(xs - cx, ys - cy) / rng.uniform(6, 22)
    elif kind == "dots":
        return _dots(palette, size, rng)
    else:  # stripes and checks: bands across a random direction (and, for checks, across both)
        angle = rng.uniform(0, np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        levels = along / rng.uniform(7, 26)
        if kind == "checks":
            across = (-xs * np.sin(angle) + ys * np.cos(angle)) / rng.uniform(10, 30)
            levels = np.floor(levels) + np.floor(across)
    index = np.floor(levels).astype(np.int64) % len(palette)
    return palette[index]


def _recipe(shape: str, pattern: str, hue: float, rng: np.random.Generator) -> Recipe:
    glyph_length = int(rng.integers(0, 4))  # 0: no glyph, about one object in four
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return Recipe(
        shape=shape,
        outline=_outline(shape, rng),
        palette=_palette(hue, rng),
        pattern=pattern,
        pattern_seed=int(rng.integers(2**31)),
        glyph="".join(rng.choice(list(letters), glyph_length)),
        glyph_seed=int(rng.integers(2**31)),
        border=bool(rng.random() < 0.5),
    )


def _other(choices: tuple[str, ...], taken: str, rng: np.random.Generator) -> str:
    rest = [choice for choice in choices if choice != taken]
    return rest[rng.integers(len(rest))]


def _outline(shape: str, rng: np.random.Generator) -> np.ndarray:
    """The silhouette on the canvas, 4 px in from its edges, stretched to a random aspect."""
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    if shape == "polygon":
        count = int(rng.integers(5, 10))
        step = 2 * np.pi / count  # corners roughly evenly round, so no sliver-thin polygons
        angles = np.arange(count) * step + rng.uniform(-0.3, 0.3, count) * step
        radius = rng.uniform(0.55, 1.0, count)
    elif shape == "ellipse":
        radius = np.ones_like(angles)
    elif shape == "rounded_rect":  # a superellipse: a rectangle with round corners
        power = rng.uniform(3, 8)
        radius = (np.abs(np.cos(angles)) ** power + np.abs(np.sin(angles)) ** power) ** (-1 / power)
    else:  # blob: a circle with a few slow bulges
        radius = np.ones_like(angles)
        for lobes in (2, 3, 5):
            radius += rng.uniform(0.05, 0.18) * np.cos(lobes * angles + rng.uniform(0, 2 * np.pi))
    points = np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius[:, None]
    points[:, int(rng.integers(2))] *= rng.uniform(0.55, 1.0)
    span = points.max(axis=0) - points.min(axis=0)
    scale = (CANVAS - 8) / span.max()
    return (points - points.min(axis=0)) * scale + (CANVAS - span * scale) / 2


def _palette(hue: float, rng: np.random.Generator) -> np.ndarray:
    """2-4 colours: the object's hue, neighbours of it, and often a near-black or near-white."""
    count = int(rng.integers(2, 5))
    hues = (hue + np.concatenate([[0.0], rng.uniform(-0.2, 0.2, count - 1)])) % 1.0
    hsv = np.stack([hues * 180, rng.uniform(120, 255, count), rng.uniform(90, 255, count)], axis=1)
    if count > 2 and rng.random() < 0.6:
        hsv[-1, 1:] = (0, rng.choice([30, 235]))  # a grey so the texture has contrast
    bgr = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2BGR)[0]
    return bgr


def _blob_field(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Smooth random levels: a coarse noise grid enlarged, cut into as many bands as colours."""
    height, width = size
    coarse = rng.normal(0, 1, (int(rng.integers(3, 8)),) * 2).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return (smooth - smooth.min()) / max(float(np.ptp(smooth)), 1e-6) * 3.999


def _dots(palette: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Polka dots of the other colours on the first one."""
    height, width = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = palette[0]
    pitch = rng.uniform(14, 36)
    radius = int(pitch * rng.uniform(0.2, 0.42))
    rows = np.arange(-pitch, height + pitch, pitch)
    for row, y in enumerate(rows):
        offset = pitch / 2 * (row % 2)  # staggered rows
        for column, x in enumerate(np.arange(-pitch + offset, width + pitch, pitch)):
            colour = palette[1 + (row + column) % (len(palette) - 1)]
            cv2.circle(image, (int(x), int(y)), radius, tuple(int(c) for c in colour), -1,
                       cv2.LINE_AA)
    return image


def _draw_glyph(image: np.ndarray, recipe: Recipe, rng: np.random.Generator) -> None:
    """A logo-like mark: a few thick letters in a colour far from the texture's, near the centre."""
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX)
    font = fonts[rng.integers(len(fonts))]
    thickness = int(rng.integers(6, 12))
    (text_width, text_height), _ = cv2.getTextSize(recipe.glyph, font, 1.0, thickness)
    scale = CANVAS * rng.uniform(0.35, 0.55) / max(text_width, text_height)
    (text_width, text_height), _ = cv2.getTextSize(recipe.glyph, font, scale, thickness)
    origin = ((CANVAS - text_width) // 2, (CANVAS + text_height) // 2)
    mean = recipe.palette.astype(float).mean(axis=0)
    colour = tuple(int(c) for c in np.where(mean > 128, 20, 240))  # against the texture
    cv2.putText(image, recipe.glyph, origin, font, scale, colour, thickness, cv2.LINE_AA)
