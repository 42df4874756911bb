"""From a 2D tool-centre path to 3D passes: step-downs, ramped or plunged entry, tabs.

A pass is an ``(m, 3)`` polyline whose first point is where the tool enters the
material; the moves go from each point to the next. The arc length ``s`` along
the 2D path travels with the points so tabs can be placed by distance.
"""

from __future__ import annotations

import math

import numpy as np

MAX_HELIX_LAPS = 20
"""A ring so short that ramping would need more laps than this is entered by plunging."""


def step_levels(z_top: float, z_final: float, step_down: float) -> np.ndarray:
    """``(n,) float``: depths from just below ``z_top`` to ``z_final``, evenly split.

    Even steps (rather than full steps and a thin last one) load the tool the same
    on every pass.
    """
    depth = z_top - z_final
    if depth <= 1e-9:
        return np.array([z_final])
    n = max(1, math.ceil(depth / step_down - 1e-9))
    return z_top - depth * np.arange(1, n + 1) / n


def _cumulative(points: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(seg)])


def _closed(ring: np.ndarray) -> np.ndarray:
    return np.vstack([ring, ring[:1]])


def _sample(path: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points at arc lengths ``s`` along ``path`` (``c`` its cumulative lengths)."""
    return np.column_stack([np.interp(s, c, path[:, 0]), np.interp(s, c, path[:, 1])])


def ramp_length(dz: float, angle_deg: float) -> float:
    """Distance along the path to go down ``dz`` at ``angle_deg`` (0: plunge)."""
    if angle_deg <= 0 or dz <= 0:
        return 0.0
    return dz / math.tan(math.radians(angle_deg))


def ring_pass(
    ring: np.ndarray, z_top: float, levels: np.ndarray, ramp_angle: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Laps of a closed ring at each level, entered by a helical ramp (or a plunge).

    ring : (n, 2) float, millimetres, not closed
    levels : (k,) float, depths below ``z_top`` in cutting order

    Each level ramps down along the ring from the previous depth, then runs one
    full lap at depth, which also flattens the ramp. Returns the pass ``(m, 3)``,
    the arc length ``(m,)`` of each point (growing over laps) and the ring length.
    """
    closed = _closed(ring)
    c = _cumulative(closed)
    length = float(c[-1])
    vertex_s = c[:-1]
    pts_s: list[np.ndarray] = [np.array([0.0])]
    pts_z: list[np.ndarray] = [np.array([z_top])]
    s0, z_prev = 0.0, z_top
    for z in levels:
        ramp = ramp_length(z_prev - z, ramp_angle)
        if ramp > MAX_HELIX_LAPS * length or length < 1e-6:
            ramp = 0.0
        end = s0 + ramp + length
        laps = np.arange(math.floor(s0 / length), math.ceil(end / length) + 1)
        s = (vertex_s[None, :] + laps[:, None] * length).ravel()
        s = np.union1d(s[(s > s0) & (s < end)], [s0 + ramp, end])
        if ramp > 0:
            zs = np.interp(s, [s0, s0 + ramp], [z_prev, z])
        else:
            s = np.concatenate([[s0], s])  # plunge: straight down where we are
            zs = np.full(len(s), z)
        pts_s.append(s)
        pts_z.append(zs)
        s0, z_prev = end, z
    s_all = np.concatenate(pts_s)
    xy = _sample(closed, c, np.mod(s_all, length) if length > 0 else s_all)
    # s exactly on a lap boundary maps to 0: the same point as the ring's end.
    return np.column_stack([xy, np.concatenate(pts_z)]), s_all, length


def open_pass(line: np.ndarray, z_top: float, levels: np.ndarray, ramp_angle: float) -> np.ndarray:
    """An open path at each level, alternating direction, entered by a zig-zag ramp.

    line : (n, 2) float, millimetres

    The ramp goes back and forth over the start of the path until it is at depth,
    comes back to the start if it ended away from it, then follows the path.
    """
    c_fwd = _cumulative(line)
    length = float(c_fwd[-1])
    out: list[np.ndarray] = [np.array([[*line[0], z_top]])]
    path = line
    z_prev = z_top
    for z in levels:
        c = _cumulative(path)
        ramp = ramp_length(z_prev - z, ramp_angle)
        if ramp > 0 and length > 1e-3:
            span = min(ramp, length)
            legs = max(1, math.ceil(ramp / span - 1e-9))
            inner = c[(c > 0) & (c < span)]
            fwd_s = np.concatenate([[0.0], inner, [span]])
            back_s = fwd_s[::-1]
            zs_legs = z_prev + (z - z_prev) * np.arange(legs + 1) / legs
            for leg in range(legs):
                s_leg = fwd_s if leg % 2 == 0 else back_s
                frac = (s_leg - s_leg[0]) / max(abs(s_leg[-1] - s_leg[0]), 1e-12)
                zs = zs_legs[leg] + (zs_legs[leg + 1] - zs_legs[leg]) * np.abs(frac)
                out.append(np.column_stack([_sample(path, c, s_leg[1:]), zs[1:]]))
            if legs % 2 == 1:  # at the end of the ramp: back to the start at depth
                out.append(
                    np.column_stack([_sample(path, c, back_s[1:]), np.full(len(back_s) - 1, z)])
                )
        else:
            out.append(np.array([[*path[0], z]]))
        out.append(np.column_stack([path[1:], np.full(len(path) - 1, z)]))
        z_prev = z
        path = path[::-1]
    return np.vstack(out)


def tab_spans(length: float, count: int, span: float) -> np.ndarray:
    """``(k,) float`` start of each tab span along a ring, evenly spaced, between tabs at 0.

    Fewer tabs when the ring is too short for ``count`` spans with room between them.
    """
    if count <= 0 or span <= 0 or length <= 0:
        return np.zeros(0)
    count = min(count, int(length // (2.0 * span)))
    if count <= 0:
        return np.zeros(0)
    centres = (np.arange(count) + 0.5) * length / count
    return centres - span / 2.0


def apply_tabs(
    points: np.ndarray,
    s: np.ndarray,
    length: float,
    starts: np.ndarray,
    span: float,
    tab_top: float,
) -> np.ndarray:
    """Lift the pass to ``tab_top`` over each tab span wherever it runs deeper.

    Points are inserted at the span ends (twice: below and above), so the tool
    rises and comes down vertically at the span ends.
    """
    if len(starts) == 0 or not (points[:, 2] < tab_top - 1e-9).any():
        return points
    laps = np.arange(math.floor(s.min() / length), math.ceil(s.max() / length) + 1)
    begin = (starts[None, :] + laps[:, None] * length).ravel()
    end = begin + span
    lo, hi = s[0], s[-1]
    begin = begin[(begin > lo) & (begin < hi)]
    end = end[(end > lo) & (end < hi)]

    def at(bs: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(s, bs, side="right"), 1, len(s) - 1)
        ds = s[j] - s[j - 1]
        t = np.where(ds > 0, (bs - s[j - 1]) / np.where(ds > 0, ds, 1.0), 1.0)
        return points[j - 1] + t[:, None] * (points[j] - points[j - 1])

    rel = np.mod(s[:, None] - starts[None, :], length)
    inside = ((rel > 1e-9) & (rel < span - 1e-9)).any(axis=1)
    # Sort keys: at a span start the point below comes first, at a span end the point above.
    all_s = np.concatenate([s, begin, begin, end, end])
    order_key = np.concatenate(
        [
            np.arange(len(s)) * 0 + 0.5,
            np.zeros(len(begin)),
            np.ones(len(begin)),
            np.zeros(len(end)),
            np.ones(len(end)),
        ]
    )
    flags = np.concatenate(
        [
            inside,
            np.zeros(len(begin), bool),
            np.ones(len(begin), bool),
            np.ones(len(end), bool),
            np.zeros(len(end), bool),
        ]
    )
    pts = np.vstack([points, at(begin), at(begin), at(end), at(end)])
    seq = np.concatenate([np.arange(len(s)), np.full(2 * len(begin) + 2 * len(end), -1)])
    # Original points keep their order among equal s (vertical moves), inserted ones follow keys.
    order = np.lexsort((seq, order_key, all_s))
    pts, flags = pts[order], flags[order]
    pts[:, 2] = np.where(flags, np.maximum(pts[:, 2], tab_top), pts[:, 2])
    return pts
