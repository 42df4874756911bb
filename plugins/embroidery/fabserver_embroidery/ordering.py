"""In which order to sew: few colour changes, without breaking the layering.

An element must come after every element of another thread that lies under it
(earlier in the document and overlapping it); elements that do not overlap can
be sewn in any order. The order is built greedily: keep the current thread as
long as one of its elements is free to be sewn, choosing the nearest; when
none is, change to the thread with the most elements free to be sewn. Without
overlaps this gives one block per thread; each overlap that truly needs
interleaving costs one more change, never more.
"""

from __future__ import annotations

import numpy as np
import shapely

from .elements import Element


def under_relations(elements: list[Element], threads: list[int]) -> list[set[int]]:
    """For each element, the indices of other-thread elements that must be sewn before it."""
    n = len(elements)
    before: list[set[int]] = [set() for _ in range(n)]
    if n < 2:
        return before
    footprints = np.array([e.footprint for e in elements], dtype=object)
    tree = shapely.STRtree(footprints)
    a, b = tree.query(footprints, predicate="intersects")
    for i, j in zip(a.tolist(), b.tolist(), strict=True):
        if i == j or threads[i] == threads[j]:
            continue
        lo, hi = (i, j) if elements[i].order < elements[j].order else (j, i)
        # Touching along an edge is not lying on top.
        if shapely.area(shapely.intersection(footprints[lo], footprints[hi])) > 1e-3:
            before[hi].add(lo)
    return before


def sewing_order(elements: list[Element], threads: list[int]) -> list[int]:
    """Indices of ``elements`` in the order to sew them (``threads[i]``: element i's thread)."""
    n = len(elements)
    before = under_relations(elements, threads)
    centres = (
        np.array([shapely.get_coordinates(shapely.centroid(e.footprint))[0] for e in elements])
        if n
        else np.zeros((0, 2))
    )
    done = np.zeros(n, dtype=bool)
    order: list[int] = []
    current: int | None = None
    here = np.zeros(2)
    thread_arr = np.asarray(threads)
    for _ in range(n):
        free = np.array([not done[i] and all(done[j] for j in before[i]) for i in range(n)])
        if current is None or not (free & (thread_arr == current)).any():
            counts = np.bincount(thread_arr[free], minlength=thread_arr.max() + 1)
            best = counts.max()
            # Among the busiest threads, the one that appears first in the document.
            candidates = np.flatnonzero(free & (counts[thread_arr] == best))
            current = int(
                thread_arr[candidates[np.argmin([elements[c].order for c in candidates])]]
            )
        pick = np.flatnonzero(free & (thread_arr == current))
        d = np.linalg.norm(centres[pick] - here, axis=1)
        k = int(pick[np.argmin(d)])
        order.append(k)
        done[k] = True
        here = centres[k]
    return order
