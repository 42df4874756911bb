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
    if n == 0:
        return []
    before = under_relations(elements, threads)
    after: list[list[int]] = [[] for _ in range(n)]
    for i, earlier in enumerate(before):
        for j in earlier:
            after[j].append(i)
    waiting = np.array([len(b) for b in before])  # unfinished elements under each one
    centres = shapely.get_coordinates(
        shapely.centroid(np.array([e.footprint for e in elements], dtype=object))
    )
    document = np.array([e.order for e in elements])
    thread_arr = np.asarray(threads)
    done = np.zeros(n, dtype=bool)
    order: list[int] = []
    current = -1
    here = np.zeros(2)
    for _ in range(n):
        free = ~done & (waiting == 0)
        mine = free & (thread_arr == current)
        if not mine.any():
            counts = np.bincount(thread_arr[free], minlength=thread_arr.max() + 1)
            # Among the threads with most free elements, the one met first in the document.
            candidates = np.flatnonzero(free & (counts[thread_arr] == counts.max()))
            current = int(thread_arr[candidates[np.argmin(document[candidates])]])
            mine = free & (thread_arr == current)
        pick = np.flatnonzero(mine)
        k = int(pick[np.argmin(np.linalg.norm(centres[pick] - here, axis=1))])
        order.append(k)
        done[k] = True
        for m in after[k]:
            waiting[m] -= 1
        here = centres[k]
    return order
