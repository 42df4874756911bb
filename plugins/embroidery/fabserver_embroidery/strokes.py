"""Stitches along a stroke: running stitch for thin lines, satin for wide ones."""

from __future__ import annotations

import numpy as np

from .polyline import bean, drop_repeats, resample, subdivide


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


def stroke_satin(
    points: np.ndarray,
    closed: bool,
    width: float,
    spacing: float,
    pull_compensation: float,
    underlay: bool,
    running_length: float,
    start: np.ndarray,
) -> np.ndarray:
    """A satin column of ``width`` mm centred on the path.

    Penetrations alternate between the two rails; each rail gets one every
    ``spacing`` mm (the zig-zag's peak-to-peak spacing). Rails are the centre
    line moved along its normal, so a curve keeps a constant width. With
    ``underlay`` a centre walk goes first and the zig-zag comes back over it.
    """
    centre = resample(orient(points, closed, start), spacing / 2)
    if len(centre) < 2:
        return centre
    if closed:
        ahead = np.roll(centre[:-1], -1, axis=0)
        behind = np.roll(centre[:-1], 1, axis=0)
        tangent = ahead - behind
        tangent = np.vstack([tangent, tangent[:1]])
    else:
        tangent = np.gradient(centre, axis=0)
    norm = np.linalg.norm(tangent, axis=1, keepdims=True)
    tangent = tangent / np.where(norm > 0, norm, 1.0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    half = width / 2 + pull_compensation
    side = np.where(np.arange(len(centre)) % 2 == 0, 1.0, -1.0)
    zigzag = centre + normal * (half * side)[:, None]
    if not underlay:
        return zigzag
    walk = resample(centre, running_length)
    return np.vstack([walk, zigzag[::-1]])
