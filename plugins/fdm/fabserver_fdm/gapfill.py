"""Gap fill: one line of varying width down the middle of each strip no loop reaches.

Shapely has no medial axis, so it is taken from a Voronoi diagram, the usual way:
the boundary of each gap is sampled every ``SAMPLE`` mm, and the Voronoi edges
lying wholly inside the gap are the ones between its two sides (edges between
neighbouring samples of one side cross the boundary). Their merged runs are the
centre lines; each stretch is as wide as twice its distance to the boundary, so
the line's plastic fills the strip (PrusaSlicer's gap fill, classic generator).
The diagram of all gaps of all layers is one Qhull run (scipy): GEOS's Voronoi,
one per gap, took ten times longer on 3DBenchy.
"""

from __future__ import annotations

import itertools

import numpy as np
import shapely
from scipy.spatial import Voronoi

from .geos import _get_pool

SAMPLE = 0.2  # mm between boundary samples
MIN_LENGTH = 0.8  # mm: shorter centre lines (a corner's crumb) are not printed
SIMPLIFY = 0.005  # mm
GROUP_POINTS = 8000  # boundary samples per Qhull run
MAX_WIDTH = 1.0  # mm: a gap is narrower than a line and a half; clamp the rare outlier


def gap_fill_lines(gaps: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """Centre lines of every layer's gaps.

    gaps : (L,) geometries
    Returns the lines ((m, 2) points each), their layer ((G,) int) and the width of
    each of their stretches ((m - 1,) mm each).
    """
    parts, layer = shapely.get_parts(gaps, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) >= MIN_LENGTH * SAMPLE / 2)
    parts, layer = parts[keep], layer[keep]
    if len(parts) == 0:
        return [], np.zeros(0, np.int64), []
    segs, seg_part = _voronoi_edges(parts)
    shapely.prepare(parts)
    inside = shapely.within(segs, parts[seg_part])
    segs, seg_part = segs[inside], seg_part[inside]
    if len(segs) == 0:
        return [], np.zeros(0, np.int64), []
    present, dense = np.unique(seg_part, return_inverse=True)
    # Merged runs are simplified: a straight strip's edges come in many collinear pieces.
    merged = shapely.line_merge(shapely.multilinestrings(segs, indices=dense))
    merged = shapely.simplify(merged, SIMPLIFY)
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


def _voronoi_edges(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite Voronoi edges between boundary samples of one part: segments and their part.

    Qhull (scipy) over the samples of many parts at a time, each part moved to a
    cell of its own so that no two interact; edges are kept when both samples
    that make them belong to the same part. Neighbouring edges share their
    Voronoi vertex exactly, so the runs merge without snapping. The parts are
    cut into groups of about ``GROUP_POINTS`` samples run on the GEOS pool's
    threads (Qhull releases Python's lock). Sorted by part.
    """
    rings, ring_part = shapely.get_rings(shapely.segmentize(parts, SAMPLE), return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    last = np.append(ring_of[1:] != ring_of[:-1], True)  # the closing repeat of the first
    coords, part = coords[~last], ring_part[ring_of[~last]]
    # Parts side by side on a square grid of cells (a long row makes Qhull slow).
    bounds = shapely.bounds(parts)
    cell = (bounds[:, 2:] - bounds[:, :2]).max(axis=0) + 10.0
    cols = int(np.ceil(np.sqrt(len(parts))))
    at = np.column_stack([np.arange(len(parts)) % cols, np.arange(len(parts)) // cols])
    shift = at * cell - bounds[:, :2]
    points = coords + shift[part]
    # Groups of whole parts (samples come part by part).
    cuts = np.searchsorted(
        part, np.unique(part)[:: max(1, len(parts) // max(1, len(part) // GROUP_POINTS))]
    )
    bounds_idx = np.append(cuts, len(part))
    jobs = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds_idx) if hi - lo >= 4]

    def edges(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        vor = Voronoi(points[lo:hi])
        ridge = np.asarray(vor.ridge_vertices)
        pair = vor.ridge_points + lo
        ok = (ridge >= 0).all(axis=1) & (part[pair[:, 0]] == part[pair[:, 1]])
        return vor.vertices[ridge[ok]], part[pair[ok, 0]]

    pool = _get_pool()
    results = (
        [f.result() for f in [pool.submit(edges, lo, hi) for lo, hi in jobs]]
        if pool is not None and len(jobs) > 1
        else [edges(lo, hi) for lo, hi in jobs]
    )
    if not results:
        return np.zeros(0, dtype=object), np.zeros(0, np.int64)
    ends = np.concatenate([r[0] for r in results]).reshape(-1, 2, 2)  # (e, 2, 2)
    owner = np.concatenate([r[1] for r in results])
    ends -= shift[owner][:, None, :]
    long = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1) > 1e-9
    order = np.argsort(owner[long], kind="stable")
    ends, owner = ends[long][order], owner[long][order]
    segs = shapely.linestrings(ends.reshape(-1, 2), indices=np.repeat(np.arange(len(ends)), 2))
    return segs, owner
