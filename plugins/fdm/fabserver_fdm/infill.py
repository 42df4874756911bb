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

#: PrusaSlicer's ``FillGyroid::DensityAdjust``: gyroid units per line spacing.
GYROID_DENSITY_ADJUST = 2.44
MIN_PIECE = 1e-9  # mm: shorter stretches of a line inside a region are a touched vertex


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

    Hand-written scanline clipping rather than a GEOS overlay per layer: the
    lines are straight and parallel, so each one's inside stretches are the
    sorted crossings of the region's edges with it, taken in pairs (even-odd),
    all layers in one numpy pass. An edge counts for the lines at or above its
    lower end and below its upper end, so a line through a vertex is crossed
    once and an edge lying on a line not at all.
    """
    n = len(regions)
    out = np.full(n, EMPTY, dtype=object)
    if n == 0:
        return np.zeros(0, dtype=object)
    parts, part_layer = shapely.get_parts(regions, return_index=True)
    polys = shapely.get_type_id(parts) == 3
    rings, ring_part = shapely.get_rings(parts[polys], return_index=True)
    if len(rings) == 0:
        return out
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    # Edges join consecutive points of one ring (rings repeat their first point).
    same = ring_of[1:] == ring_of[:-1]
    a_pt, b_pt = coords[:-1][same], coords[1:][same]
    layer = part_layer[polys][ring_part][ring_of[:-1][same]]
    sp = spacing[layer]
    keep = sp > 0
    a_pt, b_pt, layer, sp = a_pt[keep], b_pt[keep], layer[keep], sp[keep]
    angle = np.radians(angle_deg)
    u_dir = np.column_stack([np.cos(angle), np.sin(angle)])  # along the lines
    v_dir = np.column_stack([-np.sin(angle), np.cos(angle)])  # across the lines
    ua = np.einsum("ij,ij->i", a_pt, u_dir[layer])
    ub = np.einsum("ij,ij->i", b_pt, u_dir[layer])
    va = np.einsum("ij,ij->i", a_pt, v_dir[layer])
    vb = np.einsum("ij,ij->i", b_pt, v_dir[layer])
    # Lines sit at v = k·spacing; an edge crosses those with vmin <= k·sp < vmax.
    k_lo = np.ceil(np.minimum(va, vb) / sp)
    k_hi = np.ceil(np.maximum(va, vb) / sp) - 1
    k_lo += (k_lo * sp < np.minimum(va, vb)).astype(float)  # rounding of the division
    k_hi -= (k_hi * sp >= np.maximum(va, vb)).astype(float)
    counts = np.maximum(k_hi - k_lo + 1, 0).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return out
    edge = np.repeat(np.arange(len(counts)), counts)
    k = k_lo[edge] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    c = k * sp[edge]
    t = (c - va[edge]) / (vb[edge] - va[edge])
    u = ua[edge] + t * (ub[edge] - ua[edge])
    cross_layer = layer[edge]
    order = np.lexsort((u, k, cross_layer))
    u, k, c, cross_layer = u[order], k[order], c[order], cross_layer[order]
    # Pair crossings within each line: 1st-2nd, 3rd-4th... (a lone last one is dropped).
    new_line = np.concatenate([[True], (k[1:] != k[:-1]) | (cross_layer[1:] != cross_layer[:-1])])
    line_start = np.maximum.accumulate(np.where(new_line, np.arange(total), 0))
    rank = np.arange(total) - line_start
    line_end = np.append(np.flatnonzero(new_line)[1:], total)
    line_size = (line_end - line_start[np.flatnonzero(new_line)])[np.cumsum(new_line) - 1]
    first = np.flatnonzero((rank % 2 == 0) & (rank + 1 < line_size))
    first = first[u[first + 1] - u[first] > MIN_PIECE]  # a vertex touched: no piece
    if first.size == 0:
        return out
    seg_layer = cross_layer[first]
    ud, vd = u_dir[seg_layer], v_dir[seg_layer]
    p0 = u[first, None] * ud + c[first, None] * vd
    p1 = u[first + 1, None] * ud + c[first, None] * vd
    segments = shapely.linestrings(np.stack([p0, p1], axis=1))  # (k, 2, 2): no indices
    present, dense = np.unique(seg_layer, return_inverse=True)
    out[present] = shapely.multilinestrings(segments, indices=dense)
    return out


def gyroid(regions: np.ndarray, spacing: np.ndarray, z: np.ndarray, angle_deg: float) -> np.ndarray:
    """Gyroid cross-sections at heights ``z``, waves ``spacing`` apart, clipped to ``regions``.

    The gyroid ``sin x cos y + sin y cos z + sin z cos x = 0`` cut at height z
    is, solved for y, ``y = asin(-sin z cos x / R) - atan2(sin x, cos z)`` with
    ``R = hypot(sin x, cos z)`` (and the mirror branch), repeating every 2π;
    where ``sin z`` dominates the roles of x and y swap.

    Wavy lines are longer than straight ones: as PrusaSlicer does, one gyroid unit
    is ``spacing / GYROID_DENSITY_ADJUST`` (neighbouring waves π units apart, so
    ``π / 2.44 ≈ 1.29`` spacings), which lays the plastic of the asked density.
    """
    n = len(regions)
    bounds = shapely.bounds(regions)
    ok = ~np.isnan(bounds[:, 0]) & (spacing > 0)
    all_coords, all_index, all_layer = [], [], []
    line_id = 0
    rot = np.radians(angle_deg)
    c, s = np.cos(rot), np.sin(rot)
    for i in np.flatnonzero(ok):
        scale = spacing[i] / GYROID_DENSITY_ADJUST  # mm per gyroid unit
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
