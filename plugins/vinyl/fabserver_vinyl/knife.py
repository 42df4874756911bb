"""Drag-knife compensation: the path the blade holder follows so the blade tip cuts the drawing.

A drag knife is a blade in a freely swivelling holder. Its tip trails the
holder's axis by the blade offset ``r`` (about 0.25 mm for a 45° blade), so
while the holder moves in a straight line the tip runs ``r`` behind it on the
same line: the holder path is the blade path shifted forward by ``r`` along the
direction of travel.

At a corner the tip would cut a rounded curve. When the path turns by more than
the swivel angle, the holder instead swings on an arc of radius ``r`` around the
corner point: the tip turns in place and the corner comes out sharp. Gentler
turns are left to the blade, whose rounding is ``r (1 - cos(turn / 2))``
(0.006 mm for 0.25 mm at 25°): less than one plotter unit.

Closed paths are cut a little past their start (the overcut), so the start and
the end of the cut meet and the shape weeds cleanly.

Every function works on a whole path at once, over numpy arrays. This is
hand-written: the geometry is a few lines of vector arithmetic, and the
libraries that do it (cutter drivers, Inkscape extensions) are not importable
packages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-9
#: Segments shorter than this (mm) carry no direction a cutter reproduces (a plotter
#: unit is 0.025 mm); their points are merged before turns are measured, so that
#: noise in a drawing's coordinates does not make the blade swivel.
MIN_SEGMENT = 0.02

#: Where the blade points when a job starts, in the plotter frame. Cutters do
#: not report it; the overcut recuts the start of the first closed path anyway.
START_HEADING = np.array([1.0, 0.0])


@dataclass(frozen=True)
class Knife:
    """The blade and how to compensate for it (lengths in millimetres)."""

    offset: float  # distance from the holder's axis to the blade tip
    swivel_angle: float  # degrees: turns sharper than this get the swivel arc
    overcut: float  # how far past its start a closed path is cut again
    arc_tolerance: float = 0.01  # largest gap between a swivel arc and its chords


def with_overcut(points: np.ndarray, closed: bool, overcut: float) -> np.ndarray:
    """The blade path as it is cut: closed paths go round and on for ``overcut`` mm.

    points : (n, 2) float, millimetres; a closed path does not repeat its start.
    Returns (m, 2) float: open paths unchanged; closed ones back to the start,
    then along their first segments (never more than once round).
    """
    pts = np.asarray(points, dtype=float)
    if not closed or len(pts) < 2:
        return pts
    ring = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(ring, axis=0), axis=1)
    travelled = np.cumsum(seg)  # distance from the start to ring[i + 1]
    extra = min(max(overcut, 0.0), float(travelled[-1]))
    if extra <= _EPS:
        return ring
    j = int(np.searchsorted(travelled, extra))  # segment where the overcut stops
    before = travelled[j] - seg[j]
    share = (extra - before) / seg[j] if seg[j] > _EPS else 0.0
    end = ring[j] + share * (ring[j + 1] - ring[j])
    return np.vstack([ring, ring[1 : j + 1], end[None]])


def holder_path(
    blade: np.ndarray, knife: Knife, heading: np.ndarray = START_HEADING
) -> tuple[np.ndarray, np.ndarray]:
    """Where the holder's axis must go so that the blade tip follows ``blade``.

    blade : (n, 2) float, millimetres — the path the tip must cut, in order.
    heading : (2,) float — the way the blade points before the cut (the last
        direction of the previous cut: a lifted blade keeps its heading).
    Returns the holder path ``(k, 2) float`` (the tool goes down on its first
    point, where the tip is exactly on ``blade[0]``) and the heading after it.

    For each vertex ``p`` between an incoming direction ``a`` and an outgoing
    direction ``b`` the holder arrives at ``p + r a`` and leaves from ``p + r b``;
    in between it swings on the arc around ``p`` when the turn is sharp, and goes
    straight when it is gentle. The first vertex's incoming direction is
    ``heading``, so the blade is turned onto the path before it cuts.
    """
    pts, out_dir, in_dir, turn = _turns(blade, heading)
    if len(pts) < 2:
        return np.zeros((0, 2)), np.asarray(heading, dtype=float)
    r = knife.offset
    if r <= _EPS:
        return pts, out_dir[-1]
    corners = pts[:-1]
    arrive = corners + r * in_dir
    leave = corners + r * out_dir
    last = pts[-1] + r * out_dir[-1]

    # Swivel arcs, sampled so that no chord strays more than arc_tolerance.
    tol = min(knife.arc_tolerance, r)
    max_step = 2.0 * np.arccos(1.0 - tol / r)
    swivel = np.abs(turn) > np.radians(knife.swivel_angle)
    steps = np.where(swivel, np.ceil(np.abs(turn) / max_step), 1).astype(int)
    inner = steps - 1  # arc points strictly between "arrive" and "leave"
    vertex = np.repeat(np.arange(len(corners)), inner)
    rank = np.arange(vertex.size) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    share = rank / steps[vertex]  # (k,) in (0, 1): how far round the arc
    start_angle = np.arctan2(in_dir[:, 1], in_dir[:, 0])
    angle = start_angle[vertex] + share * turn[vertex]
    arc = corners[vertex] + r * np.column_stack([np.cos(angle), np.sin(angle)])

    # Interleave arrive(i), arc(i)…, leave(i) for every vertex by sorting on a key.
    index = np.arange(len(corners), dtype=float)
    keys = np.concatenate([2 * index, 2 * vertex + share, 2 * index + 1, [2.0 * len(corners)]])
    points = np.vstack([arrive, arc, leave, last[None]])
    holder = points[np.argsort(keys, kind="stable")]
    moved = np.linalg.norm(np.diff(holder, axis=0), axis=1) > _EPS
    holder = holder[np.concatenate([[True], moved])]
    return holder, out_dir[-1]


def swivel_count(blade: np.ndarray, knife: Knife, heading: np.ndarray = START_HEADING) -> int:
    """How many corners of ``blade`` get a swivel arc (a figure for the plan's page)."""
    turn = _turns(blade, heading)[3]
    return int(np.count_nonzero(np.abs(turn) > np.radians(knife.swivel_angle)))


def _turns(
    blade: np.ndarray, heading: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct points (n, 2), segment directions (m, 2), incoming directions (m, 2)
    and the signed turn at each vertex before a segment (m,), radians in (-pi, pi]."""
    pts = np.asarray(blade, dtype=float).reshape(-1, 2)
    if len(pts) > 2:
        # One point per MIN_SEGMENT of length along the path, and both ends.
        along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        keep = np.concatenate([[True], np.diff(np.floor(along / MIN_SEGMENT)) > 0])
        keep[-1] = True
        pts = pts[keep]
    if len(pts):
        moved = np.linalg.norm(np.diff(pts, axis=0), axis=1) > _EPS
        pts = pts[np.concatenate([[True], moved])]
    if len(pts) < 2:
        empty = np.zeros((0, 2))
        return pts, empty, empty, np.zeros(0)
    seg = np.diff(pts, axis=0)
    out_dir = seg / np.linalg.norm(seg, axis=1)[:, None]
    in_dir = np.vstack([np.asarray(heading, dtype=float)[None], out_dir[:-1]])
    cross = in_dir[:, 0] * out_dir[:, 1] - in_dir[:, 1] * out_dir[:, 0]
    turn = np.arctan2(cross, np.einsum("ij,ij->i", in_dir, out_dir))
    return pts, out_dir, in_dir, turn
