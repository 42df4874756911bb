"""Tatami fill: rows of stitches across a shape, staggered, with an underlay.

The shape is cut into rows (:mod:`.scanline`), the rows into regions that can
be sewn back and forth without a break (a ring gives four: above, left, right
and below the hole). Each region becomes one polyline; regions are visited
nearest first, and the thread travels from one to the next along the shape's
edge (or straight across inside it) with a running stitch the fill then covers,
so holes are never jumped across when the edge can be followed.

Needle points of a row lie on a grid fixed to the shape (not to the row's
start), shifted by a quarter stitch from one row to the next: the brick pattern
("tatami") that hides the needle holes and does not pull the fabric into lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .polyline import ragged_index, satin_with_underlay, subdivide
from .scanline import Rows, monotone_regions, polygon_rows, rotate


@dataclass(frozen=True)
class FillParams:
    spacing: float = 0.4  # mm between rows
    stitch_length: float = 3.0  # mm along a row
    stagger: int = 4  # rows before the needle pattern repeats
    pull_compensation: float = 0.2  # mm the shape grows before the top rows
    underlay: bool = True
    underlay_spacing_factor: float = 3.0
    underlay_inset: float = 0.5  # mm inside the shape
    running_length: float = 2.5  # travel stitches
    max_travel: float = 60.0  # mm along the edge before a jump is better


def region_polyline(
    rows: Rows,
    seg: np.ndarray,
    start_top: bool,
    start_right: bool,
    stitch_length: float,
    stagger: int,
) -> np.ndarray:
    """Back-and-forth needle points of one region's segments (indices ``seg``, by row)."""
    seg = seg[::-1] if start_top else seg
    x0, x1 = rows.x0[seg], rows.x1[seg]
    y = rows.y[seg]
    k = len(seg)
    reverse = (np.arange(k) % 2 == 0) == start_right
    phase = (rows.row[seg] % stagger) / stagger * stitch_length
    gap = 0.3 * stitch_length
    jlo = np.ceil((x0 + gap - phase) / stitch_length)
    jhi = np.floor((x1 - gap - phase) / stitch_length)
    inner = np.maximum(jhi - jlo + 1, 0).astype(int)
    counts = inner + 2
    pos = ragged_index(counts)
    which = np.repeat(np.arange(k), counts)
    c = counts[which]
    # Reversed rows read their points from the far end.
    p = np.where(reverse[which], c - 1 - pos, pos)
    x = phase[which] + (jlo[which] + p - 1) * stitch_length
    x = np.where(p == 0, x0[which], np.where(p == c - 1, x1[which], x))
    turned = np.column_stack([x, y[which]])
    return rows.to_drawing(turned)


def _region_ends(rows: Rows, seg: np.ndarray) -> np.ndarray:
    """Four possible entry points (bottom-left, bottom-right, top-left, top-right), (4, 2)."""
    lo, hi = seg[0], seg[-1]
    turned = np.array(
        [
            [rows.x0[lo], rows.y[lo]],
            [rows.x1[lo], rows.y[lo]],
            [rows.x0[hi], rows.y[hi]],
            [rows.x1[hi], rows.y[hi]],
        ]
    )
    return rows.to_drawing(turned)


def rows_to_polylines(
    rows: Rows, start: np.ndarray, stitch_length: float, stagger: int
) -> list[np.ndarray]:
    """Every region sewn as one polyline, nearest region first from ``start``."""
    if len(rows) == 0:
        return []
    region = monotone_regions(rows)
    order = np.argsort(region, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(region[order]) != 0, True])
    segments = [order[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    ends = np.array([_region_ends(rows, s) for s in segments])  # (r, 4, 2)
    todo = np.ones(len(segments), dtype=bool)
    here = np.asarray(start, dtype=float)
    out = []
    for _ in range(len(segments)):
        d = np.linalg.norm(ends - here, axis=2)
        d[~todo] = np.inf
        r, corner = np.unravel_index(np.argmin(d), d.shape)
        todo[r] = False
        poly = region_polyline(
            rows, segments[r], corner >= 2, corner % 2 == 1, stitch_length, stagger
        )
        out.append(poly)
        here = poly[-1]
    return out


class TravelArea:
    """Where a travel stitch may run inside one shape (prepared once per shape)."""

    def __init__(self, shape: shapely.Geometry):
        self.inside = shape.buffer(0.05)
        shapely.prepare(self.inside)
        self.rings = shapely.get_rings(shapely.get_parts(shape))

    def path(
        self, p: np.ndarray, q: np.ndarray, step: float, max_length: float
    ) -> np.ndarray | None:
        """Running-stitch points from ``p`` to ``q`` that stay on or inside the shape.

        Straight when the segment is inside, else along the nearer way round the
        ring both points lie on; ``None`` when neither works (the caller jumps).
        """
        p, q = np.asarray(p, float), np.asarray(q, float)
        if shapely.covers(self.inside, shapely.LineString([p, q])):
            return subdivide(np.array([p, q]), step)
        if len(self.rings) == 0:
            return None
        dp = shapely.distance(self.rings, shapely.Point(p))
        dq = shapely.distance(self.rings, shapely.Point(q))
        i, j = int(np.argmin(dp)), int(np.argmin(dq))
        if i != j or dp[i] > 1.0 or dq[j] > 1.0:
            return None
        ring = self.rings[i]
        total = ring.length
        sp, sq = ring.project(shapely.Point(p)), ring.project(shapely.Point(q))
        forward = (sq - sp) % total
        backward = total - forward
        along = min(forward, backward)
        if along > max_length:
            return None
        n = max(int(np.ceil(along / step)), 1)
        t = np.linspace(0.0, along, n + 1)
        s = (sp + t) % total if forward <= backward else (sp - t) % total
        on_ring = shapely.get_coordinates(shapely.line_interpolate_point(ring, s))
        return np.vstack([p, on_ring, q])


def fill_polylines(
    shape: shapely.Polygon | shapely.MultiPolygon,
    angle: float,
    params: FillParams,
    start: np.ndarray,
) -> list[np.ndarray]:
    """Underlay then top rows of one filled shape: polylines to sew in order.

    Consecutive polylines that the edge could not link are separate (the
    sequencer jumps between them).
    """
    passes: list[tuple[Rows, float]] = []
    if params.underlay:
        inner = shape.buffer(-params.underlay_inset)
        if not inner.is_empty and inner.area > 4 * params.stitch_length**2:
            spacing = params.spacing * params.underlay_spacing_factor
            passes.append((polygon_rows(inner, angle + np.pi / 2, spacing), params.stitch_length))
    top = shape.buffer(params.pull_compensation) if params.pull_compensation > 0 else shape
    passes.append((polygon_rows(top, angle, params.spacing), params.stitch_length))
    travel = TravelArea(top)
    out: list[np.ndarray] = []
    here = np.asarray(start, dtype=float)
    for rows, length in passes:
        for poly in rows_to_polylines(rows, here, length, params.stagger):
            if out:
                link = travel.path(out[-1][-1], poly[0], params.running_length, params.max_travel)
                if link is not None:
                    out[-1] = np.vstack([out[-1], link[1:-1], poly])
                    here = poly[-1]
                    continue
            out.append(poly)
            here = poly[-1]
    return out


def shape_angle(shape: shapely.Geometry) -> float:
    """Direction of the shape's longest side of its minimum rotated rectangle (radians).

    Rows along the long side are fewer and longer: fewer turns, a calmer sheen.
    """
    rect = shapely.minimum_rotated_rectangle(shape)
    pts = shapely.get_coordinates(rect)[:4]
    if len(pts) < 4:
        return 0.0
    e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
    edge = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    return float(np.arctan2(edge[1], edge[0]) % np.pi)


def column_satin(
    shape: shapely.Polygon, params: FillParams, satin_spacing: float, start: np.ndarray
) -> np.ndarray | None:
    """A narrow bar sewn as a satin column: one stitch across per row, alternating sides.

    Rows run across the bar (perpendicular to its long side), ``satin_spacing``
    mm apart with penetrations alternating sides, so each side gets a needle
    point every ``2 × satin_spacing``, underlay first (see
    :func:`.polyline.satin_with_underlay`).
    Returns ``None`` when a row crosses the shape twice (not a simple column).
    """
    angle = shape_angle(shape) + np.pi / 2
    grown = shape.buffer(params.pull_compensation) if params.pull_compensation > 0 else shape
    rows = polygon_rows(grown, angle, satin_spacing)
    if len(rows) < 2 or len(np.unique(rows.row)) != len(rows):
        return None
    k = np.arange(len(rows))
    left = rows.to_drawing(np.column_stack([rows.x0, rows.y]))
    right = rows.to_drawing(np.column_stack([rows.x1, rows.y]))
    zigzag = np.where((k % 2 == 0)[:, None], left, right)
    if np.linalg.norm(zigzag[-1] - start) < np.linalg.norm(zigzag[0] - start):
        zigzag, left, right = zigzag[::-1], left[::-1], right[::-1]
    if not params.underlay:
        return zigzag
    inset = params.pull_compensation + 0.4
    return satin_with_underlay(left, right, zigzag, params.running_length, inset)


__all__ = ["FillParams", "TravelArea", "column_satin", "fill_polylines", "rotate", "shape_angle"]
