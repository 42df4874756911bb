"""Infill lines for the regions of every layer, clipped by GEOS in one call.

Lines of one direction lie on a grid fixed to the bed (offsets are multiples of
the spacing), so sparse infill stacks from layer to layer. Rectilinear turns by
90° every layer; grid lays both directions on every layer at twice the spacing;
triangles three directions at three times the spacing; gyroid follows the
gyroid surface's cross-section at the layer's height (one wave family,
switching family where the other one dominates, as the surface does).
"""

from __future__ import annotations

import numpy as np
import shapely

from .geos import intersection
from .regions import EMPTY


def _clip(lines: np.ndarray, line_layer: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Intersect each layer's lines with its region: ``(L,)`` geometries."""
    n = len(regions)
    out = np.full(n, EMPTY, dtype=object)
    if len(lines) == 0:
        return out
    order = np.argsort(line_layer, kind="stable")
    present, dense = np.unique(line_layer[order], return_inverse=True)
    grouped = shapely.multilinestrings(lines[order], indices=dense)
    out[present] = intersection(grouped, regions[present])
    return out


def hatch(regions: np.ndarray, spacing: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    """Parallel lines ``spacing`` apart at ``angle_deg`` inside each region.

    regions : (L,) geometries; spacing, angle_deg : (L,) float (mm, degrees)
    Returns ``(L,)`` (Multi)LineStrings.
    """
    n = len(regions)
    if n == 0:
        return np.zeros(0, dtype=object)
    bounds = shapely.bounds(regions)
    ok = ~np.isnan(bounds[:, 0]) & (spacing > 0)
    a = np.radians(angle_deg)
    u = np.column_stack([np.cos(a), np.sin(a)])  # along the lines
    v = np.column_stack([-np.sin(a), np.cos(a)])  # across the lines
    corners = np.stack(
        [bounds[:, [0, 1]], bounds[:, [2, 1]], bounds[:, [2, 3]], bounds[:, [0, 3]]], axis=1
    )  # (L, 4, 2)
    cu = np.einsum("lkj,lj->lk", corners, u)
    cv = np.einsum("lkj,lj->lk", corners, v)
    safe = np.where(ok, spacing, 1.0)
    first = np.where(ok, np.ceil(np.nan_to_num(cv.min(axis=1)) / safe), 0)
    last = np.where(ok, np.floor(np.nan_to_num(cv.max(axis=1)) / safe), -1)
    counts = np.maximum(last - first + 1, 0).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.full(n, EMPTY, dtype=object)
    layer = np.repeat(np.arange(n), counts)
    k = first[layer] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    offset = k * spacing[layer]
    umin = np.nan_to_num(cu.min(axis=1))[layer] - 1.0
    umax = np.nan_to_num(cu.max(axis=1))[layer] + 1.0
    base = offset[:, None] * v[layer]
    p0 = base + umin[:, None] * u[layer]
    p1 = base + umax[:, None] * u[layer]
    coords = np.stack([p0, p1], axis=1).reshape(-1, 2)
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(total), 2))
    return _clip(lines, layer, regions)


def gyroid(regions: np.ndarray, spacing: np.ndarray, z: np.ndarray, angle_deg: float) -> np.ndarray:
    """Gyroid cross-sections at heights ``z``, waves ``spacing`` apart, clipped to ``regions``.

    The gyroid ``sin x cos y + sin y cos z + sin z cos x = 0`` cut at height z
    is, solved for y, ``y = asin(-sin z cos x / R) - atan2(sin x, cos z)`` with
    ``R = hypot(sin x, cos z)`` (and the mirror branch), repeating every 2π;
    where ``sin z`` dominates the roles of x and y swap.
    """
    n = len(regions)
    bounds = shapely.bounds(regions)
    ok = ~np.isnan(bounds[:, 0]) & (spacing > 0)
    all_coords, all_index, all_layer = [], [], []
    line_id = 0
    rot = np.radians(angle_deg)
    c, s = np.cos(rot), np.sin(rot)
    for i in np.flatnonzero(ok):
        scale = spacing[i] / np.pi  # mm per gyroid unit: neighbouring waves π apart
        zz = z[i] / scale
        x0, y0, x1, y1 = bounds[i]
        # Work in a frame rotated by the fill angle; cover the region's bounds.
        half = 0.5 * np.hypot(x1 - x0, y1 - y0) + spacing[i]
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        swap = abs(np.sin(zz)) > abs(np.cos(zz))
        # t runs along the waves (u, or v when swapped), w across them.
        u_c, v_c = (cx * c + cy * s) / scale, (-cx * s + cy * c) / scale
        t_c, centre_w = (u_c, v_c) if not swap else (v_c, u_c)
        t = np.arange(-half, half + 1e-9, spacing[i] / 4.0) / scale
        t = t + np.floor(t_c / (2 * np.pi)) * 2 * np.pi
        # Solve a·cos(w) + b·sin(w) = rhs for w (y, or x when swapped).
        if not swap:
            a, b, rhs = np.sin(t), np.full_like(t, np.cos(zz)), -np.sin(zz) * np.cos(t)
        else:
            a, b, rhs = np.full_like(t, np.sin(zz)), np.cos(t), -np.sin(t) * np.cos(zz)
        r = np.hypot(a, b)
        ratio = rhs / np.maximum(r, 1e-9)
        # Where |ratio| > 1 there is no solution: the curve turns back there, so the
        # wave is cut into runs of valid samples (no clamped, doubled stretches).
        valid = np.abs(ratio) <= 1.0
        run = np.cumsum(~valid)[valid]
        starts = np.concatenate([[True], run[1:] != run[:-1]]) if run.size else run
        run_index = np.cumsum(starts) - 1
        n_runs = int(run_index[-1]) + 1 if run.size else 0
        long_runs = np.bincount(run_index, minlength=n_runs) >= 2 if n_runs else np.zeros(0, bool)
        keep = long_runs[run_index] if n_runs else np.zeros(0, bool)
        phase = np.arcsin(ratio[valid])
        phi = np.unwrap(np.arctan2(a, b))[valid]  # no 2π jumps: one curve stays one curve
        tv = t[valid]
        kmin = int(np.floor((centre_w - half / scale) / (2 * np.pi))) - 1
        kmax = int(np.ceil((centre_w + half / scale) / (2 * np.pi))) + 1
        if not keep.any():
            continue
        _, dense_run = np.unique(run_index[keep], return_inverse=True)
        runs_here = int(dense_run.max()) + 1
        for branch in (phase - phi, np.pi - phase - phi):
            for k in range(kmin, kmax + 1):
                w = (branch + 2 * np.pi * k)[keep]
                u, v = (tv[keep], w) if not swap else (w, tv[keep])
                x = (u * c - v * s) * scale
                y = (u * s + v * c) * scale
                all_coords.append(np.column_stack([x, y]))
                all_index.append(line_id + dense_run)
                all_layer.extend([i] * runs_here)
                line_id += runs_here
    if not all_coords:
        return np.full(n, EMPTY, dtype=object)
    lines = shapely.linestrings(np.vstack(all_coords), indices=np.concatenate(all_index))
    return _clip(lines, np.asarray(all_layer), regions)


def infill_lines(
    regions: np.ndarray,
    line_spacing: np.ndarray,
    pattern: str,
    base_angle: float,
    z: np.ndarray,
) -> list[np.ndarray]:
    """Sparse infill of every layer as a list of ``(L,)`` line geometries (one per direction)."""
    n = len(regions)
    layer = np.arange(n)
    if pattern == "rectilinear":
        return [hatch(regions, line_spacing, base_angle + 90.0 * (layer % 2))]
    if pattern == "grid":
        return [
            hatch(regions, 2 * line_spacing, np.full(n, base_angle)),
            hatch(regions, 2 * line_spacing, np.full(n, base_angle + 90.0)),
        ]
    if pattern == "triangles":
        return [
            hatch(regions, 3 * line_spacing, np.full(n, base_angle + d)) for d in (0.0, 60.0, 120.0)
        ]
    if pattern == "gyroid":
        return [gyroid(regions, line_spacing, z, base_angle)]
    raise ValueError(f"unknown fill pattern {pattern!r}")
