"""Cut order: inside before outside, short travels, the roll fed one way.

A path enclosed by another is cut first: once its outline is cut a piece of
vinyl may shift, and its inside would then come out wrong. A path with its
enclosed paths forms a *group* (a letter with its counters). Groups are cut in
bands along the roll: the roll moves forward band after band and only backs up
within a band, since backing a long roll up skews it. Within a band the next
cut is the nearest one ready to cut (greedy nearest neighbour, deepest paths of
a group first), started at its nearest point. Greedy is hand-written and good
enough here: a band holds tens to hundreds of cuts, travels are a small share of
a vinyl job's time, and an optimising tour solver would be a heavy dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from fabserver.designs import DrawingPath


@dataclass(frozen=True)
class Piece:
    """One path to cut and what decides its turn.

    ``batch`` orders pieces first (e.g. a row of copies, then its weeding
    aids); ``group`` gathers a path with those it encloses; ``depth`` is how
    many closed paths of the design enclose it.
    """

    points: np.ndarray  # (n, 2) float, millimetres, plotter frame
    closed: bool
    batch: int
    group: int
    depth: int = 0
    role: str = "cut"


def nesting(paths: Sequence[DrawingPath]) -> tuple[np.ndarray, np.ndarray]:
    """How paths enclose each other.

    Returns ``depth`` (n,) int — how many closed paths enclose each path — and
    ``outermost`` (n,) int — the index of the largest closed path enclosing it
    (itself when none does). Identical closed paths count the later one as inside.
    """
    n = len(paths)
    geoms = np.array(
        [
            shapely.Polygon(p.points)
            if p.closed and len(p.points) >= 3
            else shapely.LineString(p.points)
            for p in paths
        ],
        dtype=object,
    )
    geoms = shapely.make_valid(geoms)
    area = shapely.area(geoms)
    closed = np.flatnonzero([p.closed and len(p.points) >= 3 for p in paths])
    depth = np.zeros(n, dtype=int)
    outermost = np.arange(n)
    if closed.size == 0:
        return depth, outermost
    tree = shapely.STRtree(geoms[closed])
    inner, container = tree.query(geoms, predicate="within")
    container = closed[container]
    keep = (area[inner] < area[container]) | (
        (area[inner] == area[container]) & (inner > container)
    )
    inner, container = inner[keep], container[keep]
    depth += np.bincount(inner, minlength=n)
    # For each enclosed path, the container of largest area is its outermost one.
    by = np.lexsort((area[container], inner))
    inner, container = inner[by], container[by]
    last = np.concatenate([inner[1:] != inner[:-1], [True]]) if inner.size else inner.astype(bool)
    outermost[inner[last]] = container[last]
    return depth, outermost


def cut_sequence(
    pieces: Sequence[Piece], feed_axis: int, band: float, start: np.ndarray
) -> list[Piece]:
    """Pieces in cutting order, each started where the previous one left the tool.

    Batch after batch; within a batch, band after band along the roll (a group
    belongs to the band where it starts); within a band, the next cut is the
    nearest to the tool among the paths ready to cut, a path being ready once
    every deeper path of its group is cut. Closed paths start at their vertex
    nearest the tool, open ones at their nearer end.
    """
    if not pieces:
        return []
    lows = np.array([p.points[:, feed_axis].min() for p in pieces])
    batch = np.array([p.batch for p in pieces])
    _, group = np.unique([p.group for p in pieces], return_inverse=True)
    group_low = np.full(group.max() + 1, np.inf)
    np.minimum.at(group_low, group, lows)
    batch_low = {b: lows[batch == b].min() for b in np.unique(batch)}
    first = np.array([batch_low[b] for b in batch])
    group_band = np.floor((group_low[group] - first) / band).astype(int)

    order = np.lexsort((group_band, batch))
    run_keys = np.column_stack([batch[order], group_band[order]])
    breaks = np.flatnonzero(np.any(np.diff(run_keys, axis=0) != 0, axis=1)) + 1
    position = np.asarray(start, dtype=float)
    result: list[Piece] = []
    for run in np.split(order, breaks):
        for i, points in _nearest_first([pieces[i] for i in run], group[run], position):
            piece = pieces[run[i]]
            result.append(
                Piece(points, piece.closed, piece.batch, piece.group, piece.depth, piece.role)
            )
            position = points[0] if piece.closed else points[-1]
    return result


def _nearest_first(
    pieces: list[Piece], group: np.ndarray, position: np.ndarray
) -> list[tuple[int, np.ndarray]]:
    """Greedy nearest-ready-neighbour order of ``pieces``: ``[(index, points arranged)]``.

    One distance computation over every candidate start point per step.
    """
    starts = [p.points if p.closed else p.points[[0, -1]] for p in pieces]
    counts = np.array([len(s) for s in starts])
    owner = np.repeat(np.arange(len(pieces)), counts)
    vertex = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    points = np.vstack(starts)
    depth = np.array([p.depth for p in pieces])
    _, group = np.unique(group, return_inverse=True)
    done = np.zeros(len(pieces), dtype=bool)
    sequence = []
    for _ in range(len(pieces)):
        deepest = np.full(group.max() + 1, -1)
        np.maximum.at(deepest, group[~done], depth[~done])
        ready = ~done & (depth == deepest[group])
        distance = np.einsum("ij,ij->i", points - position, points - position)
        distance[~ready[owner]] = np.inf
        k = int(np.argmin(distance))
        i, piece = int(owner[k]), pieces[owner[k]]
        if piece.closed:
            arranged = np.roll(piece.points, -int(vertex[k]), axis=0)
        else:
            arranged = piece.points[::-1] if vertex[k] == 1 else piece.points
        done[i] = True
        sequence.append((i, arranged))
        position = arranged[0] if piece.closed else arranged[-1]
    return sequence
