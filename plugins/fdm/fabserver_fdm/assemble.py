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

import numpy as np
import shapely

from fabserver.estimate import (
    FEATURE_ACCELERATIONS,
    keep_move_times,
    move_accelerations,
    move_times_at,
)
from fabserver.profiles import Kinematics
from fabserver.toolpath import Event, EventKind, MoveKind, Toolpath, row_norms

from .layers import ROLE, ROLES, LayerPaths
from .regions import MITRE
from .settings import PrintSettings

_SLOTS = 6  # retract, lift, layer z, travel, lower, unretract


def toolpath_of(
    paths: LayerPaths,
    z_top: np.ndarray,
    quiet_area: np.ndarray,
    s: PrintSettings,
    kin: Kinematics,
    outline: np.ndarray | None = None,
    walkway: np.ndarray | None = None,
) -> tuple[Toolpath, int]:
    """The toolpath of ``paths`` at their own feeds, and how many travels retract.

    quiet_area : (L,) geometries — where a travel may run without retracting
    outline, walkway : (L,) geometries — the layer's slices, and inside them where a
        travel may go round instead of crossing the outer wall (the innermost loop's
        area); without them travels go straight

    The cooling slowdown (:func:`slowed_down`) is a call of its own: the paths and
    the areas are read here only, and the caller frees them before the slowdown
    plans every move (its peak).
    """
    if len(paths.points) == 0:
        return Toolpath.empty(), 0
    return _unslowed(paths, z_top, quiet_area, s, kin, outline, walkway)


def slowed_down(
    tp: Toolpath, s: PrintSettings, kin: Kinematics, n_layers: int
) -> tuple[Toolpath, np.ndarray]:
    """``tp`` with the layers that print too fast slowed down, and each layer's time
    (``(n_layers,)`` s, after the slowdown)."""
    if len(tp) == 0:
        return tp, np.zeros(n_layers)
    return _slow_down(tp, s, kin, n_layers)


def _unslowed(
    paths: LayerPaths,
    z_top: np.ndarray,
    quiet_area: np.ndarray,
    s: PrintSettings,
    kin: Kinematics,
    outline: np.ndarray | None,
    walkway: np.ndarray | None,
) -> tuple[Toolpath, int]:
    """The toolpath of ``paths`` at their own feeds, and how many travels retract."""
    n_paths = len(paths.points)
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

    # Extrusion moves: every point but the first of each path.
    pts = np.concatenate(paths.points)
    path_of_pt = np.repeat(np.arange(n_paths), counts)
    first_pt = np.concatenate([[0], np.cumsum(counts)[:-1]])
    is_move = np.ones(len(pts), dtype=bool)
    is_move[first_pt] = False
    seg = np.zeros(len(pts))
    seg[1:] = row_norms(np.diff(pts, axis=0))
    mv = np.flatnonzero(is_move)
    mpath = path_of_pt[mv]
    ext_e = seg[mv] * np.asarray(paths.e_per_mm)[mpath]
    if paths.e_scale:
        # Paths of varying width (gap fill): a factor per move.
        factor = np.ones(len(pts))
        for i, scale in paths.e_scale.items():
            factor[first_pt[i] + 1 : first_pt[i] + counts[i]] = scale
        ext_e *= factor[mv]

    # Detour waypoints go between the lift (slot 2) and the travel to the start (slot 3).
    way_count = np.array([len(w) for w in detours.values()], dtype=np.int64)
    way_path = np.repeat(np.fromiter(detours, dtype=np.int64, count=len(detours)), way_count)
    way_xy = np.concatenate(list(detours.values())) if detours else np.zeros((0, 2))
    n_way = len(way_path)

    # Each path's moves in the toolpath: slots 0-2, waypoints, slots 3-5, extrusion moves.
    # Where each goes is counted out (a block per path, in path order), and the moves are
    # written there: no sort, no concatenation of the three kinds.
    before_way = present[:, :3].sum(axis=1)
    ways_of = np.bincount(way_path, minlength=n_paths)
    block = before_way + ways_of + present[:, 3:].sum(axis=1) + (counts - 1)
    block_start = np.concatenate([[0], np.cumsum(block)[:-1]])
    n_out = int(block.sum())
    m = present.ravel()
    slot_rank = (np.cumsum(present, axis=1) - 1) + np.where(
        np.arange(_SLOTS) >= 3, ways_of[:, None], 0
    )
    slot_at = (block_start[:, None] + slot_rank).ravel()[m]
    way_rank = np.arange(n_way) - np.repeat(np.cumsum(way_count) - way_count, way_count)
    way_at = block_start[way_path] + before_way[way_path] + way_rank
    moves_before = np.concatenate([[0], np.cumsum(counts - 1)[:-1]])  # of each path, in mv
    move_at = (
        block_start[mpath]
        + (block - (counts - 1))[mpath]
        + np.arange(len(mv))
        - moves_before[mpath]
    )

    out_xyz = np.empty((n_out, 3))
    out_xyz[slot_at] = xyz.reshape(-1, 3)[m]
    out_xyz[way_at, :2] = way_xy
    out_xyz[way_at, 2] = (z + hop)[way_path]
    out_xyz[move_at, :2] = pts[mv]
    out_xyz[move_at, 2] = z[mpath]
    out_kind = np.full(n_out, int(MoveKind.EXTRUDE), np.uint8)
    out_kind[slot_at] = kind.ravel()[m]
    out_kind[way_at] = int(MoveKind.TRAVEL)
    out_feed = np.empty(n_out)
    out_feed[slot_at] = feed.ravel()[m]
    out_feed[way_at] = s.travel_speed
    out_feed[move_at] = np.asarray(paths.feed)[mpath]
    out_e = np.zeros(n_out)
    out_e[slot_at] = e.ravel()[m]
    out_e[move_at] = ext_e
    out_role = np.empty(n_out, np.uint8)
    out_role[slot_at] = role.ravel()[m]
    out_role[way_at] = ROLE["travel"]
    out_role[move_at] = np.asarray(paths.role, dtype=np.uint8)[mpath]
    out_layer = np.repeat(layer, block).astype(np.int32)

    # Layer change events at the first move of each layer's first path.
    first_move = block_start[new_layer]
    layers_used = layer[new_layer]
    events = tuple(
        Event(int(i), EventKind.LAYER_CHANGE, float(z_top[k]))
        for i, k in zip(first_move, layers_used, strict=True)
    )
    # Heating before the first layer: the profile's ``heat`` time.
    events = (Event(0, EventKind.HEAT, float(s.first_layer_temperature)), *events)
    tp = _toolpath(out_xyz, out_kind, out_feed, out_e, out_layer, out_role, events, z_top)
    return tp, int(retract.sum())


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
    length = row_norms(b - a)
    long = length > min_length
    idx = np.flatnonzero(long)
    result = np.zeros(len(a), dtype=bool)
    if idx.size == 0:
        return result
    lines = shapely.linestrings(
        np.stack([a[idx], b[idx]], axis=1).reshape(-1, 2), indices=np.repeat(np.arange(idx.size), 2)
    )
    # A little margin: infill ends touch the area's edge.
    area = shapely.buffer(quiet_area, 0.1, **MITRE)
    shapely.prepare(area)  # one index per layer's area, for all its travels
    result[idx] = ~shapely.covers(area[layer[idx]], lines)
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
    # Prepared (in place: the same polygons, with an index), each layer's outline
    # answers all its travels' tests five times faster: covers(b, a) is covered_by(a, b).
    shapely.prepare(outline)
    crossing = ~shapely.covers(outline[layer[idx]], lines)
    idx = idx[crossing]
    if idx.size == 0:
        return out
    parts, part_layer = shapely.get_parts(walkway, return_index=True)
    pa, pb = shapely.points(a[idx]), shapely.points(b[idx])
    # The part of the travel's own layer each end lies in.
    part_a = _part_near(parts, part_layer, pa, layer[idx], -1)
    part_b = _part_near(parts, part_layer, pb, layer[idx], -2)
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
    # The shorter way round, from s0 to s1 forwards or from s1 to s0 backwards.
    forward = (s1 - s0) % total
    ahead = forward <= total - forward
    u, v = np.where(ahead, s0, s1), np.where(ahead, s1, s0)
    # Each ring's arc positions (``linking._ring_between``'s): its side lengths are worked
    # out for all rings at once (element-wise: the same numbers), summed ring by ring;
    # the vertices strictly between u and v are those counted below.
    side = row_norms(np.diff(coords_all, axis=0))
    pos = np.empty(len(coords_all))  # each ring's arc position of its vertices (its last: +inf)
    for lo, hi in zip(ring_start[:-1].tolist(), ring_start[1:].tolist(), strict=True):
        pos[lo] = 0.0
        np.cumsum(side[lo : hi - 2], out=pos[lo + 1 : hi - 1])
        pos[hi - 1] = np.inf
    after = np.add.reduceat(pos <= u[coord_ring], ring_start[:-1]) + ring_start[:-1]
    before = np.add.reduceat(pos < v[coord_ring], ring_start[:-1]) + ring_start[:-1]
    last = ring_start[1:] - 1  # the closing vertex, the first's repeat
    ways = []
    for k in range(same.size):
        if u[k] <= v[k]:
            inner = coords_all[after[k] : before[k]]
        else:
            inner = np.vstack(
                [coords_all[after[k] : last[k]], coords_all[ring_start[k] : before[k]]]
            )
        ways.append(np.vstack([at0[k : k + 1], inner if ahead[k] else inner[::-1], at1[k : k + 1]]))
    travel = idx[same]
    fulls_xy = np.concatenate(
        [np.vstack([a[i : i + 1], w, b[i : i + 1]]) for i, w in zip(travel, ways, strict=True)]
    )
    counts = np.array([len(w) + 2 for w in ways])
    # At most MAX_DETOUR times the straight travel: the lengths summed per way (and the
    # straight travels' norms) over all at once; a way within a hair of the limit is
    # measured again as one array, as numpy sums it.
    seg = row_norms(np.diff(fulls_xy, axis=0))
    way_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    length = np.add.reduceat(seg, way_start) - np.concatenate([seg, [0.0]])[way_start + counts - 1]
    straight = row_norms(b[travel] - a[travel])
    short = length <= MAX_DETOUR * straight
    close = np.abs(length - MAX_DETOUR * straight) <= 1e-9 * length
    for k in np.flatnonzero(close).tolist():
        i = travel[k]
        full = fulls_xy[way_start[k] : way_start[k] + counts[k]]
        exact = float(np.linalg.norm(np.diff(full, axis=0), axis=1).sum())
        short[k] = not exact > MAX_DETOUR * float(np.linalg.norm(b[i] - a[i]))
    keep = np.flatnonzero(short)
    if keep.size == 0:
        return out
    rows = np.repeat(
        way_start[keep] - np.concatenate([[0], np.cumsum(counts[keep])[:-1]]), counts[keep]
    )
    fulls = shapely.linestrings(
        fulls_xy[np.arange(rows.size) + rows], indices=np.repeat(np.arange(keep.size), counts[keep])
    )
    inside = shapely.covers(outline[layer[travel[keep]]], fulls)
    for k in keep[inside].tolist():
        out[int(travel[k])] = ways[k]
    return out


def _part_near(
    parts: np.ndarray, part_layer: np.ndarray, ends: np.ndarray, end_layer: np.ndarray, none: int
) -> np.ndarray:
    """For each point of ``ends``, the part of its own layer (``parts`` of every layer,
    ``part_layer`` theirs) within 1 mm of it, else ``none``; of several, the last the
    tree of ``parts`` lists for the point's box.

    The layers are laid side by side along x (each part's box moved by its layer
    times a pitch wider than any layer), so the box query meets the parts of the
    point's own layer and not those stacked on the same spot in every other layer;
    the boxes met are then tested as the tree tests them (the moves, rounded,
    keep their order: none is missed), and the distance measured on the parts.
    """
    found = np.full(len(ends), none)
    if len(ends) == 0 or len(parts) == 0:
        return found
    bounds = shapely.bounds(parts)
    real = np.flatnonzero(~np.isnan(bounds[:, 0]))  # an empty part has no box, meets nothing
    if real.size == 0:
        return found
    xy = shapely.get_coordinates(ends)
    pitch = float(bounds[real, 2].max() - bounds[real, 0].min()) + 4.0
    lo, hi = xy - 1.0, xy + 1.0
    box = bounds[real]
    shift = part_layer[real] * pitch
    moved = shapely.box(box[:, 0] + shift, box[:, 1], box[:, 2] + shift, box[:, 3])
    q, r = shapely.STRtree(moved).query(
        shapely.box(lo[:, 0] + end_layer * pitch, lo[:, 1], hi[:, 0] + end_layer * pitch, hi[:, 1])
    )
    r = real[r]
    meets = (
        (part_layer[r] == end_layer[q])
        & (lo[q, 0] <= bounds[r, 2])
        & (hi[q, 0] >= bounds[r, 0])
        & (lo[q, 1] <= bounds[r, 3])
        & (hi[q, 1] >= bounds[r, 1])
    )
    q, r = q[meets], r[meets]
    near = shapely.dwithin(parts[r], ends[q], 1.0)
    q, r = q[near], r[near]
    several = np.bincount(q, minlength=len(ends)) > 1
    found[q] = r
    if several.any():  # which is last is the order of the tree of the parts themselves
        which = np.flatnonzero(several)
        q, r = shapely.STRtree(parts).query(shapely.box(*lo[which].T, *hi[which].T))
        mine = part_layer[r] == end_layer[which[q]]
        q, r = q[mine], r[mine]
        near = shapely.dwithin(parts[r], ends[which[q]], 1.0)
        found[which[q[near]]] = r[near]
    return found


def _slow_down(tp: Toolpath, s: PrintSettings, kin: Kinematics, n_layers: int):
    """Slow extrusions of layers shorter than ``slowdown_below_layer_time``."""
    fil = s.filament
    target = fil.slowdown_below_layer_time
    # The accelerations the file sets per feature (Klipper), as the estimate plans them.
    given = {key: getattr(s.printer, key) for key in FEATURE_ACCELERATIONS}
    accel = move_accelerations(tp, kin, given)
    times_at = move_times_at(tp, kin, accel)  # the moves' geometry, for both feeds below
    times = times_at(tp.feed)
    keep_move_times(tp, kin, accel, times)
    layer_time = np.bincount(tp.layer, weights=times, minlength=n_layers)
    extrude = tp.kind == MoveKind.EXTRUDE
    has_extrusion = np.bincount(tp.layer[extrude], minlength=n_layers) > 0
    slow = (layer_time < target) & has_extrusion
    if target <= 0 or not slow.any():
        return tp, layer_time
    scale = cooling_feed_scale(tp, kin, slow, target, fil.min_print_speed, accel)
    tp = dataclasses.replace(tp, feed=_scaled_feeds(tp, scale, fil.min_print_speed))
    times = times_at(tp.feed)
    keep_move_times(tp, kin, accel, times)  # the plan's estimate takes them
    layer_time = np.bincount(tp.layer, weights=times, minlength=n_layers)
    return tp, layer_time


def _scaled_feeds(tp: Toolpath, scale: np.ndarray, min_speed: float) -> np.ndarray:
    """Extrusion feeds times their layer's ``scale``, never below ``min_speed`` (nor
    raised to it: a move already slower keeps its feed)."""
    feed = np.asarray(tp.feed, dtype=float)
    floor = np.minimum(feed, min_speed)
    slowed = np.maximum(feed * scale[tp.layer], floor)
    return np.where(tp.kind == MoveKind.EXTRUDE, slowed, feed)


def cooling_feed_scale(
    tp: Toolpath,
    kin: Kinematics,
    slow: np.ndarray,
    target: float,
    min_speed: float,
    move_accel: np.ndarray | None = None,
    tolerance: float = 0.005,
    max_rounds: int = 40,
) -> np.ndarray:
    """``(L,)`` factor on the extrusion feeds of each layer so that the layers marked
    ``slow`` take ``target`` seconds as the firmware runs them (1 for the others).

    Short moves are bound by acceleration, so a layer's time does not grow as 1 / feed:
    the scale is solved on the estimator's own per-move times. All slow layers are
    solved at once by a bracketed false position (Illinois) on ``x = 1 / scale``, the
    time being close to affine in ``x``; the answer is the bracket's slow end, so each
    layer takes ``target`` to ``target × (1 + tolerance)``, or as long as it can when
    every extrusion is at ``min_speed``. PrusaSlicer solves the same problem on its own
    times (``CoolingBuffer``); no library does this for a toolpath.
    """
    n_layers = len(slow)
    scale = np.ones(n_layers)
    idx, counted = _layers_moves(tp, slow)
    sub = _moves_of(tp, idx)
    sub_accel = None if move_accel is None else np.asarray(move_accel)[idx]
    layers = np.asarray(sub.layer)
    extrude = sub.kind == MoveKind.EXTRUDE
    feed = np.asarray(sub.feed, dtype=float)
    # Beyond x_max every extrusion of the layer is at min_speed: slowing more changes nothing.
    x_max = np.ones(n_layers)
    moving = extrude & (feed > min_speed)
    np.maximum.at(x_max, layers[moving], feed[moving] / min_speed)

    # The slow layers' moves are planned at each trial's feeds: their lengths,
    # directions and limits are worked out once.
    times_at = move_times_at(sub, kin, sub_accel)

    def layer_times(x: np.ndarray) -> np.ndarray:
        per_move = np.where(counted, times_at(_scaled_feeds(sub, 1.0 / x, min_speed)), 0.0)
        return np.bincount(layers, weights=per_move, minlength=n_layers)

    fast_x, fast_t = np.ones(n_layers), layer_times(np.ones(n_layers))
    slow_x = np.where(slow, x_max, 1.0)
    slow_t = layer_times(slow_x)
    slow_x[slow & (fast_t >= target)] = 1.0  # long enough already, seen alone
    active = slow & (slow_t > target) & (fast_t < target)
    # Illinois: an end kept k rounds in a row weighs 2^-k, so both ends move.
    fast_kept = np.zeros(n_layers)
    slow_kept = np.zeros(n_layers)
    for _ in range(max_rounds):
        # Done: close enough above the target, or the bracket closed on a jump in time.
        active &= (slow_t > target * (1.0 + tolerance)) & (slow_x - fast_x > 1e-6 * slow_x)
        if not active.any():
            break
        below = (target - fast_t) * 0.5**fast_kept
        above = (slow_t - target) * 0.5**slow_kept
        share = below / np.maximum(below + above, 1e-12)
        x = np.where(active, fast_x + (slow_x - fast_x) * share, 1.0)
        t = layer_times(x)
        enough = active & (t >= target)
        short = active & ~enough
        slow_x, slow_t = np.where(enough, x, slow_x), np.where(enough, t, slow_t)
        fast_x, fast_t = np.where(short, x, fast_x), np.where(short, t, fast_t)
        slow_kept = np.where(short, slow_kept + 1, np.where(enough, 0, slow_kept))
        fast_kept = np.where(enough, fast_kept + 1, np.where(short, 0, fast_kept))
    scale[slow] = 1.0 / slow_x[slow]
    return scale


def _layers_moves(tp: Toolpath, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the moves of the ``chosen`` layers, each run of them preceded by the
    move before it (so that its first move starts where it does in ``tp``), and which of
    them are the chosen layers' own: the preceding moves count for their end point only."""
    mine = chosen[tp.layer]
    lead = np.zeros_like(mine)
    lead[:-1] = mine[1:] & ~mine[:-1]
    idx = np.flatnonzero(mine | lead)
    return idx, mine[idx]


def _moves_of(tp: Toolpath, idx: np.ndarray) -> Toolpath:
    """The moves ``idx`` (increasing) of ``tp`` as a toolpath of their own, events kept."""
    keep = np.zeros(len(tp), dtype=bool)
    keep[idx] = True
    position = np.cumsum(keep) - 1
    events = tuple(
        dataclasses.replace(ev, index=int(position[ev.index]))
        for ev in tp.events
        if ev.index < len(tp) and keep[ev.index]
    )
    return dataclasses.replace(
        tp,
        xyz=tp.xyz[idx],
        kind=tp.kind[idx],
        feed=tp.feed[idx],
        e=tp.e[idx],
        power=tp.power[idx],
        layer=tp.layer[idx],
        role=tp.role[idx],
        events=events,
        start=tuple(float(v) for v in tp.starts[int(idx[0])]),
    )


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
