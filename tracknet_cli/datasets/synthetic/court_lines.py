"""Court lines in an image: the pixels on painted lines and the straight lines through them
(steps 1 and 2 of court_calibration.py, which fits the court model to them).

1. Line pixels (`line_pixels`): the crests of thin, bright, unsaturated, oriented stripes. A
   pixel is on a line when it is brighter by CONTRAST than both pixels `reach` px away on either
   side (horizontally or vertically) and a crest in that direction, has little colour, and its
   surroundings have one dominant direction: court lines are white stripes on a coloured court;
   wide bright areas fail the first test, coloured marks the second, crowds and lettering the
   third.
2. Candidate lines (`candidate_lines`): the strongest Hough lines of those pixels, near-duplicates dropped, split into
   lines "across" the view (near horizontal: baselines, service lines, the net tape) and "along" it
   (steep: sidelines, the centre line).
"""

from __future__ import annotations

import cv2
import numpy as np

# Pixel sizes are for a 1280-wide frame and scale with the width.
REFERENCE_WIDTH = 1280
REACH = 6.0  # px either side of a line pixel where the court must be darker (lines < 2 REACH wide)
CONTRAST = 18  # grey levels a line pixel is brighter than the court beside it
MAX_SATURATION = 110  # HSV saturation (0-255) above which a pixel is paint, not a white line
MIN_COHERENCE = 0.5  # structure-tensor coherence (0: no direction, 1: one) of a line's surroundings
CANDIDATES = 10  # Hough lines kept per direction
CLAIM = 2.0  # px: a candidate line takes the line pixels this close to it from weaker ones
SUPPORT = 1000  # candidate lines' pixels kept to measure how much of them a hypothesis explains
ACROSS_TILT, ALONG_TILT = np.radians(20), np.radians(30)  # across: flatter; along: steeper


def line_pixels(image: np.ndarray) -> np.ndarray:
    """uint8 mask (255 on line pixels) of the centres of thin, bright, unsaturated, oriented
    stripes in a BGR image: one or two pixels across a line, however wide it is drawn."""
    reach = max(1, int(round(REACH * image.shape[1] / REFERENCE_WIDTH)))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    # The ridge test runs on a slightly blurred copy, so a line's flat white top has one crest.
    smooth = cv2.GaussianBlur(grey, (0, 0), max(0.7, reach / 4)).astype(np.int16)
    grey = grey.astype(np.int16)
    stripes = []
    for axis in (1, 0):  # stripes crossed left to right (steep lines), then top to bottom
        darker = [np.roll(grey, shift, axis=axis) for shift in (reach, -reach)]
        brighter = (grey - darker[0] > CONTRAST) & (grey - darker[1] > CONTRAST)
        crest = ((smooth >= np.roll(smooth, 1, axis=axis))
                 & (smooth >= np.roll(smooth, -1, axis=axis)))
        stripes.append(brighter & crest)
    grey_ish = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1] < MAX_SATURATION
    mask = (stripes[0] | stripes[1]) & grey_ish & _oriented(grey, reach)
    mask[:reach], mask[-reach:], mask[:, :reach], mask[:, -reach:] = False, False, False, False
    return mask.astype(np.uint8) * 255


def _oriented(grey: np.ndarray, reach: int) -> np.ndarray:
    """Where the structure around a pixel has one direction (coherence of the structure tensor
    over about `reach` px above MIN_COHERENCE): a line, not a crowd, text or foliage."""
    grey = grey.astype(np.float32)
    dx, dy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    xx, yy, xy = (cv2.GaussianBlur(product, (0, 0), reach)
                  for product in (dx * dx, dy * dy, dx * dy))
    return np.sqrt((xx - yy) ** 2 + 4 * xy ** 2) > MIN_COHERENCE * (xx + yy + 1e-6)


def candidate_lines(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to CANDIDATES Hough lines (homogeneous a, b, c with a x + b y + c = 0, a^2 + b^2 = 1)
    across and along the view, strongest first, and the pixels (p, 2) they claim. Each line claims
    the line pixels within CLAIM px of it; a weaker line is kept only if enough pixels are left for
    it to claim, so a thick line is one candidate, not several at slightly different angles."""
    height, width = mask.shape
    reach = CLAIM * width / REFERENCE_WIDTH
    threshold = max(10, int(0.1 * min(width, height)))
    found = cv2.HoughLines(mask, 1, np.pi / 720, threshold)
    if found is None:
        return np.empty((0, 3)), np.empty((0, 3)), np.empty((0, 2))
    rho, theta = found[:, 0, 0].astype(np.float64), found[:, 0, 1].astype(np.float64)
    lines = np.stack([np.cos(theta), np.sin(theta), -rho], axis=1)
    tilt = np.abs(theta - np.pi / 2)  # angle of the line to the horizontal
    points = np.argwhere(mask > 0)[:, ::-1].astype(np.float64)
    groups, claimed = [], np.zeros(len(points), bool)
    for chosen in (tilt < ACROSS_TILT, tilt > ALONG_TILT):
        free = np.ones(len(points), bool)
        kept = []
        for line in lines[chosen]:
            close = np.abs(points @ line[:2] + line[2]) <= reach
            if np.count_nonzero(close & free) >= threshold / 2:
                kept.append(fit_line(points[close]))  # Hough's bins are coarse
                free &= ~close
                if len(kept) == CANDIDATES:
                    break
        groups.append(np.array(kept).reshape(-1, 3))
        claimed |= ~free
    support = points[claimed]
    return groups[0], groups[1], support[::max(1, len(support) // SUPPORT)]


def fit_line(points: np.ndarray) -> np.ndarray:
    """The homogeneous line (a, b, c), a^2 + b^2 = 1, through points (n, 2), robust to strays."""
    vx, vy, x0, y0 = cv2.fitLine(points.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return np.array([vy, -vx, vx * y0 - vy * x0], dtype=np.float64)
