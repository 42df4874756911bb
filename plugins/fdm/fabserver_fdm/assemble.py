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
) -> Assembled:
    """Build the toolpath of ``paths`` and slow down layers that print too fast.

    quiet_area : (L,) geometries — where a travel may run without retracting
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

    m = present.ravel()
    all_path = np.concatenate([path_of_slot.ravel()[m], mpath])
    group = np.concatenate([np.zeros(int(m.sum()), np.int64), np.ones(len(mv), np.int64)])
    order = np.argsort(all_path * 2 + group, kind="stable")
    cat = lambda a, b: np.concatenate([a, b])[order]  # noqa: E731
    out_xyz = cat(xyz.reshape(-1, 3)[m], ext_xyz)
    out_kind = cat(kind.ravel()[m], np.full(len(mv), int(MoveKind.EXTRUDE), np.uint8))
    out_feed = cat(feed.ravel()[m], ext_feed)
    out_e = cat(e.ravel()[m], ext_e)
    out_role = cat(role.ravel()[m], ext_role)
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
