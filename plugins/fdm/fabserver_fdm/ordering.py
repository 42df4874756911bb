"""Print order within a layer: islands, loops and infill lines, nearest first.

Greedy nearest neighbour is what PrusaSlicer does for islands and what keeps
travels short; each step is one vectorised distance over the remaining paths.
Infill lines are first sorted along their scan direction so that the greedy walk
mostly zig-zags from one line to the next.
"""

from __future__ import annotations

import numpy as np

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
    # Rows: start x, start y, end x, end y. Taken paths move to infinity, so no
    # mask is applied at each step; one subtraction and one square serve both ends.
    ends_xy = np.empty((4, n))
    ends_xy[0:2] = starts[:, :2].T
    ends_xy[2:4] = ends[:, :2].T
    px, py = (float(v) for v in np.asarray(position, dtype=float)[:2])
    here = np.empty((4, 1))
    for step in range(n):
        here[0::2, 0] = px
        here[1::2, 0] = py
        sq = (ends_xy - here) ** 2
        ds = sq[0] + sq[1]
        if reversible:
            de = sq[2] + sq[3]
            i = int(np.argmin(np.minimum(ds, de)))
            rev = bool(de[i] < ds[i])
        else:
            i = int(np.argmin(ds))
            rev = False
        order[step] = i
        flipped[step] = rev
        px, py = (
            (float(ends_xy[0, i]), float(ends_xy[1, i]))
            if rev
            else (
                float(ends_xy[2, i]),
                float(ends_xy[3, i]),
            )
        )
        ends_xy[:, i] = np.inf
    return order, flipped


def _nearest_order_small(
    starts: np.ndarray, ends: np.ndarray, position: np.ndarray, reversible: bool
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_order` on Python floats (same arithmetic, same ties)."""
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


def rotate_loop(ring: np.ndarray, position: np.ndarray) -> np.ndarray:
    """A closed ring ``(m, 2)`` (first point repeated last) starting at the vertex nearest ``position``."""
    body = ring[:-1]
    i = int(np.argmin(((body - position[:2]) ** 2).sum(axis=1)))
    rolled = np.roll(body, -i, axis=0)
    return np.vstack([rolled, rolled[:1]])


def seam_point(ring: np.ndarray, position: np.ndarray, seam: str) -> np.ndarray:
    """Where a loop should start: ``nearest`` the nozzle, or at the ``rear`` (largest y).

    A rear seam lines up from layer to layer at the back of the part, where it
    shows least; ties (a flat back edge) go to the vertex nearest the nozzle.
    """
    if seam != "rear":
        return position
    body = ring[:-1]
    y = body[:, 1]
    back = body[y >= y.max() - 0.2]
    i = int(np.argmin(((back - position[:2]) ** 2).sum(axis=1)))
    return back[i]
