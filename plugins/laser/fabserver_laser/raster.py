"""Raster engraving: scan lines over the filled area, both directions, with overscan.

All scan lines of a sheet are cut against the filled area in one shapely call;
the moves are then laid out with index arithmetic, no loop per line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

MIN_SEGMENT = 0.05
"""mm: shorter pieces of a scan line (grazing a vertex) are not worth firing."""


@dataclass(frozen=True)
class RasterMoves:
    """Moves of a raster, in order.

    points : (m, 2) float, millimetres — end of each move
    kind : (m,) int8 — 0 travel to the start of a line, 1 run-up or run-out at
    engraving speed with the beam off (overscan, and gaps inside a line), 2 beam on
    """

    points: np.ndarray
    kind: np.ndarray

    TRAVEL = 0
    OVERSCAN = 1
    ENGRAVE = 2


def scan_segments(area: shapely.Geometry, interval: float) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of horizontal scan lines inside ``area``.

    Lines sit at ``ymin + interval/2 + k·interval``. Returns ``y : (s,) float`` and
    ``x : (s, 2) float`` (start < end), sorted by line then x.
    """
    if area is None or area.is_empty:
        return np.zeros(0), np.zeros((0, 2))
    xmin, ymin, xmax, ymax = area.bounds
    count = int(np.floor((ymax - ymin) / interval))
    ys = ymin + interval / 2 + interval * np.arange(max(count, 1))
    ys = ys[ys < ymax]
    if ys.size == 0:
        return np.zeros(0), np.zeros((0, 2))
    coords = np.empty((len(ys), 2, 2))
    coords[:, 0, 0], coords[:, 1, 0] = xmin - 1.0, xmax + 1.0
    coords[:, :, 1] = ys[:, None]
    # Pair each scan line with the polygons its bounding box meets (STRtree), so
    # each intersection sees one polygon, not the whole multipolygon of the sheet.
    lines = shapely.linestrings(coords)
    polygons = shapely.get_parts(area)
    line_idx, poly_idx = shapely.STRtree(polygons).query(lines)
    pieces = shapely.intersection(lines[line_idx], polygons[poly_idx])
    parts, pair = shapely.get_parts(pieces, return_index=True)
    line = line_idx[pair]
    is_line = shapely.get_type_id(parts) == 1
    parts, line = parts[is_line], line[is_line]
    if parts.size == 0:
        return np.zeros(0), np.zeros((0, 2))
    xy, owner = shapely.get_coordinates(parts, return_index=True)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    x0 = np.minimum.reduceat(xy[:, 0], starts)
    x1 = np.maximum.reduceat(xy[:, 0], starts)
    seg_line = line[owner[starts]]  # scan line of each piece that has coordinates
    keep = x1 - x0 >= MIN_SEGMENT
    y, x = ys[seg_line[keep]], np.column_stack([x0[keep], x1[keep]])
    order = np.lexsort((x[:, 0], y))
    return y[order], x[order]


def raster_moves(
    y: np.ndarray, x: np.ndarray, overscan: float, x_limits: tuple[float, float]
) -> RasterMoves:
    """Boustrophedon moves over scan segments (from :func:`scan_segments`).

    Every other line runs right to left. Each line starts ``overscan`` before its
    first piece and ends ``overscan`` after its last (clamped to ``x_limits``, the
    bed), so the head is at speed when the beam fires.
    """
    s = len(y)
    if s == 0:
        return RasterMoves(np.zeros((0, 2)), np.zeros(0, dtype=np.int8))
    new_line = np.r_[True, y[1:] != y[:-1]]
    line_of = np.cumsum(new_line) - 1  # (s,) line number of each segment
    n_lines = int(line_of[-1]) + 1
    line_first = np.flatnonzero(new_line)
    line_last = np.r_[line_first[1:] - 1, s - 1]
    backwards = line_of % 2 == 1

    # Within a backward line, visit the segments from the right: reverse their order.
    order = np.arange(s)
    rev = backwards
    order[rev] = line_first[line_of[rev]] + line_last[line_of[rev]] - order[rev]
    y, x, seg_line = y[order], x[order], line_of[order]
    a = np.where(backwards, x[:, 1], x[:, 0])  # where the beam turns on
    b = np.where(backwards, x[:, 0], x[:, 1])  # where it turns off
    direction = np.where(backwards[line_first], -1.0, 1.0)  # per line

    total = 2 * s + 2 * n_lines
    pts = np.empty((total, 2))
    kind = np.empty(total, dtype=np.int8)
    seg_at = 2 * np.arange(s) + 2 * seg_line + 1
    pts[seg_at] = np.column_stack([a, y])
    kind[seg_at] = RasterMoves.OVERSCAN
    pts[seg_at + 1] = np.column_stack([b, y])
    kind[seg_at + 1] = RasterMoves.ENGRAVE
    lo, hi = x_limits
    line_y = y[line_first]
    start_at = 2 * line_first + 2 * np.arange(n_lines)
    first_a = a[line_first]
    pts[start_at] = np.column_stack([np.clip(first_a - direction * overscan, lo, hi), line_y])
    kind[start_at] = RasterMoves.TRAVEL
    end_at = 2 * (line_last + 1) + 2 * np.arange(n_lines) + 1
    last_b = b[line_last]
    pts[end_at] = np.column_stack([np.clip(last_b + direction * overscan, lo, hi), line_y])
    kind[end_at] = RasterMoves.OVERSCAN
    return RasterMoves(pts, kind)
