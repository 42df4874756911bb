"""Gap fill: one line of varying width down the middle of each strip no loop reaches.

Shapely has no medial axis, so it is taken from a Voronoi diagram, the usual way:
the boundary of each gap is sampled every ``SAMPLE`` mm, and the Voronoi edges
lying wholly inside the gap are the ones between its two sides (edges between
neighbouring samples of one side cross the boundary). Their merged runs are the
centre lines; each stretch is as wide as twice its distance to the boundary, so
the line's plastic fills the strip (PrusaSlicer's gap fill, classic generator).
The diagrams of all gaps of all layers are read off GEOS's Delaunay
triangulation, in groups of whole gaps (GEOS's own Voronoi, one per gap, took
ten times longer on 3DBenchy; scipy's Qhull, used before, gave the same lines
but 3 of 1206 on 3DBenchy, where near-cocircular samples are triangulated the
other way, and cost 0.3 s and 40 MiB to import).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import Future

import numpy as np
import shapely

from fabserver.designs.indexed import connected_components, sorted_unique

from .geos import _get_pool, elementwise

SAMPLE = 0.2  # mm between boundary samples
MIN_LENGTH = 0.8  # mm: shorter centre lines (a corner's crumb) are not printed
SIMPLIFY = 0.005  # mm
GROUP_POINTS = 1000  # boundary samples per triangulation (bigger groups cost more per sample)
VERTEX_MERGE = 1e-9  # mm: Voronoi vertices closer than this are one (rounding)
SEGMENT_SLICE = 16384  # candidate edges made into GEOS segments at a time
PIECES = 4  # runs of layers handed on as soon as each is done
MAX_WIDTH = 1.0  # mm: a gap is narrower than a line and a half; clamp the rare outlier
CLEAR_MARGIN = 1e-6  # mm off an edge's clearance: far above the rounding of the centres


GapFill = tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]  # lines, layer, widths
GapPiece = tuple[int, list[np.ndarray], np.ndarray, list[np.ndarray]]  # layers done, lines…


def gap_fill_lines(gaps: np.ndarray) -> GapFill:
    """Centre lines of every layer's gaps.

    gaps : (L,) geometries
    Returns the lines ((m, 2) points each), their layer ((G,) int) and the width of
    each of their stretches ((m - 1,) mm each).
    """
    lines: list[np.ndarray] = []
    layers: list[np.ndarray] = [np.zeros(0, np.int64)]
    widths: list[np.ndarray] = []
    for _, piece_lines, piece_layer, piece_widths in gap_fill_pieces(gaps):
        lines += piece_lines
        layers.append(piece_layer)
        widths += piece_widths
    return lines, np.concatenate(layers), widths


def gap_fill_pieces(gaps: np.ndarray, pieces: int = PIECES) -> Iterator[GapPiece]:
    """:func:`gap_fill_lines` in about ``pieces`` runs of layers, lowest first.

    Yields ``(done, lines, layer, widths)``: the lines of one run, and the number
    of layers whose lines are all out by then (every layer below ``done``). The
    runs together are :func:`gap_fill_lines`'s result, line for line: each part
    is triangulated in the same group, at the same place, whatever the runs, so
    the path planner can lay the lowest layers while the others are worked out.
    """
    parts, layer = shapely.get_parts(gaps, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) >= MIN_LENGTH * SAMPLE / 2)
    parts, layer = parts[keep], layer[keep]
    if len(parts) == 0:
        yield len(gaps), [], np.zeros(0, np.int64), []
        return
    shapely.prepare(parts)
    samples = _Samples(parts)
    # Runs of whole triangulation groups, of about as many samples each.
    size = np.cumsum([hi - lo for lo, hi in samples.jobs])
    runs = [np.zeros(0, np.int64)]
    if len(size):
        cuts = np.searchsorted(size, size[-1] * np.arange(1, pieces) / pieces, side="right")
        runs = [r for r in np.split(np.arange(len(size)), sorted_unique(cuts)) if len(r)]
    # With a pool, the next run is triangulated on it while this process works out
    # the centre lines of this one (mostly its own GEOS calls, made on this thread so
    # that they do not queue behind the triangulations): both cores stay busy.
    ahead = _get_pool() is not None
    jobs = [[samples.jobs[j] for j in run] for run in runs]
    pending = samples.start(jobs[0])
    for i in range(len(runs)):
        ends, seg_part, clear = samples.finish(pending)
        if i + 1 < len(runs):
            pending = samples.start(jobs[i + 1])  # without a pool, made when asked for
        lines, part_of, widths = _centre_lines(parts, ends, seg_part, clear, parallel=not ahead)
        if i + 1 < len(runs):
            done = int(layer[samples.part[samples.jobs[runs[i + 1][0]][0]]])
        else:
            done = len(gaps)
        yield done, lines, layer[part_of], widths


def _centre_lines(
    parts: np.ndarray,
    ends: np.ndarray,
    seg_part: np.ndarray,
    clear: np.ndarray | None = None,
    parallel: bool = True,
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """The centre lines made of the Voronoi edges ``ends`` of ``parts[seg_part]``.

    Returns the lines ((m, 2) points), the part of each and its stretches' widths.
    Each part's lines depend on its own edges only. ``clear``: how long an edge may
    be and still lie where no boundary is (:meth:`_Samples.finish`). ``parallel``:
    the element-wise GEOS calls are spread over the pool (else made on this thread).
    """
    each = elementwise if parallel else _here
    none = ([], np.zeros(0, np.int64), [])
    # An edge lies inside its gap only if both its ends do: that cheap test
    # (bounds, then points) leaves the exact one a fraction of the edges.
    box = shapely.bounds(parts)[seg_part]
    near = ((ends >= box[:, None, :2]) & (ends <= box[:, None, 2:])).all(axis=(1, 2))
    ends, seg_part = ends[near], seg_part[near]
    clear = np.zeros(len(ends)) if clear is None else clear[near]
    near = shapely.intersects_xy(parts[seg_part], ends[:, 0, 0], ends[:, 0, 1])
    # An edge shorter than its clearance crosses no boundary: with its first end in
    # the gap, it lies within (nearly all of them do). The others are asked of GEOS.
    step = ends[:, 1] - ends[:, 0]
    sure = near & (np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1]) < clear)
    ask = near & ~sure
    ask[ask] = shapely.intersects_xy(parts[seg_part[ask]], ends[ask, 1, 0], ends[ask, 1, 1])
    keep = sure | ask
    ends, seg_part, sure = ends[keep], seg_part[keep], sure[keep]
    inside, segs = _segments_within(ends, parts, seg_part, sure)
    seg_part = seg_part[inside]
    if len(segs) == 0:
        return none
    present, dense = np.unique(seg_part, return_inverse=True)
    # Merged runs are simplified: a straight strip's edges come in many collinear pieces.
    merged = each(shapely.line_merge, shapely.multilinestrings(segs, indices=dense))
    lines, line_of = shapely.get_parts(merged, return_index=True)
    # Which way a run comes out of line_merge depends on the order of the edges
    # (the triangulation's): each open run is turned to start at its lower end, so
    # the simplification (which keeps the first of equally far vertices) and the
    # lines do not change with the grouping or the triangulation's order.
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    last = shapely.get_coordinates(shapely.get_point(lines, -1))
    flip = (last[:, 0] < first[:, 0]) | ((last[:, 0] == first[:, 0]) & (last[:, 1] < first[:, 1]))
    lines[flip] = shapely.reverse(lines[flip])
    # A closed run (round an annular gap) starts at its lowest vertex, anticlockwise.
    for i in np.flatnonzero((first == last).all(axis=1)).tolist():
        ring = shapely.get_coordinates(lines[i])[:-1]
        ring = np.roll(ring, -int(np.lexsort((ring[:, 1], ring[:, 0]))[0]), axis=0)
        x, y = ring[:, 0], ring[:, 1]
        if np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y) < 0:
            ring = np.vstack([ring[:1], ring[:0:-1]])
        lines[i] = shapely.LineString(np.vstack([ring, ring[:1]]))
    # Plain Douglas-Peucker: the topology-preserving variant checks every shortcut
    # against the other segments (four times the cost). A run moved by at most
    # SIMPLIFY could cross itself only where two stretches of it come that close,
    # in a gap far narrower than the GAP_MIN_WIDTH the regions keep.
    lines = each(shapely.simplify, lines, SIMPLIFY, preserve_topology=False)
    part_of = present[line_of]
    long = shapely.length(lines) >= MIN_LENGTH
    lines, part_of = lines[long], part_of[long]
    if len(lines) == 0:
        return none
    coords, index = shapely.get_coordinates(lines, return_index=True)
    same = index[1:] == index[:-1]
    mid = 0.5 * (coords[1:] + coords[:-1])[same]
    mid_part = part_of[index[:-1][same]]
    near_parts, which = np.unique(mid_part, return_inverse=True)
    width = 2.0 * each(
        shapely.distance, shapely.points(mid), shapely.boundary(parts[near_parts])[which]
    )
    width = np.minimum(width, MAX_WIDTH)
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    points = np.split(coords, starts[1:])
    # Stretch j of line i is mid[j - i] (one fewer stretch than points per line).
    widths = np.split(width, (starts - np.arange(len(starts)))[1:])
    return points, part_of, widths


def _segments_within(
    ends: np.ndarray, parts: np.ndarray, seg_part: np.ndarray, sure: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each segment ``ends[i]`` lies within its part ``parts[seg_part[i]]``
    (known already where ``sure``), and the segments that do (GEOS line strings, for
    the merge).

    Asked of the prepared parts (``contains``, the same relation seen from the
    part): seven times faster than ``within`` of each segment, so one thread does
    it (a prepared geometry builds its indexes on first use, not safe from two
    threads at once). The segments are made slice by slice (from ``(k, 2, 2)``
    ends, no indices: seven times faster) and those outside dropped at once: the
    candidate edges of 3DBenchy, as GEOS geometries all together, were 40 MiB of
    the peak. Nearly all are inside: they are kept rather than made again.
    """
    shapely.prepare(parts)
    inside = sure.copy()
    kept = [np.zeros(0, dtype=object)]
    for lo in range(0, len(ends), SEGMENT_SLICE):
        hi = min(lo + SEGMENT_SLICE, len(ends))
        segs = shapely.linestrings(ends[lo:hi])
        ask = np.flatnonzero(~sure[lo:hi])
        inside[lo + ask] = shapely.contains(parts[seg_part[lo + ask]], segs[ask])
        kept.append(segs[inside[lo:hi]])
    return inside, np.concatenate(kept)


class _Samples:
    """Boundary samples of the gaps, laid out for triangulation, and its Voronoi edges.

    The parts are sampled every ``SAMPLE`` mm and put side by side, each in a cell
    of its own so that no two interact, in groups (``jobs``: ranges of samples) of
    whole parts of about ``GROUP_POINTS`` samples, one triangulation per group.
    The layout is made once for all parts: the edges of a group do not depend on
    which groups are asked for together.
    """

    def __init__(self, parts: np.ndarray):
        rings, ring_part = shapely.get_rings(shapely.segmentize(parts, SAMPLE), return_index=True)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        last = np.append(ring_of[1:] != ring_of[:-1], True)  # the closing repeat of the first
        coords, part = coords[~last], ring_part[ring_of[~last]]
        # Parts side by side on a square grid of cells (compact groups triangulate faster).
        bounds = shapely.bounds(parts)
        cell = (bounds[:, 2:] - bounds[:, :2]).max(axis=0) + 10.0
        cols = int(np.ceil(np.sqrt(len(parts))))
        at = np.column_stack([np.arange(len(parts)) % cols, np.arange(len(parts)) // cols])
        self.shift = at * cell - bounds[:, :2]
        self.points = coords + self.shift[part]
        self.part = part
        # Groups of whole parts (samples come part by part).
        cuts = np.searchsorted(
            part, sorted_unique(part)[:: max(1, len(parts) // max(1, len(part) // GROUP_POINTS))]
        )
        bounds_idx = np.append(cuts, len(part))
        self.jobs = [
            (int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds_idx) if hi - lo >= 4
        ]

    def edges(self, jobs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Finite Voronoi edges between samples of one part, of the groups ``jobs``:
        ends ((e, 2, 2)), part and clearance, sorted by part."""
        return self.finish(self.start(jobs))

    def start(self, jobs: list[tuple[int, int]]) -> list:
        """The triangulations of the groups ``jobs`` begun on the GEOS pool's threads
        (GEOS releases Python's lock): :meth:`finish` reads their edges. Without a
        pool, the groups themselves, triangulated by :meth:`finish`.
        """
        pool = _get_pool()
        if pool is None or len(jobs) < 2:
            return jobs
        return [pool.submit(self._job_edges, lo, hi) for lo, hi in jobs]

    def _job_edges(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Edges of one group: ends ((e, 2, 2), in the layout), part and clearance.

        Edges are kept when both samples that make them belong to the same part.
        An edge's clearance is the sum of its two ends' distances to the nearest
        boundary, or less: an edge shorter than that crosses no boundary. A
        Delaunay triangle's circle holds no sample, and a boundary segment (at
        most ``SAMPLE`` long, between two samples outside the circle) comes no
        nearer its centre than sqrt(r² - SAMPLE² / 4); less ``CLEAR_MARGIN`` for
        rounding (GEOS's triangulation and predicates, the merged centres).

        The diagram is read off the Delaunay triangulation (its dual): each edge joins
        the circumcentres of two neighbouring triangles and lies between the two
        samples they share. A Voronoi diagram is several times slower on these
        samples (rows of cocircular points along a strip's straight sides, which
        Qhull merges facet by facet); the triangulation splits such a set into
        triangles with one circumcentre, give or take rounding, and those centres are
        merged into one vertex here, so the runs still share their vertices exactly.
        """
        points, part = self.points[lo:hi], self.part
        simplices, neighbours = _delaunay(points)
        centre = _circumcentres(points, simplices)
        # Each pair of neighbouring triangles once; vertex j's opposite side is shared.
        t, j = np.nonzero(neighbours > np.arange(len(simplices))[:, None])
        u = neighbours[t, j]
        a = part[simplices[t, (j + 1) % 3] + lo]
        b = part[simplices[t, (j + 2) % 3] + lo]
        # Triangles on one circle: one Voronoi vertex (the edges between them are
        # rounding), named after the component's first triangle. (The norm of the
        # difference, written out column by column: the same bits.)
        x, y = centre[:, 0], centre[:, 1]
        dx, dy = x[t] - x[u], y[t] - y[u]
        short = np.sqrt(dx * dx + dy * dy) <= VERTEX_MERGE
        # label: the smallest triangle of each group, whose centre stands for the group
        label = connected_components(len(simplices), t[short], u[short])
        ok = (a == b) & ~short & (label[t] != label[u])
        first = simplices[:, 0]
        rx, ry = x - points[first, 0], y - points[first, 1]
        with np.errstate(invalid="ignore"):
            reach = np.sqrt(np.maximum(rx * rx + ry * ry - (SAMPLE / 2) ** 2, 0.0))
        # A flat triangle's centre is no circle's: no clearance.
        reach = np.where(x < 1e11, np.maximum(reach - CLEAR_MARGIN, 0.0), 0.0)
        t, u = label[t[ok]], label[u[ok]]
        return np.stack([centre[t], centre[u]], axis=1), a[ok], reach[t] + reach[u]

    def finish(self, started: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges of the groups :meth:`start` began: ends ((e, 2, 2)), part and
        clearance (see :meth:`_job_edges`), sorted by part."""
        results = [
            job.result() if isinstance(job, Future) else self._job_edges(*job) for job in started
        ]
        if not results:
            return np.zeros((0, 2, 2)), np.zeros(0, np.int64), np.zeros(0)
        ends = np.concatenate([r[0] for r in results])  # (e, 2, 2)
        owner = np.concatenate([r[1] for r in results])
        clear = np.concatenate([r[2] for r in results])
        ends -= self.shift[owner][:, None, :]
        long = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1) > VERTEX_MERGE
        order = np.argsort(owner[long], kind="stable")
        return ends[long][order], owner[long][order], clear[long][order]


def _here(func, *args, **kwargs):
    """``func(*args, **kwargs)`` on this thread (what :func:`elementwise` spreads)."""
    return func(*args, **kwargs)


def _delaunay(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delaunay triangulation of ``(n, 2)`` points by GEOS: ``simplices`` and ``neighbours``.

    As scipy's ``Delaunay`` gives them: ``simplices (t, 3)`` index ``points``;
    ``neighbours[i, j]`` is the triangle across the side opposite corner ``j`` of
    triangle ``i`` (-1 on the hull). GEOS returns triangles as polygons of the
    input coordinates, exactly: corners are found back by value (one sort), the
    sides shared by two triangles by one sort of side keys.
    """
    # The samples go in as one line (GEOS takes the set of its distinct vertices, in
    # no order), and the triangles' corners come out of the collection in one array:
    # a geometry per sample or per triangle cost more than the triangulation.
    triangles = shapely.delaunay_triangles(shapely.linestrings(points))
    corners = shapely.get_coordinates(triangles).reshape(-1, 4, 2)[:, :3]
    if len(corners) == 0:
        return np.zeros((0, 3), np.int64), np.zeros((0, 3), np.int64)
    # x + iy: complex numbers sort by x, then y
    keys = points[:, 0] + 1j * points[:, 1]
    order = np.argsort(keys)
    at = np.searchsorted(keys[order], corners[..., 0] + 1j * corners[..., 1])
    simplices = order[at]
    # Side opposite corner j: corners j + 1 and j + 2.
    a, b = simplices[:, [1, 2, 0]], simplices[:, [2, 0, 1]]
    side = (np.minimum(a, b) * np.int64(len(points)) + np.maximum(a, b)).ravel()
    by_side = np.argsort(side, kind="stable")
    same = np.flatnonzero(side[by_side[1:]] == side[by_side[:-1]])
    one, other = by_side[same], by_side[same + 1]
    neighbours = np.full(side.shape, -1, np.int64)
    neighbours[one] = other // 3
    neighbours[other] = one // 3
    return simplices, neighbours.reshape(-1, 3)


def _circumcentres(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    """Centres of the circles through the corners of each triangle ``points[simplices]``:
    (t, 2).

    Worked out from the first corner (small numbers, little rounding), column by
    column (four times faster than on ``(t, 3, 2)`` corners, the same operations);
    a flat triangle's centre is at infinity, which no gap contains.
    """
    x, y = points[:, 0], points[:, 1]
    first, second, third = simplices[:, 0], simplices[:, 1], simplices[:, 2]
    x0, y0 = x[first], y[first]
    bx, by = x[second] - x0, y[second] - y0
    cx, cy = x[third] - x0, y[third] - y0
    d = 2.0 * (bx * cy - by * cx)
    bb = bx * bx + by * by
    cc = cx * cx + cy * cy
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = (cy * bb - by * cc) / d
        uy = (bx * cc - cx * bb) / d
    centre = np.column_stack([x0 + ux, y0 + uy])
    return np.where(np.isfinite(centre), centre, 1e12)
