"""Small array tools on polylines shared by every stitch type."""

from __future__ import annotations

import numpy as np


def ragged_index(counts: np.ndarray) -> np.ndarray:
    """``[0..c0-1, 0..c1-1, …]`` for ``counts`` ``(k,)``: position inside each group."""
    counts = np.asarray(counts, dtype=int)
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts


def subdivide(points: np.ndarray, max_length: float) -> np.ndarray:
    """Insert evenly spaced points so no segment is longer than ``max_length``.

    Corners are kept (a running stitch must pass through them); each segment is
    cut into ``ceil(length / max_length)`` equal parts.
    points : (n, 2) float → (m, 2) float, same ends
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) < 2:
        return pts.copy()
    seg = np.diff(pts, axis=0)
    length = np.linalg.norm(seg, axis=1)
    parts = np.maximum(np.ceil(length / max_length - 1e-9), 1).astype(int)
    within = ragged_index(parts)
    which = np.repeat(np.arange(len(seg)), parts)
    t = within / parts[which]
    out = pts[which] + seg[which] * t[:, None]
    return np.vstack([out, pts[-1:]])


def resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` mm of arc length (last point kept), ignoring corners.

    points : (n, 2) float → (m, 2) float
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) < 2:
        return pts.copy()
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
    total = cum[-1]
    if total <= 0:
        return pts[:1].copy()
    n = max(int(np.ceil(total / step)), 1)
    s = np.linspace(0.0, total, n + 1)
    return np.column_stack([np.interp(s, cum, pts[:, 0]), np.interp(s, cum, pts[:, 1])])


def drop_repeats(points: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Remove consecutive duplicate points."""
    pts = np.asarray(points, dtype=float)
    if len(pts) < 2:
        return pts
    keep = np.r_[True, np.linalg.norm(np.diff(pts, axis=0), axis=1) > tolerance]
    return pts[keep]


def bean(points: np.ndarray) -> np.ndarray:
    """Each stitch sewn three times (forward, back, forward): ``p0 p1 p0 p1 p2 p1 p2 …``.

    A bold running line that still follows the path exactly.
    """
    pts = np.asarray(points, dtype=float)
    if len(pts) < 2:
        return pts.copy()
    i = np.arange(1, len(pts))
    order = np.column_stack([i, i - 1, i]).ravel()
    return np.vstack([pts[:1], pts[order]])


def satin_with_underlay(
    left: np.ndarray,
    right: np.ndarray,
    zigzag: np.ndarray,
    running_length: float,
    inset: float,
    contour_from: float = 3.0,
) -> np.ndarray:
    """A satin column's needle points with its underlay first.

    ``left``, ``right`` : (n, 2) the rails row by row; ``zigzag`` : (n, 2) the
    column from row 0. Narrow columns get a centre walk out and the zig-zag
    back over it; columns from ``contour_from`` mm wide a walk along both edges
    (``inset`` mm inside the rails), out along one and back along the other,
    which holds the sides of a wide satin, then the zig-zag out.
    """
    across = right - left
    width = np.linalg.norm(across, axis=1)
    if np.median(width) >= contour_from:
        unit = across / np.maximum(width, 1e-12)[:, None]
        step = np.minimum(inset, width / 2)[:, None]
        out = resample(left + unit * step, running_length)
        back = resample(right - unit * step, running_length)[::-1]
        return np.vstack([out, back, zigzag])
    walk = resample((left + right) / 2, running_length)
    return np.vstack([walk, zigzag[::-1]])


def short_stitches(
    left: np.ndarray, right: np.ndarray, min_gap: float, fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Rails with crowded needle points pulled in, every other one.

    Inside a sharp turn a rail's points fall on top of each other and the
    needle would hit one hole again and again (thread cut, fabric torn). Where
    a rail point is closer than ``min_gap`` to the previous one on the same
    rail, every other such point moves ``fraction`` of the way across the
    column, spreading the holes over two lines.
    """
    out = []
    for rail, other in ((left, right), (right, left)):
        gap = np.r_[np.inf, np.linalg.norm(np.diff(rail, axis=0), axis=1)]
        crowded = gap < min_gap
        # Count crowded points in each run so that alternate ones move.
        run_start = crowded & ~np.r_[False, crowded[:-1]]
        run_id = np.cumsum(run_start)
        position = np.arange(len(rail)) - np.maximum.accumulate(
            np.where(run_start, np.arange(len(rail)), 0)
        )
        move = crowded & (position % 2 == 0) & (run_id > 0)
        moved = rail.copy()
        moved[move] = rail[move] + (other[move] - rail[move]) * fraction
        out.append(moved)
    return out[0], out[1]
