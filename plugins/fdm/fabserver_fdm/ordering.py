"""Print order within a layer: islands, loops and infill lines, nearest first.

Greedy nearest neighbour is what PrusaSlicer does for islands and what keeps
travels short; each step is one vectorised distance over the remaining paths.
Infill lines are first sorted along their scan direction so that the greedy walk
mostly zig-zags from one line to the next.
"""

from __future__ import annotations

import numpy as np
import shapely

SMALL_ORDER = 24
"""Below this many paths the greedy walk runs on Python floats: a numpy step costs
about ten array calls, more than the whole scan of a few points."""


def nearest_order(
    starts: np.ndarray, ends: np.ndarray, position: np.ndarray, reversible: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy order of paths from ``position``.

    starts, ends : (n, 2) float — first and last point of each path
    Returns ``order`` (n,) int and ``flipped`` (n,) bool (path walked backwards).
    Ties go to the lower index, whichever way the walk is computed.
    """
    n = len(starts)
    if n <= SMALL_ORDER:
        return _nearest_order_small(starts, ends, position, reversible)
    order = np.empty(n, dtype=np.int64)
    flipped = np.zeros(n, dtype=bool)
    # One column per path end, start and end of each path side by side (start first):
    # the first smallest distance is then the lower path's, its start on a tie, as
    # np.argmin over the paths' nearer ends gives it. Taken paths move to infinity,
    # so no mask is applied at each step; the steps reuse their buffers (each numpy
    # call costs more than the arithmetic on a few hundred ends).
    width = 2 if reversible else 1
    xy = np.empty((2, width * n))
    xy[:, 0::width] = starts[:, :2].T
    if reversible:
        xy[:, 1::2] = ends[:, :2].T
    x, y = xy
    dx, dy = np.empty(width * n), np.empty(width * n)
    px, py = (float(v) for v in np.asarray(position, dtype=float)[:2])
    for step in range(n):
        np.subtract(x, px, out=dx)
        np.multiply(dx, dx, out=dx)
        np.subtract(y, py, out=dy)
        np.multiply(dy, dy, out=dy)
        np.add(dx, dy, out=dx)
        j = int(dx.argmin())
        i, rev = divmod(j, width) if reversible else (j, 0)
        order[step] = i
        flipped[step] = rev
        if reversible:  # leave by the other end
            px, py = float(x[j ^ 1]), float(y[j ^ 1])
        else:
            px, py = float(ends[i, 0]), float(ends[i, 1])
        xy[:, width * i : width * i + width] = np.inf
    return order, flipped


def _nearest_order_small(
    starts: np.ndarray, ends: np.ndarray, position: np.ndarray, reversible: bool
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_order` on Python floats (same arithmetic, same ties)."""
    if len(starts) < 2:  # the walk's commonest case: one island, one loop
        flipped = np.zeros(len(starts), dtype=bool)
        if len(starts) and reversible:
            flipped[0] = _end_nearer(starts[0], ends[0], position)
        return np.zeros(len(starts), dtype=np.int64), flipped
    s = np.asarray(starts, dtype=float)[:, :2].tolist()
    e = np.asarray(ends, dtype=float)[:, :2].tolist()
    px, py = (float(v) for v in np.asarray(position, dtype=float)[:2])
    left = list(range(len(s)))
    order, flipped = [], []
    while left:
        best_d, best_i, best_rev = np.inf, -1, False
        for i in left:  # ascending: the first of equal distances wins, as np.argmin
            dx, dy = s[i][0] - px, s[i][1] - py
            ds = dx * dx + dy * dy
            d, rev = ds, False
            if reversible:
                dx, dy = e[i][0] - px, e[i][1] - py
                de = dx * dx + dy * dy
                if de < ds:
                    d, rev = de, True
            if d < best_d:
                best_d, best_i, best_rev = d, i, rev
        left.remove(best_i)
        order.append(best_i)
        flipped.append(best_rev)
        px, py = s[best_i] if best_rev else e[best_i]
    return np.array(order, dtype=np.int64), np.array(flipped, dtype=bool)


def _end_nearer(start: np.ndarray, end: np.ndarray, position: np.ndarray) -> bool:
    """Whether a path is nearer ``position`` by its end (strictly), as the walks judge it."""
    px, py = float(position[0]), float(position[1])
    dx, dy = float(start[0]) - px, float(start[1]) - py
    ex, ey = float(end[0]) - px, float(end[1]) - py
    return ex * ex + ey * ey < dx * dx + dy * dy


def rotate_loop(ring: np.ndarray, position: np.ndarray) -> np.ndarray:
    """A closed ring ``(m, 2)`` (first point repeated last) starting at the vertex nearest ``position``."""
    body = ring[:-1]
    i = int(np.argmin(((body - position[:2]) ** 2).sum(axis=1)))
    return np.concatenate([body[i:], body[:i], body[i : i + 1]])  # np.roll, closed again


CORNER_PULL = 1.5  # mm an aligned seam moves to sit in a sharp corner instead
ALIGN_REACH = 3.0  # mm: a seam of the layer below farther than this is another loop's


class SeamPlacer:
    """Where each loop starts, by PrusaSlicer's ``seam_position``.

    ``nearest``: the vertex nearest the nozzle. ``rear``: the vertex nearest a point
    far behind the object's middle (PrusaSlicer's rear), so the seam runs straight
    up the back of the part rather than jumping to wherever the loop's largest y
    happens to be on each layer (a diagonal zipper on a hull). ``aligned``: the
    vertex nearest the seam of the layer below, drawn into a sharp corner within
    ``CORNER_PULL`` mm where there is one; the first layer starts at the rear.
    Objects are the parts of the print's footprint (copies are apart on the bed).
    """

    def __init__(self, mode: str, slices: np.ndarray):
        self.mode = mode
        self.layer = -1
        self.previous = np.zeros((0, 2))
        self.current: list[np.ndarray] = []
        filled = slices[~shapely.is_empty(slices)]
        self.tree: shapely.STRtree | None = None  # None: one object, no search
        self.rear = np.zeros((0, 2))  # per object, the point its seams face
        if mode == "nearest" or len(filled) == 0:
            return
        hulls = shapely.convex_hull(filled)
        if len(hulls) == 1 or _inside_shared(hulls[:-1], hulls[1:]).all():
            # Each layer's hull shares inside with the next one's: the footprint is one
            # object, its bounds its hulls' (their union, an overlay of nearly equal
            # outlines on a straight part, was a small part's slowest step).
            corners = shapely.bounds(hulls)
            bounds = np.concatenate([corners[:, :2].min(axis=0), corners[:, 2:].max(axis=0)])
            bounds = bounds[None, :]
        else:
            objects = shapely.get_parts(shapely.union_all(hulls))
            bounds = shapely.bounds(objects)
            self.tree = shapely.STRtree(objects)
        radius = 0.5 * np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        self.rear = np.column_stack(
            [0.5 * (bounds[:, 0] + bounds[:, 2]), bounds[:, 3] + 3.0 * radius]
        )

    def rear_seams(self, rings: list[np.ndarray]) -> np.ndarray | None:
        """``rear``: every loop's seam ``(n, 2)`` at once, as :meth:`seam` finds it one by one.

        A rear seam depends on its loop only (not on the nozzle or the layer below),
        so the whole print's are found in a few array passes instead of a tree query
        and a scan per loop. None in the other modes.
        """
        if self.mode != "rear" or len(self.rear) == 0 or not rings:
            return None
        counts = np.array([len(r) - 1 for r in rings])
        if (counts < 1).any():
            return None
        bodies = np.concatenate([r[:-1] for r in rings])
        starts = np.cumsum(counts) - counts
        if self.tree is None:
            found, which = np.arange(len(rings)), np.zeros(len(rings), dtype=np.intp)
        else:
            points = shapely.points(bodies[starts])
            found, which = self.tree.query_nearest(points, all_matches=False)
            if len(found) != len(rings):
                return None
        ring_of = np.repeat(np.arange(len(rings)), counts)
        score = ((bodies - self.rear[which[np.argsort(found)]][ring_of]) ** 2).sum(axis=1)
        # The first vertex of each loop with its loop's lowest score (np.argmin's choice).
        hit = np.flatnonzero(score == np.minimum.reduceat(score, starts)[ring_of])
        return bodies[hit[np.searchsorted(ring_of[hit], np.arange(len(rings)))]]

    def seam(self, ring: np.ndarray, position: np.ndarray, layer: int) -> np.ndarray:
        """The point the loop ``ring`` (closed, ``(m, 2)``) of ``layer`` should start at."""
        if self.mode == "nearest" or len(self.rear) == 0:
            return position
        if layer != self.layer:
            if self.current:
                self.previous = np.array(self.current)
            self.current, self.layer = [], layer
        body = ring[:-1]
        if self.tree is None:
            target = self.rear[0]
        else:
            which = self.tree.query_nearest(shapely.Point(body[0]), all_matches=False)
            target = self.rear[int(which[0])] if len(which) else position[:2]
        score = ((body - target) ** 2).sum(axis=1)
        if self.mode == "aligned":
            score = np.sqrt(score)
            if len(self.previous):
                gap = np.sqrt(((self.previous[:, None, :] - body[None, :, :]) ** 2).sum(axis=2))
                nearest = int(np.argmin(gap.min(axis=1)))
                if gap[nearest].min() <= ALIGN_REACH:
                    score = gap[nearest]
            score = score - CORNER_PULL * _sharpness(body)
        point = body[int(np.argmin(score))]
        self.current.append(point)
        return point


def _inside_shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each pair of convex polygons shares inside (not only an edge or a corner).

    The centre of a convex polygon is inside it: when it is inside the other one
    too, they share it (a point-in-polygon test, most pairs); the others are
    asked of GEOS's full relate.
    """
    centre = shapely.get_coordinates(shapely.centroid(a))
    shared = shapely.contains_xy(b, centre[:, 0], centre[:, 1])
    rest = np.flatnonzero(~shared)
    shared[rest] = shapely.relate_pattern(a[rest], b[rest], "T********")
    return shared


def _sharpness(body: np.ndarray) -> np.ndarray:
    """How sharply a closed ring turns at each vertex: 0 straight on, 1 turned right back."""
    ahead = np.roll(body, -1, axis=0) - body
    behind = body - np.roll(body, 1, axis=0)
    norm = np.linalg.norm(ahead, axis=1) * np.linalg.norm(behind, axis=1)
    cos = np.einsum("ij,ij->i", ahead, behind) / np.maximum(norm, 1e-12)
    return np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi
