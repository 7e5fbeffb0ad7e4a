"""Court calibration: the pinhole camera that sees a frame, found from the court's painted lines.

World coordinates are the renderer's (court.py): metres, origin at the centre of the court on the
ground, X to the camera's right, Y away from it, Z up. The model's lines are the painted lines'
centres at the ITF positions, as background.py draws them. Image coordinates are pixel centres.

1. Line pixels and 2. candidate lines across and along the view: court_lines.py.
3. Model fit: every pair of across lines with every pair of along lines is a quadrilateral; matched
   to every ordered pair of model lines it gives a ground homography, scored by where the model's
   nine lines land (the share of them, weighted by their image length, on line pixels, less the
   share of the blank court between them that is on line pixels: a crowd is lines everywhere).
   All hypotheses are scored at once in numpy; the best are then also ranked by how much of the
   candidate lines' pixels they explain.
4. Refinement: each model line is re-fitted to the line pixels near its projection; the crossings of
   the fitted lines are keypoints for a least-squares homography. Repeated in a narrower band, for
   the best few hypotheses; the best refined one wins.
5. Camera: the focal length follows from the homography's two rotation columns being orthonormal
   (square pixels, principal point at the centre); focal, rotation and position are then refined
   together on the keypoints (Levenberg-Marquardt: cv2.calibrateCamera, without distortion).

A frame without a court (crowd, close-up, graphics) gets a `NoCourt` that says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np

from tracknet_cli.datasets.synthetic.camera import SHIFT, Camera, fixed_point
from tracknet_cli.datasets.synthetic.court import (
    HALF_DOUBLES,
    HALF_LENGTH,
    HALF_SINGLES,
    SERVICE_LINE,
)
from tracknet_cli.datasets.synthetic.court_lines import REFERENCE_WIDTH, candidate_lines, fit_line, line_pixels

# Lines of the model: Y of those across the view, far to near; X of those along it, left to right.
ACROSS_Y = np.array([HALF_LENGTH, SERVICE_LINE, -SERVICE_LINE, -HALF_LENGTH])
ALONG_X = np.array([-HALF_DOUBLES, -HALF_SINGLES, 0.0, HALF_SINGLES, HALF_DOUBLES])
OUTLINE = np.array([[-HALF_DOUBLES, -HALF_LENGTH, 1.0], [HALF_DOUBLES, -HALF_LENGTH, 1.0],
                    [HALF_DOUBLES, HALF_LENGTH, 1.0], [-HALF_DOUBLES, HALF_LENGTH, 1.0]])

# Pixel sizes are for a 1280-wide frame (court_lines.REFERENCE_WIDTH) and scale with the width.
HIT_RADIUS = 3.0  # px: a model sample within this of a line pixel lands on the line
MIN_SIDE = 12.0  # px: a shorter side of a line quadrilateral cannot tell model lines apart
MIN_AREA = 0.02  # share of the frame the court's outline must cover
SAMPLE_STEP = 0.5  # metres between a model line's samples when scoring
CLEARANCE = 0.4  # metres from every line to a blank sample
BLANK = -1
SHORTLIST = 256  # best hypotheses by line landing, then ranked by explained pixels too
TRIES = 8  # best hypotheses refined; the best after refinement wins
BANDS = (6.0, 3.0, 2.0)  # px: half-width of the band a model line is re-fitted in, per round
MIN_FIT_PIXELS = 15  # line pixels needed to re-fit a model line

# What a calibration must reach to be trusted.
MIN_SCORE = 0.5  # the fit's score (see CourtCalibration.score)
MAX_RMS = 1.5  # px, keypoint reprojection error (at 1280 wide)
CAMERA_HEIGHT = (2.0, 80.0)  # metres
MAX_CAMERA_SIDE = 25.0  # metres the camera may stand off the court's long axis


@dataclass(frozen=True)
class CourtCalibration:
    camera: Camera
    keypoints: np.ndarray  # (k, 2) image crossings of the fitted lines
    world: np.ndarray  # (k, 2) the same crossings on the ground, metres
    rms: float  # px, root-mean-square distance of keypoints to their projection by `camera`
    max_error: float  # px, the largest such distance
    score: float  # share of the model's lines (by image length) on line pixels, less the share
    # of the blank court between them on line pixels: 1 for a clean court seen whole


@dataclass(frozen=True)
class NoCourt:
    reason: str


def calibrate_court(image: np.ndarray) -> CourtCalibration | NoCourt:
    """The camera of a BGR frame (best a clean plate: no players on the lines), or why not."""
    height, width = image.shape[:2]
    scale = width / REFERENCE_WIDTH
    mask = line_pixels(image)
    if mask.sum() < 0.002 * mask.size * 255:
        return NoCourt("almost no thin bright lines in view")
    across, along, support = candidate_lines(mask)
    if len(across) < 2 or len(along) < 2:
        return NoCourt(f"too few straight lines ({len(across)} across the view, {len(along)} "
                       "along it)")
    radius = max(1, int(round(HIT_RADIUS * scale)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    hits = cv2.dilate(mask, disc) > 0  # where a model line may land and count as on a line
    hypotheses = _best_fits(across, along, hits, support, radius)
    if not len(hypotheses):
        return NoCourt("no two lines across and two along the view frame a court")
    points = np.argwhere(mask > 0)[:, ::-1].astype(np.float64)  # (n, 2) x, y of line pixels
    refined = [_refine(homography, points, scale) for homography in hypotheses]
    refined = [fit for fit in refined if fit is not None]
    if not refined:
        return NoCourt("too few court lines could be re-fitted")
    homographies = np.array([homography for homography, _ in refined])
    ranks = _scores(homographies, hits) + _explained(homographies, support, radius)
    homography, fitted = refined[int(np.argmax(ranks))]
    score = float(_scores(homography[None], hits)[0])
    keypoints, world = _keypoints(fitted)
    camera, rms = _camera(homography, keypoints, world, width, height)
    if camera is None:
        return NoCourt("the fitted lines are no court seen in perspective (no focal length fits)")
    errors = np.linalg.norm(camera.project(np.c_[world, np.zeros(len(world))])[0] - keypoints,
                            axis=1)
    problem = _implausible(camera, rms / scale, score)
    if problem:
        return NoCourt(problem)
    return CourtCalibration(camera, keypoints, world, rms, float(errors.max()), score)


def court_segments() -> np.ndarray:
    """(9, 2, 2) the model's painted lines as ground segments (x, y metres): across, then along."""
    across = [[(-HALF_DOUBLES if abs(y) == HALF_LENGTH else -HALF_SINGLES, y),
               (HALF_DOUBLES if abs(y) == HALF_LENGTH else HALF_SINGLES, y)] for y in ACROSS_Y]
    along = [[(x, -SERVICE_LINE if x == 0 else -HALF_LENGTH),
              (x, SERVICE_LINE if x == 0 else HALF_LENGTH)] for x in ALONG_X]
    return np.array(across + along, dtype=np.float64)


def draw_court(image: np.ndarray, camera: Camera, colour=(0, 255, 255), thickness: int = 1) -> None:
    """Draw the model's lines as `camera` sees them (to look at a calibration)."""
    segments = court_segments()
    ground = np.concatenate([segments, np.zeros(segments.shape[:2] + (1,))], axis=2)
    for start, end in fixed_point(camera.project(ground)[0]):
        cv2.line(image, tuple(start), tuple(end), colour, thickness, cv2.LINE_AA, SHIFT)


def court_colour(image: np.ndarray, camera: Camera) -> tuple[int, int, int]:
    """The median BGR colour of the court between its lines, as `camera` sees it in `image`."""
    points, owner = SAMPLES
    ground = np.c_[points[owner == BLANK, :2], np.zeros(np.count_nonzero(owner == BLANK))]
    uv = np.rint(camera.project(ground)[0]).astype(int)
    seen = ((uv >= 0) & (uv < [image.shape[1], image.shape[0]])).all(axis=1)
    if not seen.any():
        raise ValueError("no part of the court is in the image")
    return tuple(int(c) for c in np.median(image[uv[seen, 1], uv[seen, 0]], axis=0))


def _best_fits(across: np.ndarray, along: np.ndarray, hits: np.ndarray, support: np.ndarray,
               radius: float) -> np.ndarray:
    """The TRIES best ground homographies (k, 3, 3) over all line quadrilaterals and model line
    pairs, best first.

    All are scored by where the model's lines land (`_scores`); the SHORTLIST best of those also
    by how much of the candidate lines' pixels `support` (p, 2) they explain, within `radius` px
    (`_explained`). The first alone can favour a court squeezed onto the strongest lines (when the
    far lines are faint, a short court that leaves them out lands better than the true one); the
    second alone would favour a court stretched over clutter. Both are shares, 0 to 1.
    """
    corners = np.cross(across[:, None], along[None])  # (na, nb, 3) crossings; never parallel
    corners = corners[..., :2] / corners[..., 2:]
    top, bottom, left, right = np.meshgrid(np.arange(len(across)), np.arange(len(across)),
                                           np.arange(len(along)), np.arange(len(along)),
                                           indexing="ij")
    top, bottom, left, right = (a.ravel() for a in (top, bottom, left, right))
    quads = np.stack([corners[top, left], corners[top, right], corners[bottom, left],
                      corners[bottom, right]], axis=1)  # (q, 4, 2)
    ordered = ((quads[:, 0, 1] < quads[:, 2, 1]) & (quads[:, 1, 1] < quads[:, 3, 1])
               & (quads[:, 0, 0] < quads[:, 1, 0]) & (quads[:, 2, 0] < quads[:, 3, 0]))
    sides = np.linalg.norm(quads[:, [0, 1, 3, 2]] - quads[:, [1, 3, 2, 0]], axis=2)
    quads = quads[ordered & (sides.min(axis=1) > MIN_SIDE * hits.shape[1] / REFERENCE_WIDTH)]
    if not len(quads):
        return np.empty((0, 3, 3))
    across_pairs = np.array(list(combinations(range(len(ACROSS_Y)), 2)))  # (6, 2) far, near
    along_pairs = np.array(list(combinations(range(len(ALONG_X)), 2)))  # (10, 2) west, east
    far, near = np.repeat(across_pairs, len(along_pairs), axis=0).T
    west, east = np.tile(along_pairs, (len(across_pairs), 1)).T
    models = np.stack([np.stack([ALONG_X[west], ACROSS_Y[far]], axis=1),
                       np.stack([ALONG_X[east], ACROSS_Y[far]], axis=1),
                       np.stack([ALONG_X[west], ACROSS_Y[near]], axis=1),
                       np.stack([ALONG_X[east], ACROSS_Y[near]], axis=1)], axis=1)  # (60, 4, 2)
    image = np.repeat(quads, len(models), axis=0)
    world = np.tile(models, (len(quads), 1, 1))
    homographies = _four_point_homographies(world, image)
    scores = np.concatenate([_scores(homographies[start:start + 2048], hits)  # chunks: memory
                             for start in range(0, len(homographies), 2048)])
    shortlist = np.argsort(-scores)[:SHORTLIST]
    scores = scores[shortlist] + _explained(homographies[shortlist], support, radius)
    return homographies[shortlist[np.argsort(-scores)[:TRIES]]]


def _refine(homography: np.ndarray, points: np.ndarray,
            scale: float) -> tuple[np.ndarray, list[np.ndarray | None]] | None:
    """A hypothesis re-fitted to the line pixels `points` (n, 2) in ever narrower bands: the
    homography and the fitted image lines, or None when too few lines can be fitted."""
    for band in BANDS:
        fitted = _refit(homography, points, band * scale)
        homography = _keypoint_homography(fitted)
        if homography is None:
            return None
    return homography, fitted


def _four_point_homographies(world: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(n, 3, 3) homographies taking each set of 4 world points (n, 4, 2) onto 4 image points."""
    n = len(world)
    x, y = world[..., 0], world[..., 1]
    u, v = image[..., 0], image[..., 1]
    zero, one = np.zeros_like(x), np.ones_like(x)
    rows_u = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y], axis=2)
    rows_v = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y], axis=2)
    system = np.concatenate([rows_u, rows_v], axis=1)  # (n, 8, 8)
    target = np.concatenate([u, v], axis=1)
    solvable = np.abs(np.linalg.det(system)) > 1e-9
    solution = np.zeros((n, 8))
    solution[solvable] = np.linalg.solve(system[solvable], target[solvable][..., None])[..., 0]
    homographies = np.concatenate([solution, np.ones((n, 1))], axis=1).reshape(n, 3, 3)
    homographies[~solvable] = 0.0  # scores nothing
    # Scaled so that the first corner has w > 0: its side of the horizon is the side in view.
    w = homographies[:, 2, 0] * x[:, 0] + homographies[:, 2, 1] * y[:, 0] + homographies[:, 2, 2]
    return homographies * np.where(w < 0, -1.0, 1.0)[:, None, None]


def _samples() -> tuple[np.ndarray, np.ndarray]:
    """Ground points (m, 3) homogeneous metres that tell a court from clutter, and each one's line
    (m,): points along the model's lines, then BLANK (-1) points on the court at least CLEARANCE
    from every line, where a court has no line pixels and a crowd or a logo has plenty."""
    points, owner = [], []
    for index, (start, end) in enumerate(court_segments()):
        count = max(10, int(np.linalg.norm(end - start) / SAMPLE_STEP))
        t = (np.arange(count) + 0.5)[:, None] / count
        points.append(start + (end - start) * t)
        owner.append(np.full(count, index))
    grid = np.stack(np.meshgrid(np.arange(-HALF_DOUBLES, HALF_DOUBLES, 2 * SAMPLE_STEP),
                                np.arange(-HALF_LENGTH, HALF_LENGTH, 2 * SAMPLE_STEP)), axis=2)
    grid = grid.reshape(-1, 2)
    clear = np.ones(len(grid), bool)
    for start, end in court_segments():
        t = np.clip((grid - start) @ (end - start) / np.sum((end - start) ** 2), 0.0, 1.0)
        clear &= np.linalg.norm(grid - (start + t[:, None] * (end - start)), axis=1) > CLEARANCE
    points.append(grid[clear])
    owner.append(np.full(clear.sum(), BLANK))
    points = np.concatenate(points)
    return np.c_[points, np.ones(len(points))], np.concatenate(owner)


SAMPLES = _samples()


def _scores(homographies: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """(n,) share of the model's lines on line pixels, each line weighing as much as it is long in
    the image, less the share of the blank samples on line pixels. By length: a near line is long
    and clear, a far one short and often faint; counting every line alike lets a short court that
    leaves the far lines out (onto the net tape, say) beat the true one."""
    points, owner = SAMPLES
    height, width = hits.shape
    projected = np.einsum("nij,mj->nmi", homographies, points)  # (n, m, 3)
    front = projected[..., 2] > 0  # a sample beyond the horizon is not in view
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.rint(projected[..., 0] / projected[..., 2])
        v = np.rint(projected[..., 1] / projected[..., 2])
    inside = front & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    on_line = np.zeros(inside.shape, bool)
    on_line[inside] = hits[v[inside].astype(int), u[inside].astype(int)]
    # A hypothesis that squeezes the court onto a few line pixels would score well: refuse it.
    outline = _project(homographies, OUTLINE)
    area = 0.5 * np.abs(np.sum(outline[:, :, 0] * np.roll(outline[:, :, 1], -1, axis=1)
                               - np.roll(outline[:, :, 0], -1, axis=1) * outline[:, :, 1], axis=1))
    on_line &= (area > MIN_AREA * width * height)[:, None]
    shares = np.stack([on_line[:, owner == line].mean(axis=1) for line in range(owner.max() + 1)],
                      axis=1)  # (n, 9)
    ends = _project(homographies, np.c_[court_segments().reshape(-1, 2), np.ones(18)])
    lengths = np.linalg.norm(ends[:, 1::2] - ends[:, ::2], axis=2)  # (n, 9) px
    lengths = np.minimum(np.nan_to_num(lengths, nan=0.0, posinf=0.0), width)
    weighted = (shares * lengths).sum(axis=1) / np.maximum(lengths.sum(axis=1), 1e-9)
    return weighted - on_line[:, owner == BLANK].mean(axis=1)


def _project(homographies: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, m, 2) image points of homogeneous ground points (m, 3) under each homography."""
    projected = np.einsum("nij,mj->nmi", homographies, points)
    with np.errstate(divide="ignore", invalid="ignore"):
        return projected[..., :2] / projected[..., 2:]


def _explained(homographies: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    """(n,) share of the image points (p, 2) within `radius` px of a model line's projection."""
    ends = np.einsum("nij,smj->nsmi", homographies,
                     np.concatenate([court_segments(), np.ones((9, 2, 1))], axis=2))
    ends = ends[..., :2] / ends[..., 2:]  # (n, 9, 2, 2) image ends of the model's lines
    start, direction = ends[:, :, None, 0], (ends[:, :, 1] - ends[:, :, 0])[:, :, None]
    offset = points[None, None] - start  # (n, 9, p, 2)
    t = np.clip(np.sum(offset * direction, axis=3) / np.sum(direction**2, axis=3), 0.0, 1.0)
    distance = np.linalg.norm(offset - t[..., None] * direction, axis=3)
    return (distance.min(axis=1) <= radius).mean(axis=1)


def _refit(homography: np.ndarray, points: np.ndarray, band: float) -> list[np.ndarray | None]:
    """Each model line (homogeneous image line) fitted to the line pixels within `band` px of its
    projection and between its ends; None where too few pixels are there."""
    fitted: list[np.ndarray | None] = []
    for start, end in court_segments():
        ends = cv2.perspectiveTransform(np.array([[start, end]]), homography)[0]
        direction = ends[1] - ends[0]
        length = float(np.linalg.norm(direction))
        if not np.isfinite(length) or length < 1:
            fitted.append(None)
            continue
        direction /= length
        offset = points - ends[0]
        along = offset @ direction
        across = offset @ np.array([-direction[1], direction[0]])
        near = (np.abs(across) <= band) & (along >= 0) & (along <= length)
        if near.sum() < MIN_FIT_PIXELS:
            fitted.append(None)
            continue
        fitted.append(fit_line(points[near]))
    return fitted


def _keypoints(fitted: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Image crossings of every fitted across line with every fitted along line, and where those
    crossings are on the ground."""
    image, world = [], []
    for i, y in enumerate(ACROSS_Y):
        for j, x in enumerate(ALONG_X):
            first, second = fitted[i], fitted[len(ACROSS_Y) + j]
            if first is None or second is None:
                continue
            crossing = np.cross(first, second)
            image.append(crossing[:2] / crossing[2])
            world.append((x, y))
    return np.array(image).reshape(-1, 2), np.array(world, dtype=np.float64).reshape(-1, 2)


def _keypoint_homography(fitted: list[np.ndarray | None]) -> np.ndarray | None:
    """Least-squares ground homography of the keypoints; None unless 2 across and 2 along lines
    were fitted (the fewest that pin a homography)."""
    have_across = sum(line is not None for line in fitted[:len(ACROSS_Y)])
    have_along = sum(line is not None for line in fitted[len(ACROSS_Y):])
    if have_across < 2 or have_along < 2:
        return None
    image, world = _keypoints(fitted)
    homography, _ = cv2.findHomography(world, image, 0)
    if homography is None:
        return None
    return homography * np.sign(homography[2, 2])  # the court's centre in front: w > 0


def _camera(homography: np.ndarray, keypoints: np.ndarray, world: np.ndarray, width: int,
            height: int) -> tuple[Camera | None, float]:
    """The pinhole camera (square pixels, principal point at the centre) of a ground homography,
    refined on the keypoints, with its keypoint RMS error (px); None when no focal fits."""
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    shift = np.array([[1.0, 0.0, -centre[0]], [0.0, 1.0, -centre[1]], [0.0, 0.0, 1.0]])
    h = shift @ homography
    h = h / np.linalg.norm(h[:, 0])
    (a1, a2), (b1, b2), (c1, c2) = h[0, :2], h[1, :2], h[2, :2]
    # With K = diag(f, f, 1), r1 = K^-1 h1 and r2 = K^-1 h2 orthogonal and of equal length gives two
    # linear equations in 1/f^2; least squares uses both (either may be degenerate on its own).
    coefficients = np.array([a1 * a2 + b1 * b2, a1 * a1 + b1 * b1 - a2 * a2 - b2 * b2])
    constants = np.array([c1 * c2, c1 * c1 - c2 * c2])
    inverse_square = -float(coefficients @ constants) / float(coefficients @ coefficients)
    if not np.isfinite(inverse_square) or inverse_square <= 0:
        return None, np.inf
    focal = inverse_square ** -0.5
    matrix = np.array([[focal, 0.0, centre[0]], [0.0, focal, centre[1]], [0.0, 0.0, 1.0]])
    flags = (cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT
             | cv2.CALIB_FIX_ASPECT_RATIO | cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_FIX_K1
             | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3)
    objects = [np.c_[world, np.zeros(len(world))].astype(np.float32)]
    rms, matrix, _, rvecs, tvecs = cv2.calibrateCamera(
        objects, [keypoints.astype(np.float32)], (width, height), matrix, np.zeros(5), flags=flags)
    rotation = cv2.Rodrigues(rvecs[0])[0]
    position = -rotation.T @ tvecs[0].ravel()
    return Camera(position, rotation, float(matrix[0, 0]), width, height), float(rms)


def _implausible(camera: Camera, rms: float, score: float) -> str:
    """Why a calibration cannot be a broadcast view of a court ('' when it can)."""
    x, y, z = camera.position
    if not CAMERA_HEIGHT[0] <= z <= CAMERA_HEIGHT[1]:
        return f"the fitted camera is {z:.1f} m above the ground"
    if y > -HALF_LENGTH or abs(x) > MAX_CAMERA_SIDE:
        return f"the fitted camera stands at ({x:.1f}, {y:.1f}) m, not behind a baseline"
    if rms > MAX_RMS:
        return f"the court lines reproject {rms:.1f} px off (at 1280 px wide)"
    if score < MIN_SCORE:
        return f"the court model fits the lines poorly (score {score:.2f})"
    return ""
