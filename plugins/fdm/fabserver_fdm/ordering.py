"""Print order within a layer: islands, loops and infill lines, nearest first.

Greedy nearest neighbour is what PrusaSlicer does for islands and what keeps
travels short; each step is one vectorised distance over the remaining paths.
Infill lines are first sorted along their scan direction so that the greedy walk
mostly zig-zags from one line to the next.
"""

from __future__ import annotations

import numpy as np


def nearest_order(
    starts: np.ndarray, ends: np.ndarray, position: np.ndarray, reversible: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy order of paths from ``position``.

    starts, ends : (n, 2) float — first and last point of each path
    Returns ``order`` (n,) int and ``flipped`` (n,) bool (path walked backwards).
    """
    n = len(starts)
    order = np.empty(n, dtype=np.int64)
    flipped = np.zeros(n, dtype=bool)
    if n == 0:
        return order, flipped
    remaining = np.ones(n, dtype=bool)
    pos = np.asarray(position, dtype=float)[:2]
    big = np.inf
    sx, sy = starts[:, 0].copy(), starts[:, 1].copy()
    ex, ey = ends[:, 0].copy(), ends[:, 1].copy()
    for step in range(n):
        ds = (sx - pos[0]) ** 2 + (sy - pos[1]) ** 2
        if reversible:
            de = (ex - pos[0]) ** 2 + (ey - pos[1]) ** 2
            both = np.minimum(ds, de)
        else:
            both = ds
        both[~remaining] = big
        i = int(np.argmin(both))
        rev = bool(reversible and de[i] < ds[i])
        order[step] = i
        flipped[step] = rev
        remaining[i] = False
        pos = np.array([sx[i], sy[i]]) if rev else np.array([ex[i], ey[i]])
    return order, flipped


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
