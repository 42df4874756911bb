"""Chain open pieces whose ends touch into contours.

CAD exports often draw one outline as separate LINE and ARC entities; a laser
or a mill wants it as one contour (one pierce, a known inside and outside).
Ends are matched with a k-d tree over all end points at once; only pieces of
the same layer and colour are joined, and only where exactly two ends meet (a
T or a star of lines is ambiguous and left as it is).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .types import DrawingPath


def chain_paths(paths: list[DrawingPath], tolerance: float) -> list[DrawingPath]:
    """Closed paths unchanged; open ones joined end to end where their ends touch.

    ``tolerance``: largest gap between two ends that still counts as touching,
    millimetres. A chain whose two ends meet comes out closed.
    """
    closed = [p for p in paths if p.closed]
    pieces = [p for p in paths if not p.closed]
    if not pieces:
        return closed
    ends = np.empty((2 * len(pieces), 2))
    ends[0::2] = [p.points[0] for p in pieces]
    ends[1::2] = [p.points[-1] for p in pieces]
    group_of = _group_ids(pieces)

    pairs = cKDTree(ends).query_pairs(r=tolerance, output_type="ndarray")
    if len(pairs):
        same_group = group_of[pairs[:, 0] // 2] == group_of[pairs[:, 1] // 2]
        pairs = pairs[same_group]
    degree = np.bincount(pairs.ravel(), minlength=len(ends)) if len(pairs) else None
    partner = np.full(len(ends), -1, dtype=np.int64)
    if degree is not None:
        unambiguous = (degree[pairs[:, 0]] == 1) & (degree[pairs[:, 1]] == 1)
        a, b = pairs[unambiguous].T
        partner[a] = b
        partner[b] = a

    out = list(closed)
    visited = np.zeros(len(pieces), dtype=bool)
    for first in range(len(pieces)):
        if visited[first]:
            continue
        order, is_loop = _walk(first, partner)
        visited[[piece for piece, _ in order]] = True
        out.append(_join(pieces, order, is_loop, tolerance))
    return out


def _group_ids(pieces: list[DrawingPath]) -> np.ndarray:
    keys: dict[tuple, int] = {}
    return np.array(
        [keys.setdefault((p.layer, p.stroke, p.fill, p.stroke_width), len(keys)) for p in pieces]
    )


def _walk(first: int, partner: np.ndarray) -> tuple[list[tuple[int, bool]], bool]:
    """Pieces of the chain through ``first`` in order, each with ``reversed``.

    End ``2i`` is the start of piece ``i``, ``2i + 1`` its end. Go back from the
    start of ``first`` to the head of the chain (or round a loop), then forward.
    """
    head_end = 2 * first  # the end by which we enter the head piece
    seen = {first}
    while partner[head_end] >= 0:
        other = partner[head_end]
        piece = other // 2
        if piece in seen:  # a loop: start anywhere
            head_end = 2 * first
            break
        seen.add(piece)
        head_end = other ^ 1  # leave that piece by its far end
    order: list[tuple[int, bool]] = []
    entry = head_end
    visited: set[int] = set()
    is_loop = False
    while True:
        piece = entry // 2
        if piece in visited:
            is_loop = True
            break
        visited.add(piece)
        order.append((piece, entry % 2 == 1))  # entered by its end: walk it reversed
        exit_end = entry ^ 1
        nxt = partner[exit_end]
        if nxt < 0:
            break
        entry = nxt
    return order, is_loop


def _join(
    pieces: list[DrawingPath], order: list[tuple[int, bool]], is_loop: bool, tolerance: float
) -> DrawingPath:
    first = pieces[order[0][0]]
    if len(order) == 1 and not is_loop:
        return first
    arrays = []
    for index, (piece, backwards) in enumerate(order):
        pts = pieces[piece].points[::-1] if backwards else pieces[piece].points
        arrays.append(pts if index == 0 else pts[1:])  # the shared end once
    points = np.vstack(arrays)
    if is_loop and np.hypot(*(points[-1] - points[0])) <= tolerance:
        points = points[:-1]
    sources = ",".join(dict.fromkeys(pieces[p].source for p, _ in order if pieces[p].source))
    return DrawingPath(
        points=points,
        closed=is_loop and len(points) >= 3,
        stroke=first.stroke,
        fill=first.fill,
        stroke_width=first.stroke_width,
        layer=first.layer,
        source=sources,
    )
