"""Pictures of a toolpath for people: a top-view SVG and per-layer data for a slider.

Work moves are drawn in a colour per role, travels faint. A role whose name is a
colour (``"#1f77b4"``, as the embroidery plugin names its threads) is drawn in
that colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .toolpath import MoveKind, Toolpath

PALETTE = {
    "perimeter": "#e07b00",
    "external_perimeter": "#d62728",
    "infill": "#1f77b4",
    "solid_infill": "#9467bd",
    "top_solid_infill": "#e377c2",
    "bridge": "#17becf",
    "skirt": "#2ca02c",
    "brim": "#2ca02c",
    "support": "#8c564b",
    "cut": "#d62728",
    "score": "#1f77b4",
    "engrave": "#444444",
    "pocket": "#1f77b4",
    "profile": "#d62728",
    "rough": "#9467bd",
    "finish": "#e07b00",
    "too_small": "#ff00ff",
    "travel": "#9e9e9e",
}
_FALLBACK = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
_NON_WORK = (int(MoveKind.TRAVEL), int(MoveKind.JUMP), int(MoveKind.RETRACT))


def role_colour(role: str, index: int = 0) -> str:
    if role.startswith("#") and len(role) == 7:
        return role
    return PALETTE.get(role, _FALLBACK[index % len(_FALLBACK)])


def polylines(tp: Toolpath, mask: np.ndarray | None = None) -> list[tuple[int, np.ndarray]]:
    """Runs of consecutive work moves of one role: ``[(role, (k, 3) points)]``.

    ``mask`` restricts to some moves (e.g. one layer).
    """
    return [(role, pts) for role, _, pts in _runs(tp, mask, by_layer=False)]


def _runs(
    tp: Toolpath, mask: np.ndarray | None, by_layer: bool
) -> list[tuple[int, int, np.ndarray]]:
    if len(tp) == 0:
        return []
    work = ~np.isin(tp.kind, _NON_WORK)
    if mask is not None:
        work &= mask
    idx = np.flatnonzero(work)
    if idx.size == 0:
        return []
    # A run breaks where moves are not consecutive, the role or the layer changes.
    cut = (np.diff(idx) != 1) | (np.diff(tp.role[idx].astype(int)) != 0)
    if by_layer:
        cut |= np.diff(tp.layer[idx]) != 0
    breaks = np.flatnonzero(cut) + 1
    starts = tp.starts
    out = []
    for run in np.split(idx, breaks):
        pts = np.vstack([starts[run[0]][None], tp.xyz[run]])
        out.append((int(tp.role[run[0]]), int(tp.layer[run[0]]), pts))
    return out


def _path_data(points: np.ndarray) -> str:
    """``M x y L x y …`` with two decimals, formatted in one call (no per-point f-string)."""
    flat = np.round(points[:, :2], 2).ravel()
    body = ("%.2f %.2f " * (len(points) - 1)) % tuple(flat[2:])
    return f"M{flat[0]:.2f} {flat[1]:.2f}L{body}"


def toolpath_svg(
    tp: Toolpath,
    *,
    bounds: np.ndarray | None = None,
    layer: int | None = None,
    show_travel: bool = True,
    width_px: int = 800,
    stroke_mm: float | None = None,
) -> str:
    """Top view of ``tp`` (or of one layer) as an SVG sized in millimetres."""
    if bounds is None:
        b = tp.work_bounds if len(tp) else np.zeros((2, 3))
    else:
        b = np.asarray(bounds, dtype=float)
    (x0, y0), (x1, y1) = b[0, :2], b[1, :2]
    margin = max(1.0, 0.02 * max(x1 - x0, y1 - y0))
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    sw = stroke_mm if stroke_mm is not None else max(0.2, min(w, h) / 400)
    mask = None if layer is None else (tp.layer == layer)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.2f} {-y1:.2f} {w:.2f} {h:.2f}" '
        f'width="{width_px}" height="{width_px * h / w:.0f}" data-width-mm="{w:.2f}" '
        f'data-height-mm="{h:.2f}">',
        # SVG's y axis points down; the machine's points up.
        '<g transform="scale(1,-1)" fill="none" stroke-linecap="round" stroke-linejoin="round">',
    ]
    if show_travel and len(tp):
        travel = np.isin(tp.kind, _NON_WORK)
        if mask is not None:
            travel &= mask
        ti = np.flatnonzero(travel)
        if ti.size:
            a, bb = tp.starts[ti, :2], tp.xyz[ti, :2]
            keep = np.linalg.norm(bb - a, axis=1) > 1e-6
            segs = np.hstack([a[keep], bb[keep]])
            if len(segs):
                d = ("M%.2f %.2fL%.2f %.2f" * len(segs)) % tuple(np.round(segs, 2).ravel())
                parts.append(
                    f'<path class="travel" d="{d}" stroke="#9e9e9e" stroke-opacity="0.35" '
                    f'stroke-width="{sw / 2:.3f}"/>'
                )
    groups: dict[int, list[str]] = {}
    for role, pts in polylines(tp, mask):
        groups.setdefault(role, []).append(_path_data(pts))
    for role, ds in groups.items():
        name = tp.roles[role] if role < len(tp.roles) else str(role)
        colour = role_colour(name, role)
        parts.append(
            f'<path class="role-{name.lstrip("#")}" data-role="{name}" d="{"".join(ds)}" '
            f'stroke="{colour}" stroke-width="{sw:.3f}"/>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


def layer_data(tp: Toolpath, decimals: int = 2) -> dict[str, Any]:
    """Per-layer polylines for a layer slider (JSON-ready).

    ``{"roles": [...], "colours": [...], "layers": [{"z": z, "paths": [[role, [x, y, x, y, …]], …]}]}``
    """
    layers: list[dict[str, Any]] = [
        {"z": (tp.layer_z[i] if i < len(tp.layer_z) else None), "paths": []}
        for i in range(tp.n_layers)
    ]
    for role, layer, pts in _runs(tp, None, by_layer=True):
        flat = np.round(pts[:, :2], decimals).ravel().tolist()
        layers[layer]["paths"].append([role, flat])
    return {
        "roles": list(tp.roles),
        "colours": [role_colour(r, i) for i, r in enumerate(tp.roles)],
        "layers": layers,
    }
