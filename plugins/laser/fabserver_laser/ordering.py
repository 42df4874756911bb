"""Cutting order: holes before the contour around them, short travels between.

Greedy nearest neighbour over the contours that are *ready* (everything they
contain already cut), where a closed contour may start at any of its vertices
and an open one at either end. The nearest vertex comes from a k-d tree over all
candidate vertices (scipy ``cKDTree``), queried with a growing ``k`` until a
ready contour shows up, and rebuilt when half of its vertices belong to contours
already cut: no scan of every vertex at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Ordered:
    """One contour in cutting order: ``points`` start where the beam starts.

    Closed contours repeat their start point at the end.
    """

    index: int
    points: np.ndarray  # (m, 2) float, millimetres


def order_contours(
    contours: Sequence[np.ndarray],
    closed: Sequence[bool],
    parent: np.ndarray | None = None,
    start: tuple[float, float] = (0.0, 0.0),
) -> list[Ordered]:
    """Order ``contours`` (``(n_i, 2)`` arrays) for cutting.

    ``parent[i]`` is the contour that must be cut after ``i`` (the innermost
    closed contour containing it), ``-1`` if none.
    """
    n = len(contours)
    if n == 0:
        return []
    parent = np.full(n, -1, dtype=int) if parent is None else np.asarray(parent, dtype=int)
    pending = np.bincount(parent[parent >= 0], minlength=n)
    done = np.zeros(n, dtype=bool)

    # Candidate start vertices: every vertex of a closed contour, both ends of an open one.
    owners, vertex_pos, points = [], [], []
    for i, (pts, is_closed) in enumerate(zip(contours, closed, strict=True)):
        pts = np.asarray(pts, dtype=float)
        pos = np.arange(len(pts)) if is_closed else np.array([0, len(pts) - 1])
        owners.append(np.full(len(pos), i))
        vertex_pos.append(pos)
        points.append(pts[pos])
    owner = np.concatenate(owners)
    vpos = np.concatenate(vertex_pos)
    vxy = np.vstack(points)
    first = np.concatenate([[0], np.cumsum([len(o) for o in owners])])

    alive = np.ones(len(owner), dtype=bool)
    tree_rows = np.flatnonzero(alive)
    tree = cKDTree(vxy[tree_rows])
    dead_in_tree = 0

    here = np.asarray(start, dtype=float)
    out: list[Ordered] = []
    for _ in range(n):
        if dead_in_tree > len(tree_rows) // 2:
            tree_rows = np.flatnonzero(alive)
            tree = cKDTree(vxy[tree_rows])
            dead_in_tree = 0
        choice = _nearest_ready(tree, tree_rows, here, owner, alive, pending, done)
        if choice < 0:  # a containment cycle cannot happen, but never loop forever
            choice = int(np.flatnonzero(alive)[0])
        c = int(owner[choice])
        pts = np.asarray(contours[c], dtype=float)
        if closed[c]:
            k = int(vpos[choice])
            path = np.vstack([pts[k:], pts[:k], pts[k : k + 1]])
        else:
            path = pts if vpos[choice] == 0 else pts[::-1]
        out.append(Ordered(c, path))
        here = path[-1]
        done[c] = True
        mine = slice(first[c], first[c + 1])
        dead_in_tree += int(np.count_nonzero(alive[mine]))
        alive[mine] = False
        if parent[c] >= 0:
            pending[parent[c]] -= 1
    return out


def _nearest_ready(
    tree: cKDTree,
    rows: np.ndarray,
    here: np.ndarray,
    owner: np.ndarray,
    alive: np.ndarray,
    pending: np.ndarray,
    done: np.ndarray,
) -> int:
    """Row of the nearest vertex whose contour is alive and ready, or -1."""
    k = 16
    total = len(rows)
    while True:
        k = min(k, total)
        _, found = tree.query(here, k=k)
        found = np.atleast_1d(found)
        found = found[found < total]
        cand = rows[found]
        ok = alive[cand] & (pending[owner[cand]] == 0) & ~done[owner[cand]]
        if ok.any():
            return int(cand[np.argmax(ok)])
        if k >= total:
            return -1
        k *= 4
