"""Stitches along a stroke: running stitch for thin lines, satin for wide ones."""

from __future__ import annotations

import numpy as np

from .polyline import bean, drop_repeats, satin_with_underlay, short_stitches, subdivide


def orient(points: np.ndarray, closed: bool, start: np.ndarray) -> np.ndarray:
    """The path's points starting at the end (open) or vertex (closed) nearest ``start``.

    A closed path comes back to its first point.
    """
    pts = drop_repeats(points)
    if closed:
        i = int(np.argmin(np.linalg.norm(pts - start, axis=1)))
        pts = np.roll(pts, -i, axis=0)
        return np.vstack([pts, pts[:1]])
    if np.linalg.norm(pts[-1] - start) < np.linalg.norm(pts[0] - start):
        return pts[::-1]
    return pts


def running_stitch(
    points: np.ndarray, closed: bool, length: float, triple: bool, start: np.ndarray
) -> np.ndarray:
    """Needle points along the path, no stitch longer than ``length`` (corners kept).

    ``triple`` sews every stitch three times (bean stitch) for a bolder line.
    """
    pts = subdivide(orient(points, closed, start), length)
    return bean(pts) if triple else pts


def _arc_points(points: np.ndarray, s: np.ndarray, closed: bool) -> np.ndarray:
    """Points at arc lengths ``s`` along a polyline (wrapping when ``closed``)."""
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]
    s = np.mod(s, cum[-1]) if closed else np.clip(s, 0.0, cum[-1])
    return np.column_stack([np.interp(s, cum, points[:, 0]), np.interp(s, cum, points[:, 1])])


def stroke_satin(
    points: np.ndarray,
    closed: bool,
    width: float,
    spacing: float,
    pull_compensation: float,
    underlay: bool,
    running_length: float,
    start: np.ndarray,
    contour_underlay_from: float = 3.0,
    underlay_inset: float = 0.4,
) -> np.ndarray:
    """A satin column of ``width`` mm centred on the path.

    Penetrations alternate between the two rails; each rail gets one every
    ``spacing`` mm (the zig-zag's peak-to-peak spacing). Rails are the centre
    line moved along its normal; the normal is taken over a stretch of the
    path as long as the column is wide, so at a corner the stitches fan round
    it instead of leaving a notch outside and a knot inside.

    Underlay, when asked: a centre walk for narrow columns; for columns from
    ``contour_underlay_from`` mm, a walk along both edges (inset), which holds
    the sides of a wide satin. Either way the zig-zag then comes back over it.
    """
    path = orient(points, closed, start)
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    total = cum[-1]
    if total <= 0:
        return path[:1]
    n = max(int(np.ceil(total / (spacing / 2))), 1)
    s = np.linspace(0.0, total, n + 1)
    centre = _arc_points(path, s, closed)
    reach = max(width / 2, spacing)
    tangent = _arc_points(path, s + reach, closed) - _arc_points(path, s - reach, closed)
    norm = np.linalg.norm(tangent, axis=1, keepdims=True)
    tangent = tangent / np.where(norm > 0, norm, 1.0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    half = width / 2 + pull_compensation
    side = np.where(np.arange(len(centre)) % 2 == 0, 1.0, -1.0)
    left, right = short_stitches(centre + normal * half, centre - normal * half, spacing / 4)
    zigzag = np.where((side > 0)[:, None], left, right)
    if not underlay:
        return zigzag
    return satin_with_underlay(
        left,
        right,
        zigzag,
        running_length,
        pull_compensation + underlay_inset,
        contour_underlay_from,
    )
