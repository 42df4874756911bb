"""Joining consecutive infill lines into continuous extrusions.

Fewer, longer extrusions mean fewer starts and stops and fewer travels (each a
chance to ooze or to retract). Two lines are joined when the way from the end of
one to the start of the next is short: straight when that stays inside the
infill area, else along the area's outline, which is how PrusaSlicer links its
infill along the inner perimeter.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import shapely


class Outline:
    """An area and what linking asks of it, worked out once on first use: the area
    prepared for ``covered_by``, its rings, their tree and their arc lengths. The
    islands of one layer share their layer's (the walk asks for each island)."""

    def __init__(self, area: shapely.Geometry | None):
        self.area = area
        self.empty = area is None or area.is_empty

    def covers(self, geoms: np.ndarray) -> np.ndarray:
        """``covered_by(geoms, area)``, asked of the prepared area (prepared once: GEOS
        keeps the index with the geometry)."""
        shapely.prepare(self.area)
        return shapely.covered_by(geoms, self.area)

    @cached_property
    def rings(self) -> np.ndarray:
        return shapely.get_rings(shapely.get_parts(self.area))

    @cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.rings)

    @cached_property
    def walk(self) -> _RingWalk:
        return _RingWalk(self.rings)


def _outline(area: shapely.Geometry | Outline | None) -> Outline:
    return area if isinstance(area, Outline) else Outline(area)


def link_lines(
    seq: list[np.ndarray],
    roles: np.ndarray,
    link_max: dict[int, float],
    area: shapely.Geometry | Outline | None,
) -> list[tuple[np.ndarray, int]]:
    """Join consecutive lines of the same role whose short link lies inside ``area``."""
    if len(seq) < 2:
        return [(p, int(r)) for p, r in zip(seq, roles, strict=True)]
    a = np.array([p[-1] for p in seq[:-1]])
    b = np.array([p[0] for p in seq[1:]])
    gap = np.linalg.norm(b - a, axis=1)
    limit = np.zeros(len(seq) - 1)
    for role, most in link_max.items():
        limit[roles[:-1] == role] = most
    cand = (roles[:-1] == roles[1:]) & (gap < limit)
    idx = np.flatnonzero(cand)
    joined = np.zeros(len(seq) - 1, dtype=bool)
    via: dict[int, np.ndarray] = {}
    outline = _outline(area)
    if idx.size and not outline.empty:
        links = shapely.linestrings(np.stack([a[idx], b[idx]], axis=1))  # (k, 2, 2): no indices
        joined[idx] = outline.covers(links)
        # The others follow the area's outline when that way is short, as
        # PrusaSlicer links infill lines along the inner perimeter.
        rest = idx[~joined[idx]]
        if rest.size:
            for i, path in zip(
                rest, _along_outline(outline, a[rest], b[rest], limit[rest]), strict=True
            ):
                if path is not None:
                    joined[i] = True
                    via[int(i)] = path
    out: list[tuple[np.ndarray, int]] = []
    run = [seq[0]]
    for i in range(1, len(seq)):
        if joined[i - 1]:
            if i - 1 in via:
                run.append(via[i - 1])
            run.append(seq[i])
        else:
            out.append((np.vstack(run) if len(run) > 1 else run[0], int(roles[i - 1])))
            run = [seq[i]]
    out.append((np.vstack(run) if len(run) > 1 else run[0], int(roles[-1])))
    return out


def _along_outline(
    outline: Outline, a: np.ndarray, b: np.ndarray, limit: np.ndarray, snap: float = 0.15
) -> list[np.ndarray | None]:
    """The shorter way from each ``a`` to ``b`` along the outline of the area (or None).

    Both ends must lie on the same ring of the outline (within ``snap``) and the
    way must be shorter than ``limit``. Returns the inner points of each way.
    """
    rings = outline.rings
    result: list[np.ndarray | None] = [None] * len(a)
    if len(rings) == 0:
        return result
    tree = outline.tree
    pa, pb = shapely.points(a), shapely.points(b)
    (qa, ra), da = tree.query_nearest(pa, return_distance=True, all_matches=False)
    (qb, rb), db = tree.query_nearest(pb, return_distance=True, all_matches=False)
    ring_a = np.full(len(a), -1)
    ring_b = np.full(len(a), -2)
    ring_a[qa[da < snap]] = ra[da < snap]
    ring_b[qb[db < snap]] = rb[db < snap]
    ok = np.flatnonzero(ring_a == ring_b)
    if ok.size == 0:
        return result
    which = ring_a[ok]
    length = shapely.length(rings[which])
    sa = shapely.line_locate_point(rings[which], pa[ok])
    sb = shapely.line_locate_point(rings[which], pb[ok])
    forward = np.mod(sb - sa, length)
    shorter = np.minimum(forward, length - forward)
    walk = outline.walk
    for j in np.flatnonzero(shorter < limit[ok]):
        coords, cum = walk[int(which[j])]
        s0, s1, total = sa[j], sb[j], length[j]
        if forward[j] <= total - forward[j]:
            inner = _ring_between(coords, cum, s0, s1, total)
        else:
            inner = _ring_between(coords, cum, s1, s0, total)[::-1]
        result[int(ok[j])] = inner
    return result


def _ring_between(coords: np.ndarray, cum: np.ndarray, s0: float, s1: float, total: float):
    """Ring vertices strictly between arc positions ``s0`` and ``s1`` going forward."""
    body, pos = coords[:-1], cum[:-1]
    # ``pos`` only grows along the ring: the vertices past s0 and before s1 are
    # index ranges, found by bisection instead of a mask over the whole ring.
    after = int(np.searchsorted(pos, s0, side="right"))
    before = int(np.searchsorted(pos, s1, side="left"))
    if s0 <= s1:
        return body[after:before]
    return np.vstack([body[after:], body[:before]])


def add_anchors(
    paths: list[tuple[np.ndarray, int]],
    role: int,
    area: shapely.Geometry | Outline | None,
    length: float,
    snap: float = 0.15,
) -> list[tuple[np.ndarray, int]]:
    """Hook both ends of every ``role`` path ``length`` mm along the outline of ``area``.

    An infill line whose end only touches the perimeter is easily torn off; a
    short hook along the perimeter (PrusaSlicer's infill anchor) holds it. The
    hook continues the way the line was heading.
    """
    which = [i for i, (pts, r) in enumerate(paths) if r == role and len(pts) >= 2]
    outline = _outline(area)
    if not which or outline.empty or length <= 0:
        return paths
    rings = outline.rings
    if len(rings) == 0:
        return paths
    ends = np.array([paths[i][0][-1] for i in which] + [paths[i][0][0] for i in which])
    heading = np.array(
        [paths[i][0][-1] - paths[i][0][-2] for i in which]
        + [paths[i][0][0] - paths[i][0][1] for i in which]
    )
    tree = outline.tree
    points = shapely.points(ends)
    (q, r), dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    ring_of = np.full(len(ends), -1)
    near = dist < snap
    ring_of[q[near]] = r[near]
    ok = np.flatnonzero(ring_of >= 0)
    hooks: dict[int, np.ndarray] = {}
    if ok.size:
        ring = rings[ring_of[ok]]
        total = shapely.length(ring)
        at = shapely.line_locate_point(ring, points[ok])
        ahead = shapely.get_coordinates(
            shapely.line_interpolate_point(ring, np.mod(at + 0.05, total))
        )
        forward = np.einsum("ij,ij->i", ahead - ends[ok], heading[ok]) >= 0
        walk = outline.walk
        # One hook per line end: Python floats here (same arithmetic as numpy's
        # scalars, a tenth of the call overhead).
        for e, ring_i, s0, ring_length, ahead_ok in zip(
            ok.tolist(),
            ring_of[ok].tolist(),
            at.tolist(),
            total.tolist(),
            forward.tolist(),
            strict=True,
        ):
            if length >= 0.5 * ring_length:
                continue
            coords, cum = walk[ring_i]
            s1 = (s0 + length) % ring_length if ahead_ok else (s0 - length) % ring_length
            tip = _point_at(coords, cum, s1)[None]
            if ahead_ok:
                inner = _ring_between(coords, cum, s0, s1, ring_length)
            else:
                inner = _ring_between(coords, cum, s1, s0, ring_length)[::-1]
            hooks[e] = np.vstack([inner, tip]) if len(inner) else tip
    out = list(paths)
    m = len(which)
    for k, i in enumerate(which):
        pts, r = out[i]
        head = hooks.get(k + m)
        tail = hooks.get(k)
        pieces = ([head[::-1]] if head is not None else []) + [pts]
        pieces += [tail] if tail is not None else []
        out[i] = (np.vstack(pieces) if len(pieces) > 1 else pts, r)
    return out


class _RingWalk:
    """Coordinates and cumulative lengths of rings, computed once per ring."""

    def __init__(self, rings: np.ndarray):
        self.rings = rings
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self.cache:
            coords = shapely.get_coordinates(self.rings[i])
            steps = np.linalg.norm(np.diff(coords, axis=0), axis=1)
            self.cache[i] = (coords, np.concatenate([[0.0], np.cumsum(steps)]))
        return self.cache[i]


def _point_at(coords: np.ndarray, cum: np.ndarray, s: float) -> np.ndarray:
    """The point at arc length ``s`` along a closed ring."""
    # Python's min/max: np.clip on one scalar costs more than the whole lookup.
    i = min(max(int(np.searchsorted(cum, s, side="right")) - 1, 0), len(cum) - 2)
    span = cum[i + 1] - cum[i]
    t = (s - cum[i]) / span if span > 0 else 0.0
    return coords[i] + t * (coords[i + 1] - coords[i])
