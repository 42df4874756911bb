"""Ordered paths → the shared :class:`~fabserver.toolpath.Toolpath`, with travels,
retractions, z-hops and the cooling slowdown.

Every path is preceded by the same small set of optional moves (retract, lift,
layer change, travel, lower, unretract); they are laid out as a table of slots
per path and flattened with a mask, then merged with the extrusion moves by a
stable sort: no Python loop per move.

A travel is retracted when it is long enough (``retract_before_travel``) and
leaves the quiet area of its layer: the sparse infill, away from the walls and
from top and bridge surfaces, where an ooze or a string is never seen. So every
travel that crosses a wall, or passes over a skin, retracts (and hops, where the
printer lifts); and at every layer change, as PrusaSlicer does.

Cooling: a layer that prints faster than ``slowdown_below_layer_time`` has its
extrusion moves slowed (not below ``min_print_speed``) until it takes that long,
times taken from the shared motion planner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import shapely

from fabserver.estimate import move_times
from fabserver.profiles import Kinematics
from fabserver.toolpath import Event, EventKind, MoveKind, Toolpath

from .layers import ROLE, ROLES, LayerPaths
from .linking import _ring_between
from .regions import MITRE
from .settings import PrintSettings

_SLOTS = 6  # retract, lift, layer z, travel, lower, unretract


@dataclass(frozen=True)
class Assembled:
    toolpath: Toolpath
    layer_time: np.ndarray  # (L,) s, after the slowdown
    retractions: int


def assemble(
    paths: LayerPaths,
    z_top: np.ndarray,
    quiet_area: np.ndarray,
    s: PrintSettings,
    kin: Kinematics,
    outline: np.ndarray | None = None,
    walkway: np.ndarray | None = None,
) -> Assembled:
    """Build the toolpath of ``paths`` and slow down layers that print too fast.

    quiet_area : (L,) geometries — where a travel may run without retracting
    outline, walkway : (L,) geometries — the layer's slices, and inside them where a
        travel may go round instead of crossing the outer wall (the innermost loop's
        area); without them travels go straight
    """
    n_paths = len(paths.points)
    if n_paths == 0:
        return Assembled(Toolpath.empty(), np.zeros(len(z_top)), 0)
    p = s.printer
    counts = np.array([len(a) for a in paths.points])
    layer = np.asarray(paths.layer)
    z = z_top[layer]
    starts = np.array([a[0] for a in paths.points])
    ends = np.array([a[-1] for a in paths.points])
    origin = np.zeros((1, 2))  # the toolpath starts at (0, 0, 0)
    prev_end = np.vstack([origin, ends[:-1]])
    prev_z = np.concatenate([[0.0], z[:-1]])
    new_layer = np.concatenate([[True], layer[1:] != layer[:-1]])

    retract = _needs_retract(prev_end, starts, layer, quiet_area, p.retract_before_travel)
    retract |= new_layer
    retract[0] = False
    if p.retract_length <= 0:
        retract[:] = False
    lift = retract & (p.retract_lift > 0)
    hop = np.where(lift, p.retract_lift, 0.0)
    detours: dict[int, np.ndarray] = {}
    if outline is not None and walkway is not None:
        detours = _detours(prev_end, starts, layer, retract & ~new_layer, outline, walkway)

    present = np.zeros((n_paths, _SLOTS), dtype=bool)
    present[:, 0] = retract
    present[:, 1] = lift
    present[:, 2] = new_layer
    present[:, 3] = True
    present[:, 4] = lift
    present[:, 5] = retract
    xyz = np.zeros((n_paths, _SLOTS, 3))
    xyz[:, 0, :2] = prev_end
    xyz[:, 0, 2] = prev_z
    xyz[:, 1, :2] = prev_end
    xyz[:, 1, 2] = prev_z + hop
    xyz[:, 2, :2] = prev_end
    xyz[:, 2, 2] = z + hop
    xyz[:, 3, :2] = starts
    xyz[:, 3, 2] = z + hop
    xyz[:, 4, :2] = starts
    xyz[:, 4, 2] = z
    xyz[:, 5, :2] = starts
    xyz[:, 5, 2] = z
    kind = np.full((n_paths, _SLOTS), int(MoveKind.TRAVEL), dtype=np.uint8)
    kind[:, [0, 5]] = int(MoveKind.RETRACT)
    feed = np.full((n_paths, _SLOTS), s.travel_speed)
    feed[:, 0] = p.retract_speed
    feed[:, 5] = p.deretract_speed or p.retract_speed
    feed[:, [1, 2, 4]] = kin.max_feed.z
    e = np.zeros((n_paths, _SLOTS))
    e[:, 0] = -p.retract_length
    e[:, 5] = p.retract_length
    role = np.full((n_paths, _SLOTS), ROLE["travel"], dtype=np.uint8)
    role[:, [0, 5]] = ROLE["retract"]
    path_of_slot = np.repeat(np.arange(n_paths), _SLOTS).reshape(n_paths, _SLOTS)

    # Extrusion moves: every point but the first of each path.
    pts = np.concatenate(paths.points)
    path_of_pt = np.repeat(np.arange(n_paths), counts)
    first_pt = np.concatenate([[0], np.cumsum(counts)[:-1]])
    is_move = np.ones(len(pts), dtype=bool)
    is_move[first_pt] = False
    seg = np.zeros(len(pts))
    seg[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    mv = np.flatnonzero(is_move)
    mpath = path_of_pt[mv]
    ext_xyz = np.column_stack([pts[mv], z[mpath]])
    ext_e = seg[mv] * np.asarray(paths.e_per_mm)[mpath]
    if paths.e_scale:
        # Paths of varying width (gap fill): a factor per move.
        factor = np.ones(len(pts))
        for i, scale in paths.e_scale.items():
            factor[first_pt[i] + 1 : first_pt[i] + counts[i]] = scale
        ext_e *= factor[mv]
    ext_feed = np.asarray(paths.feed)[mpath]
    ext_role = np.asarray(paths.role, dtype=np.uint8)[mpath]

    # Detour waypoints go between the lift (slot 2) and the travel to the start (slot 3).
    way_path = np.array([i for i, w in detours.items() for _ in w], dtype=np.int64)
    way_xy = np.concatenate(list(detours.values())) if detours else np.zeros((0, 2))
    way_xyz = np.column_stack([way_xy, (z + hop)[way_path]])
    n_way = len(way_path)

    m = present.ravel()
    all_path = np.concatenate([path_of_slot.ravel()[m], way_path, mpath])
    # Sort key within a path: slots 0-2, waypoints, slots 3-5, extrusion moves.
    slot_rank = np.where(np.arange(_SLOTS) < 3, np.arange(_SLOTS), np.arange(_SLOTS) + 1)
    sub = np.concatenate(
        [
            np.tile(slot_rank, n_paths)[m],
            np.full(n_way, 3, np.int64),
            np.full(len(mv), _SLOTS + 1, np.int64),
        ]
    )
    order = np.argsort(all_path * (_SLOTS + 2) + sub, kind="stable")
    cat = lambda a, b, c: np.concatenate([a, b, c])[order]  # noqa: E731
    out_xyz = cat(xyz.reshape(-1, 3)[m], way_xyz, ext_xyz)
    out_kind = cat(
        kind.ravel()[m],
        np.full(n_way, int(MoveKind.TRAVEL), np.uint8),
        np.full(len(mv), int(MoveKind.EXTRUDE), np.uint8),
    )
    out_feed = cat(feed.ravel()[m], np.full(n_way, s.travel_speed), ext_feed)
    out_e = cat(e.ravel()[m], np.zeros(n_way), ext_e)
    out_role = cat(role.ravel()[m], np.full(n_way, ROLE["travel"], np.uint8), ext_role)
    out_path = all_path[order]
    out_layer = layer[out_path].astype(np.int32)

    # Layer change events at the first move of each layer's first path.
    first_move = np.searchsorted(out_path, np.flatnonzero(new_layer))
    layers_used = layer[new_layer]
    events = tuple(
        Event(int(i), EventKind.LAYER_CHANGE, float(z_top[k]))
        for i, k in zip(first_move, layers_used, strict=True)
    )
    # Heating before the first layer: the profile's ``heat`` time.
    events = (Event(0, EventKind.HEAT, float(s.first_layer_temperature)), *events)
    n_layers = len(z_top)
    tp = _toolpath(out_xyz, out_kind, out_feed, out_e, out_layer, out_role, events, z_top)
    tp, layer_time = _slow_down(tp, s, kin, n_layers)
    return Assembled(tp, layer_time, int(retract.sum()))


def _toolpath(xyz, kind, feed, e, layer, role, events, z_top) -> Toolpath:
    n = len(kind)
    return Toolpath(
        xyz=np.ascontiguousarray(xyz, dtype=float),
        kind=np.ascontiguousarray(kind, dtype=np.uint8),
        feed=np.ascontiguousarray(feed, dtype=float),
        e=np.ascontiguousarray(e, dtype=float),
        power=np.zeros(n),
        layer=np.ascontiguousarray(layer, dtype=np.int32),
        role=np.ascontiguousarray(role, dtype=np.uint8),
        roles=ROLES,
        events=events,
        start=(0.0, 0.0, 0.0),
        layer_z=tuple(float(v) for v in z_top),
    )


def _needs_retract(
    a: np.ndarray, b: np.ndarray, layer: np.ndarray, quiet_area: np.ndarray, min_length: float
) -> np.ndarray:
    """Travels longer than ``min_length`` that leave their layer's quiet area."""
    length = np.linalg.norm(b - a, axis=1)
    long = length > min_length
    idx = np.flatnonzero(long)
    result = np.zeros(len(a), dtype=bool)
    if idx.size == 0:
        return result
    lines = shapely.linestrings(
        np.stack([a[idx], b[idx]], axis=1).reshape(-1, 2), indices=np.repeat(np.arange(idx.size), 2)
    )
    # A little margin: infill ends touch the area's edge.
    area = shapely.buffer(quiet_area, 0.1, **MITRE)[layer[idx]]
    result[idx] = ~shapely.covered_by(lines, area)
    return result


MAX_DETOUR = 5.0  # a way round at most this many times the straight travel


def _detours(
    a: np.ndarray,
    b: np.ndarray,
    layer: np.ndarray,
    candidates: np.ndarray,
    outline: np.ndarray,
    walkway: np.ndarray,
) -> dict[int, np.ndarray]:
    """Ways round for travels that would cross the outer wall of their own island.

    A travel from one part of an island to another (across the mouth of a C, a
    window, a hole) leaves the part and drags ooze over its visible wall. When
    both ends lie in one part of ``walkway`` it goes along that part's ring
    instead (the shorter way round, at most ``MAX_DETOUR`` times as long, and only
    when it stays inside the outline): PrusaSlicer's "avoid crossing perimeters".
    Returns the waypoints of each travel that goes round, by path index.
    """
    idx = np.flatnonzero(candidates)
    out: dict[int, np.ndarray] = {}
    if idx.size == 0:
        return out
    lines = shapely.linestrings(
        np.stack([a[idx], b[idx]], axis=1).reshape(-1, 2), indices=np.repeat(np.arange(idx.size), 2)
    )
    crossing = ~shapely.covered_by(lines, outline[layer[idx]])
    idx = idx[crossing]
    if idx.size == 0:
        return out
    parts, part_layer = shapely.get_parts(walkway, return_index=True)
    tree = shapely.STRtree(parts)
    pa, pb = shapely.points(a[idx]), shapely.points(b[idx])
    # The part of the travel's own layer each end lies in (every layer's parts are in
    # the one tree, stacked on the same spot).
    part_a = np.full(idx.size, -1)
    part_b = np.full(idx.size, -2)
    # Every layer's parts are in the one tree, stacked on the same spot: the boxes
    # are matched first, those of other layers dropped, and only then the distance
    # measured (the tree's own distance test would measure every layer's parts).
    for ends, found in ((pa, part_a), (pb, part_b)):
        xy = shapely.get_coordinates(ends)
        q, r = tree.query(shapely.box(*(xy - 1.0).T, *(xy + 1.0).T))
        mine = part_layer[r] == layer[idx[q]]
        q, r = q[mine], r[mine]
        near = shapely.dwithin(parts[r], ends[q], 1.0)
        found[q[near]] = r[near]
    same = np.flatnonzero(part_a == part_b)
    if same.size == 0:
        return out
    # The ring each travel cuts (the part's outside, or a hole's; the outside when
    # it cuts several), and where its ends fall along it: shapely over all travels.
    rings, ring_of = shapely.get_rings(parts[part_a[same]], return_index=True)
    cuts = shapely.intersects(rings, lines[crossing][same][ring_of])
    n_cut = np.bincount(ring_of, weights=cuts, minlength=same.size)
    first_ring = np.searchsorted(ring_of, np.arange(same.size))  # the exterior
    cut_ring = np.full(same.size, -1)
    cut_ring[ring_of[cuts][::-1]] = np.flatnonzero(cuts)[::-1]  # the first ring cut
    ring_idx = np.where(n_cut == 1, cut_ring, first_ring)
    ring = rings[ring_idx]
    total = shapely.length(ring)
    s0 = shapely.line_locate_point(ring, pa[same])
    s1 = shapely.line_locate_point(ring, pb[same])
    at0 = shapely.get_coordinates(shapely.line_interpolate_point(ring, s0))
    at1 = shapely.get_coordinates(shapely.line_interpolate_point(ring, s1))
    coords_all, coord_ring = shapely.get_coordinates(ring, return_index=True)
    ring_start = np.searchsorted(coord_ring, np.arange(same.size + 1))
    candidates_way: list[tuple[int, np.ndarray, np.ndarray]] = []
    for k, j in enumerate(same.tolist()):
        straight = float(np.linalg.norm(b[idx[j]] - a[idx[j]]))
        coords = coords_all[ring_start[k] : ring_start[k + 1]]
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(coords, axis=0), axis=1))])
        forward = (s1[k] - s0[k]) % total[k]
        if forward <= total[k] - forward:
            inner = _ring_between(coords, cum, s0[k], s1[k], total[k])
        else:
            inner = _ring_between(coords, cum, s1[k], s0[k], total[k])[::-1]
        way = np.vstack([at0[k : k + 1], inner, at1[k : k + 1]])
        full = np.vstack([a[idx[j]], way, b[idx[j]]])
        length = float(np.linalg.norm(np.diff(full, axis=0), axis=1).sum())
        if length > MAX_DETOUR * straight:
            continue
        candidates_way.append((int(idx[j]), way, full))
    if not candidates_way:
        return out
    fulls = shapely.linestrings(
        np.concatenate([f for _, _, f in candidates_way]),
        indices=np.repeat(np.arange(len(candidates_way)), [len(f) for _, _, f in candidates_way]),
    )
    which = np.array([i for i, _, _ in candidates_way])
    inside = shapely.covered_by(fulls, outline[layer[which]])
    for (i, way, _), ok in zip(candidates_way, inside, strict=True):
        if ok:
            out[i] = way
    return out


def _slow_down(tp: Toolpath, s: PrintSettings, kin: Kinematics, n_layers: int):
    """Slow extrusions of layers shorter than ``slowdown_below_layer_time``."""
    fil = s.filament
    target = fil.slowdown_below_layer_time
    times = move_times(tp, kin)
    layer_time = np.bincount(tp.layer, weights=times, minlength=n_layers)
    if target <= 0 or len(tp) == 0:
        return tp, layer_time
    feed = np.asarray(tp.feed, dtype=float).copy()
    extrude = tp.kind == MoveKind.EXTRUDE
    floor = np.minimum(feed, fil.min_print_speed)
    for _ in range(2):
        ext_time = np.bincount(tp.layer[extrude], weights=times[extrude], minlength=n_layers)
        other = layer_time - ext_time
        slow = (layer_time < target - 0.05) & (ext_time > 0)
        if not slow.any():
            break
        factor = np.ones(n_layers)
        factor[slow] = np.maximum((target - other[slow]) / ext_time[slow], 1.0)
        # Moves of slow layers run ``factor`` times longer (~ feed / factor).
        move_factor = factor[tp.layer]
        feed = np.where(extrude, np.maximum(feed / move_factor, floor), feed)
        tp = dataclasses.replace(tp, feed=feed)
        times = move_times(tp, kin)
        layer_time = np.bincount(tp.layer, weights=times, minlength=n_layers)
        feed = feed.copy()
    return tp, layer_time


def fan_speeds(layer_time: np.ndarray, s: PrintSettings) -> np.ndarray:
    """Fan percentage per layer, PrusaSlicer's rule.

    Off for the first ``disable_fan_first_layers``; ``fan_max`` on layers printed
    in less than ``slowdown_below_layer_time``; from there, falling linearly to
    ``fan_min`` at ``fan_below_layer_time``; ``fan_min`` on longer layers.
    """
    f = s.filament
    t = np.asarray(layer_time, dtype=float)
    fan = np.full(len(t), float(f.fan_min))
    lo, hi = f.slowdown_below_layer_time, f.fan_below_layer_time
    if hi > lo:
        share = np.clip((hi - t) / (hi - lo), 0.0, 1.0)
        fan = f.fan_min + (f.fan_max - f.fan_min) * share
    fan[t <= lo] = f.fan_max
    fan[: f.disable_fan_first_layers] = 0
    return np.round(fan).astype(int)
