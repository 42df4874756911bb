"""Gap fill: one line of varying width down the middle of each strip no loop reaches.

Shapely has no medial axis, so it is taken from a Voronoi diagram, the usual way:
the boundary of each gap is sampled every ``SAMPLE`` mm, and the Voronoi edges
lying wholly inside the gap are the ones between its two sides (edges between
neighbouring samples of one side cross the boundary). Their merged runs are the
centre lines; each stretch is as wide as twice its distance to the boundary, so
the line's plastic fills the strip (PrusaSlicer's gap fill, classic generator).
All gaps of all layers go through GEOS together.
"""

from __future__ import annotations

import numpy as np
import shapely

SAMPLE = 0.15  # mm between boundary samples
MIN_LENGTH = 0.8  # mm: shorter centre lines (a corner's crumb) are not printed
GRID = 1e-5  # mm
SIMPLIFY = 0.005  # mm
MAX_WIDTH = 1.0  # mm: a gap is narrower than a line and a half; clamp the rare outlier


def gap_fill_lines(gaps: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """Centre lines of every layer's gaps.

    gaps : (L,) geometries
    Returns the lines ((m, 2) points each), their layer ((G,) int) and the width of
    each of their stretches ((m - 1,) mm each).
    """
    parts, layer = shapely.get_parts(gaps, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    parts, layer = parts[keep], layer[keep]
    if len(parts) == 0:
        return [], np.zeros(0, np.int64), []
    edges = shapely.voronoi_polygons(shapely.segmentize(parts, SAMPLE), only_edges=True)
    segs, seg_part = shapely.get_parts(edges, return_index=True)
    shapely.prepare(parts)
    # Co-circular samples (the two sides of a straight strip) give zero-length edges,
    # which would cut the merged runs into pieces.
    inside = shapely.within(segs, parts[seg_part]) & (shapely.length(segs) > 1e-9)
    segs, seg_part = segs[inside], seg_part[inside]
    if len(segs) == 0:
        return [], np.zeros(0, np.int64), []
    present, dense = np.unique(seg_part, return_inverse=True)
    # The ends of neighbouring edges differ in the last bits (each Voronoi vertex is
    # computed on its own): snapped to a grid they meet, and merge. Merged runs are
    # simplified: a straight strip's edges come in many collinear pieces.
    snapped = shapely.set_precision(shapely.multilinestrings(segs, indices=dense), GRID)
    merged = shapely.simplify(shapely.line_merge(snapped), SIMPLIFY)
    lines, line_of = shapely.get_parts(merged, return_index=True)
    part_of = present[line_of]
    long = shapely.length(lines) >= MIN_LENGTH
    lines, part_of = lines[long], part_of[long]
    if len(lines) == 0:
        return [], np.zeros(0, np.int64), []
    coords, index = shapely.get_coordinates(lines, return_index=True)
    same = index[1:] == index[:-1]
    mid = 0.5 * (coords[1:] + coords[:-1])[same]
    mid_part = part_of[index[:-1][same]]
    width = 2.0 * shapely.distance(shapely.points(mid), shapely.boundary(parts)[mid_part])
    width = np.minimum(width, MAX_WIDTH)
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    points = np.split(coords, starts[1:])
    # Stretch j of line i is mid[j - i] (one fewer stretch than points per line).
    widths = np.split(width, (starts - np.arange(len(starts)))[1:])
    return points, layer[part_of], widths
