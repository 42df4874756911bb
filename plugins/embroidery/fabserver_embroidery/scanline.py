"""Rows across a polygon: the shared first step of fills and column satins.

The polygon is turned so that rows are horizontal, then every edge of every
ring is intersected with every row it crosses in one array computation (an
edge's rows are a contiguous range found with ``searchsorted``). Sorting the
crossings by row then x pairs them into inside segments (even-odd, which is
exact for a valid shapely polygon).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class Rows:
    """Inside segments of a polygon along parallel rows, in the turned frame.

    row : (m,) int — index of the row (0 at the lowest)
    x0, x1 : (m,) float — ends of each segment, x0 < x1, millimetres
    y : (m,) float — the row's height in the turned frame
    angle : radians — rows run along this direction in the drawing frame
    """

    row: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    y: np.ndarray
    angle: float

    def __len__(self) -> int:
        return len(self.row)

    def to_drawing(self, points: np.ndarray) -> np.ndarray:
        """Turned-frame ``(n, 2)`` points back to the drawing frame."""
        return rotate(points, self.angle)


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """``(n, 2)`` points turned by ``angle`` radians about the origin."""
    c, s = np.cos(angle), np.sin(angle)
    return np.asarray(points, dtype=float) @ np.array([[c, s], [-s, c]])


def polygon_rows(
    polygon: shapely.Polygon | shapely.MultiPolygon, angle: float, spacing: float
) -> Rows:
    """Segments of ``polygon`` along rows at ``angle`` (radians), ``spacing`` mm apart."""
    empty = Rows(np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0), angle)
    if polygon.is_empty:
        return empty
    rings = shapely.get_rings(shapely.get_parts(polygon))
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    turned = rotate(coords, -angle)
    same_ring = ring_index[1:] == ring_index[:-1]
    a, b = turned[:-1][same_ring], turned[1:][same_ring]
    ymin = np.minimum(a[:, 1], b[:, 1])
    ymax = np.maximum(a[:, 1], b[:, 1])
    low, high = turned[:, 1].min(), turned[:, 1].max()
    n_rows = int(np.floor((high - low) / spacing))
    if n_rows < 1:
        # Thinner than one row: a single row through the middle.
        ys = np.array([(low + high) / 2])
    else:
        # Rows centred in the shape's height, so the margins top and bottom match.
        ys = low + (high - low - (n_rows - 1) * spacing) / 2 + spacing * np.arange(n_rows)
    # Half-open [ymin, ymax) so a row through a vertex counts it once.
    first = np.searchsorted(ys, ymin, side="left")
    last = np.searchsorted(ys, ymax, side="left")
    counts = last - first
    keep = counts > 0
    if not keep.any():
        return empty
    edge = np.repeat(np.flatnonzero(keep), counts[keep])
    offsets = np.arange(edge.size) - np.repeat(np.cumsum(counts[keep]) - counts[keep], counts[keep])
    row = first[edge] + offsets
    y = ys[row]
    ea, eb = a[edge], b[edge]
    x = ea[:, 0] + (y - ea[:, 1]) * (eb[:, 0] - ea[:, 0]) / (eb[:, 1] - ea[:, 1])
    order = np.lexsort((x, row))
    row, x = row[order], x[order]
    if len(row) % 2:
        # Degenerate input (should not happen for a valid polygon): drop odd rows.
        counts_per_row = np.bincount(row)
        good = counts_per_row[row] % 2 == 0
        row, x = row[good], x[good]
    pairs_row = row[0::2]
    x0, x1 = x[0::2], x[1::2]
    return Rows(pairs_row, x0, x1, ys[pairs_row], angle)


def monotone_regions(rows: Rows) -> np.ndarray:
    """Split row segments into regions sewn back and forth without a break.

    A segment continues the region of the segment below it when each overlaps
    only the other (one-to-one), as in a boustrophedon decomposition; a fork or
    a join (a hole, a concavity) starts new regions.

    returns (m,) int — region index per segment, numbered in order of their first row
    """
    m = len(rows)
    region = np.full(m, -1, dtype=int)
    if m == 0:
        return region
    starts = np.flatnonzero(np.r_[True, np.diff(rows.row) != 0])
    ends = np.r_[starts[1:], m]
    next_region = 0
    prev = None
    for s, e in zip(starts, ends, strict=True):
        cur = np.arange(s, e)
        if prev is not None and rows.row[s] == rows.row[prev[0]] + 1:
            overlap = (rows.x0[cur][:, None] < rows.x1[prev][None, :]) & (
                rows.x0[prev][None, :] < rows.x1[cur][:, None]
            )
            per_cur = overlap.sum(axis=1)
            per_prev = overlap.sum(axis=0)
            for i, seg in enumerate(cur):
                if per_cur[i] == 1:
                    j = int(np.argmax(overlap[i]))
                    if per_prev[j] == 1:
                        region[seg] = region[prev[j]]
                        continue
                region[seg] = next_region
                next_region += 1
        else:
            region[cur] = np.arange(next_region, next_region + len(cur))
            next_region += len(cur)
        prev = cur
    return region
