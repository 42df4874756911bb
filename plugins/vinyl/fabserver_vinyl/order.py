"""Cut order: inside before outside, short travels, the roll fed one way.

A path enclosed by another is cut first: once its outline is cut a piece of
vinyl may shift, and its inside would then come out wrong. A path with its
enclosed paths forms a *group* (a letter with its counters). Groups are cut in
bands along the roll, sweeping across the roll one way then back: the roll
moves forward band after band and only backs up within a band, since backing a
long roll up skews it. Within a group, paths go deepest first, each one the
nearest to where the previous one ended, started at its nearest point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from fabserver.designs import DrawingPath


@dataclass(frozen=True)
class Piece:
    """One path to cut and what decides its turn.

    ``batch`` orders pieces first (e.g. a row of copies, then its weeding
    aids); ``group`` gathers a path with those it encloses; ``depth`` is how
    many closed paths of the design enclose it.
    """

    points: np.ndarray  # (n, 2) float, millimetres, plotter frame
    closed: bool
    batch: int
    group: int
    depth: int = 0
    role: str = "cut"


def nesting(paths: Sequence[DrawingPath]) -> tuple[np.ndarray, np.ndarray]:
    """How paths enclose each other.

    Returns ``depth`` (n,) int — how many closed paths enclose each path — and
    ``outermost`` (n,) int — the index of the largest closed path enclosing it
    (itself when none does). Identical closed paths count the later one as inside.
    """
    n = len(paths)
    geoms = np.array(
        [
            shapely.Polygon(p.points)
            if p.closed and len(p.points) >= 3
            else shapely.LineString(p.points)
            for p in paths
        ],
        dtype=object,
    )
    geoms = shapely.make_valid(geoms)
    area = shapely.area(geoms)
    closed = np.flatnonzero([p.closed and len(p.points) >= 3 for p in paths])
    depth = np.zeros(n, dtype=int)
    outermost = np.arange(n)
    if closed.size == 0:
        return depth, outermost
    tree = shapely.STRtree(geoms[closed])
    inner, container = tree.query(geoms, predicate="within")
    container = closed[container]
    keep = (area[inner] < area[container]) | (
        (area[inner] == area[container]) & (inner > container)
    )
    inner, container = inner[keep], container[keep]
    depth += np.bincount(inner, minlength=n)
    # For each enclosed path, the container of largest area is its outermost one.
    by = np.lexsort((area[container], inner))
    inner, container = inner[by], container[by]
    last = np.concatenate([inner[1:] != inner[:-1], [True]]) if inner.size else inner.astype(bool)
    outermost[inner[last]] = container[last]
    return depth, outermost


def cut_sequence(
    pieces: Sequence[Piece], feed_axis: int, band: float, start: np.ndarray
) -> list[Piece]:
    """Pieces in cutting order, each started where the previous one left the tool.

    Closed paths are rotated to start at their vertex nearest the tool, open
    ones reversed when their far end is nearer.
    """
    if not pieces:
        return []
    across = 1 - feed_axis
    lows = np.array([p.points[:, feed_axis].min() for p in pieces])
    centres = np.array([p.points[:, across].mean() for p in pieces])
    batch = np.array([p.batch for p in pieces])
    group = np.array([p.group for p in pieces])
    depth = np.array([p.depth for p in pieces])

    # Group figures: where it starts along the roll and its middle across it.
    _, group_ix = np.unique(group, return_inverse=True)
    group_low = np.full(group_ix.max() + 1, np.inf)
    np.minimum.at(group_low, group_ix, lows)
    group_mid = np.bincount(group_ix, weights=centres) / np.bincount(group_ix)
    batch_low = {b: lows[batch == b].min() for b in np.unique(batch)}
    first = np.array([batch_low[b] for b in batch])
    group_band = np.floor((group_low[group_ix] - first) / band).astype(int)
    sweep = np.where(group_band % 2 == 0, 1.0, -1.0) * group_mid[group_ix]
    path_band = np.floor((lows - first) / band).astype(int)
    keys = (path_band, -depth, group_ix, sweep, group_band, batch)
    order = np.lexsort(keys)

    # Runs of equal keys are free to reorder: nearest neighbour from the tool.
    sorted_keys = np.column_stack([k[order] for k in reversed(keys)])
    breaks = np.flatnonzero(np.any(np.diff(sorted_keys, axis=0) != 0, axis=1)) + 1
    position = np.asarray(start, dtype=float)
    result: list[Piece] = []
    for run in np.split(order, breaks):
        remaining = list(run)
        while remaining:
            best, points = _nearest(pieces, remaining, position)
            remaining.remove(best)
            piece = pieces[best]
            result.append(
                Piece(points, piece.closed, piece.batch, piece.group, piece.depth, piece.role)
            )
            position = points[0] if piece.closed else points[-1]
    return result


def _nearest(
    pieces: Sequence[Piece], candidates: list[int], position: np.ndarray
) -> tuple[int, np.ndarray]:
    """The candidate that starts nearest ``position``, its points arranged to start there."""
    best, best_distance, best_vertex = candidates[0], np.inf, 0
    for i in candidates:
        pts = pieces[i].points
        ends = pts if pieces[i].closed else pts[[0, -1]]
        d = np.einsum("ij,ij->i", ends - position, ends - position)
        k = int(np.argmin(d))
        if d[k] < best_distance:
            best, best_distance, best_vertex = i, d[k], k
    pts = pieces[best].points
    if pieces[best].closed:
        return best, np.roll(pts, -best_vertex, axis=0)
    return best, pts[::-1] if best_vertex == 1 else pts
