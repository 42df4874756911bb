"""What a plan shows people, drawn by the core: a top-view SVG, its legend and per-layer data.

Plugins do not draw, nor import this module. A plugin declares its roles' colours and legend
labels (``MachinePlugin.roles``, :class:`RoleStyle`) and returns in its plan a
:class:`Preview` (both in :mod:`fabserver.preview_data`): which moves to draw (its toolpath, by default) and what to lay
with them, each with a role — :class:`Lines` (a display path, e.g. the blade's
path rather than the holder's), :class:`Area` (filled regions: engraving, places
the tool cannot reach), :class:`Frames` (sheets, stock, roll), :class:`Marks`
(tabs) and :class:`Raster` (a shaded relief) — plus styles known only when
planning (an embroidery design's threads). :func:`render` turns that into a
:class:`RenderedPreview` once, in :func:`fabserver.planning.run_plan`.

SVG text is written by hand: the handful of elements a top view needs, with
coordinates formatted over whole arrays (no f-string per point), do not call for
a library.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape as _escape_html
from typing import Any

import numpy as np
import shapely

from .i18n import Text
from .preview_data import Area, Frames, Lines, Marks, Overlay, Preview, Raster, RoleStyle
from .toolpath import Toolpath


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped, as ``xml.sax.saxutils.escape`` does.

    (The standard library's html module rather than xml.sax, whose import pulls in
    urllib, http.client and ssl: a tenth of a small print's start-up.)
    """
    return _escape_html(text, quote=False)


TRAVEL = "travel"
TRAVEL_STYLE = RoleStyle("#9e9e9e", Text("Déplacements à vide", "Travel moves"))
_FALLBACK = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


@dataclass(frozen=True)
class LegendEntry:
    role: str
    colour: str
    label: Text

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "colour": self.colour, "label": self.label.to_dict()}


@dataclass(frozen=True)
class RenderedPreview:
    """The top view (SVG text), its legend, and per-layer data when the plan has layers."""

    svg: str
    legend: tuple[LegendEntry, ...]
    layers: dict[str, Any] | None = None


class _Styles:
    """Role → style lookup: plan-time styles, then the plugin's, then a fallback colour."""

    def __init__(self, *tables: Mapping[str, RoleStyle]):
        self._table: dict[str, RoleStyle] = {TRAVEL: TRAVEL_STYLE}
        for table in reversed(tables):
            self._table.update(table)
        self._fallback: dict[str, RoleStyle] = {}

    def __call__(self, role: str) -> RoleStyle:
        if role in self._table:
            return self._table[role]
        if role not in self._fallback:
            colour = _FALLBACK[len(self._fallback) % len(_FALLBACK)]
            self._fallback[role] = RoleStyle(colour, Text(role, role))
        return self._fallback[role]


def render(
    preview: Preview,
    plan_toolpath: Toolpath,
    roles: Mapping[str, RoleStyle] | None = None,
    width_px: int = 800,
) -> RenderedPreview:
    """Draw ``preview`` (the plan's ``toolpath`` unless it names another) with the
    plugin's role styles ``roles``; per-layer data of the plan's toolpath when it has
    several layers."""
    style = _Styles(preview.styles, roles or {})
    tp = plan_toolpath if preview.toolpath is None else preview.toolpath
    overlays = [o for o in preview.overlays if _overlay_bounds(o) is not None]  # not empty
    legend: dict[str, None] = {}
    body: list[str] = []
    bounds = _bounds(preview, tp)
    (x0, y0), (x1, y1) = bounds
    sw = max(0.2, min(x1 - x0, y1 - y0) / 400)
    for kinds in ((Raster,), (Frames,), (Area,)):
        body += [_overlay(o, style, sw, legend) for o in overlays if isinstance(o, kinds)]
    body += _moves(tp, style, sw, preview.show_travel, legend)
    body += [_overlay(o, style, sw, legend) for o in overlays if isinstance(o, Lines)]
    body += [_overlay(o, style, sw, legend) for o in overlays if isinstance(o, Marks)]
    svg = _document(bounds, "".join(body), width_px)
    layers = layer_data(plan_toolpath, style) if plan_toolpath.n_layers > 1 else None
    entries = tuple(LegendEntry(role, style(role).colour, style(role).label) for role in legend)
    return RenderedPreview(svg, entries, layers)


def _bounds(preview: Preview, tp: Toolpath) -> np.ndarray:
    """``(2, 2)`` region shown with a small margin."""
    if preview.bounds is not None:
        b = np.asarray(preview.bounds, dtype=float)[:, :2]
    else:
        sheets = (
            [o for o in preview.overlays if isinstance(o, Frames)] if preview.frame_work else []
        )
        boxes = [tp.work_bounds[:, :2]] if len(tp) and tp.work_mask().any() else []
        boxes += [_overlay_bounds(o) for o in preview.overlays if not any(o is f for f in sheets)]
        boxes = [b for b in boxes if b is not None]
        if not boxes:  # nothing but sheets: show them
            boxes = [_overlay_bounds(o) for o in sheets]
            boxes = [b for b in boxes if b is not None]
            sheets = []
        b = np.vstack(boxes) if boxes else np.zeros((2, 2))
        b = np.array([b.min(axis=0), b.max(axis=0)])
        for sheet in sheets:
            b = _reach_edges(b, np.asarray(sheet.boxes, dtype=float).reshape(-1, 4))
    margin = max(1.0, 0.02 * float(np.max(b[1] - b[0])))
    return np.array([b[0] - margin, b[1] + margin])


EDGE_REACH = 0.25
"""How far, as a share of what is made (at least ``EDGE_REACH_MM``), the view reaches out
to show the edges of the sheet it sits on."""
EDGE_REACH_MM = 20.0


def _reach_edges(b: np.ndarray, sheets: np.ndarray) -> np.ndarray:
    """``b`` grown to the edges of ``sheets`` (``(k, 4)``: x0, y0, x1, y1) that lie within
    reach of it, so the part is seen where it sits on its sheet."""
    reach = max(EDGE_REACH_MM, EDGE_REACH * float(np.max(b[1] - b[0])))
    lo, hi = b[0].copy(), b[1].copy()
    for x0, y0, x1, y1 in sheets:
        if x1 < b[0, 0] or x0 > b[1, 0] or y1 < b[0, 1] or y0 > b[1, 1]:
            continue  # another sheet
        for axis, (s0, s1) in enumerate(((x0, x1), (y0, y1))):
            if 0.0 <= b[0, axis] - s0 <= reach:
                lo[axis] = min(lo[axis], s0)
            if 0.0 <= s1 - b[1, axis] <= reach:
                hi[axis] = max(hi[axis], s1)
    return np.array([lo, hi])


def _overlay_bounds(o: Overlay) -> np.ndarray | None:
    if isinstance(o, Lines):
        pts = np.vstack([np.asarray(p)[:, :2] for p in o.paths]) if len(o.paths) else None
    elif isinstance(o, Area):
        pts = None if o.geometry.is_empty else np.reshape(o.geometry.bounds, (2, 2))
    elif isinstance(o, Frames):
        pts = np.reshape(np.asarray(o.boxes, dtype=float), (-1, 2)) if len(o.boxes) else None
    elif isinstance(o, Marks):
        c = np.asarray(o.centres, dtype=float).reshape(-1, 2)
        pts = np.vstack([c - o.size / 2, c + o.size / 2]) if len(c) else None
    else:
        pts = np.reshape(o.box, (2, 2))
    if pts is None:
        return None
    return np.array([pts.min(axis=0), pts.max(axis=0)])


def _document(bounds: np.ndarray, body: str, width_px: int) -> str:
    (x0, y0), (x1, y1) = bounds
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.2f} {-y1:.2f} {w:.2f} {h:.2f}" '
        f'width="{width_px}" height="{width_px * h / w:.0f}" data-width-mm="{w:.2f}" '
        f'data-height-mm="{h:.2f}">'
        # SVG's y axis points down; the machine's points up.
        '<g transform="scale(1,-1)" fill="none" stroke-linecap="round" stroke-linejoin="round">'
        f"{body}</g></svg>"
    )


def _role_attrs(role: str, style: _Styles, legend: dict[str, None]) -> tuple[str, str]:
    legend[role] = None
    return f'class="role-{escape(role.lstrip("#"))}" data-role="{escape(role)}"', style(role).colour


def _moves(
    tp: Toolpath, style: _Styles, sw: float, show_travel: bool, legend: dict[str, None]
) -> list[str]:
    parts = []
    if show_travel and len(tp):
        ti = np.flatnonzero(~tp.work_mask())
        if ti.size:
            a, b = tp.starts[ti, :2], tp.xyz[ti, :2]
            keep = np.linalg.norm(b - a, axis=1) > 1e-6
            segs = np.hstack([a[keep], b[keep]])
            if len(segs):
                d = ("M%.2f %.2fL%.2f %.2f" * len(segs)) % tuple(np.round(segs, 2).ravel())
                legend[TRAVEL] = None
                colour = style(TRAVEL).colour
                parts.append(
                    f'<path class="travel" d="{d}" stroke="{colour}" stroke-opacity="0.35" '
                    f'stroke-width="{sw / 2:.3f}"/>'
                )
    for role, d in _role_path_data(tp):
        name = tp.roles[role] if role < len(tp.roles) else str(role)
        attrs, colour = _role_attrs(name, style, legend)
        parts.append(f'<path {attrs} d="{d}" stroke="{colour}" stroke-width="{sw:.3f}"/>')
    return parts


def _overlay(o: Overlay, style: _Styles, sw: float, legend: dict[str, None]) -> str:
    attrs, colour = _role_attrs(o.role, style, legend)
    if isinstance(o, Lines):
        closed = list(o.closed) or [False] * len(o.paths)
        d = "".join(
            _path_data(np.asarray(p)) + ("Z" if c else "")
            for p, c in zip(o.paths, closed, strict=True)
            if len(p) >= 2
        )
        return f'<path {attrs} d="{d}" stroke="{colour}" stroke-width="{sw:.3f}"/>'
    if isinstance(o, Area):
        return (
            f'<path {attrs} d="{_rings_data(o.geometry)}" fill="{colour}" '
            f'fill-opacity="{o.opacity:g}" fill-rule="evenodd" stroke="{colour}" '
            f'stroke-width="{sw / 2:.3f}"/>'
        )
    if isinstance(o, Frames):
        rects = []
        labels = list(o.labels) + [""] * (len(o.boxes) - len(o.labels))
        for (bx0, by0, bx1, by1), label in zip(np.asarray(o.boxes, float), labels, strict=True):
            rects.append(
                f'<rect x="{bx0:.2f}" y="{by0:.2f}" width="{bx1 - bx0:.2f}" '
                f'height="{by1 - by0:.2f}"/>'
            )
            if label:  # text is flipped back upright, at the frame's top left corner
                size = (by1 - by0) / 25
                rects.append(
                    f'<text transform="scale(1,-1)" x="{bx0 + size / 2:.2f}" '
                    f'y="{-by1 + 1.2 * size:.2f}" font-size="{size:.2f}" '
                    f'font-family="sans-serif" fill="{colour}" stroke="none">'
                    f"{escape(label)}</text>"
                )
        return (
            f'<g {attrs} stroke="{colour}" stroke-dasharray="{2 * sw:.2f} {2 * sw:.2f}" '
            f'stroke-width="{sw:.3f}">{"".join(rects)}</g>'
        )
    if isinstance(o, Marks):
        half = o.size / 2
        rects = "".join(
            f'<rect x="{x - half:.2f}" y="{y - half:.2f}" width="{o.size:.2f}" '
            f'height="{o.size:.2f}"/>'
            for x, y in np.round(np.asarray(o.centres, float).reshape(-1, 2), 2)
        )
        return f'<g {attrs} fill="{colour}" stroke="none">{rects}</g>'
    x0, y0, x1, y1 = o.box
    data = base64.b64encode(png_grey(np.asarray(o.image, dtype=np.uint8))).decode()
    return (
        f'<image {attrs} x="{x0:.3f}" y="{y0:.3f}" width="{x1 - x0:.3f}" '
        f'height="{y1 - y0:.3f}" preserveAspectRatio="none" href="data:image/png;base64,{data}"/>'
    )


def _rings_data(geometry: shapely.Geometry) -> str:
    """SVG path data of every ring of the polygons in ``geometry``, two decimals."""
    parts = []
    polygons = shapely.get_parts(geometry)
    polygons = polygons[shapely.get_type_id(polygons) == shapely.GeometryType.POLYGON]
    for ring in shapely.get_rings(polygons):
        pts = shapely.get_coordinates(ring)
        if len(pts) >= 3:
            parts.append(_path_data(pts) + "Z")
    return "".join(parts)


def png_grey(image: np.ndarray) -> bytes:
    """``(h, w) uint8`` → PNG bytes (8-bit greyscale). Hand-written: the format's three
    chunks need no imaging library."""
    h, w = image.shape
    raw = np.hstack([np.zeros((h, 1), np.uint8), image]).tobytes()  # filter 0 on each row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def polylines(tp: Toolpath, mask: np.ndarray | None = None) -> list[tuple[int, np.ndarray]]:
    """Runs of consecutive work moves of one role: ``[(role, (k, 3) points)]``.

    ``mask`` restricts to some moves (e.g. one layer).
    """
    return [(role, pts) for role, _, pts in _runs(tp, mask, by_layer=False)]


def _runs(
    tp: Toolpath, mask: np.ndarray | None, by_layer: bool
) -> list[tuple[int, int, np.ndarray]]:
    points, first, last = _run_bounds(tp, mask, by_layer)
    roles, layers = tp.role[first].tolist(), tp.layer[first].tolist()
    return [
        (role, layer, points[a : b + 2])
        for role, layer, a, b in zip(roles, layers, first.tolist(), last.tolist(), strict=True)
    ]


def _run_bounds(
    tp: Toolpath, mask: np.ndarray | None, by_layer: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(points, first, last)``: the first and last move of each run of work moves.

    A run's moves are consecutive, so its points (where its first move starts, then
    every move's end) are the rows ``first … last + 1`` of ``points``: the toolpath's
    start followed by every move's end. One array, sliced, not one stacked per run.
    """
    points = np.empty((len(tp) + 1, 3))
    points[0] = tp.start
    points[1:] = tp.xyz
    none = np.zeros(0, dtype=np.int64)
    if len(tp) == 0:
        return points, none, none
    work = tp.work_mask()
    if mask is not None:
        work &= mask
    idx = np.flatnonzero(work)
    if idx.size == 0:
        return points, none, none
    # A run breaks where moves are not consecutive, the role or the layer changes.
    cut = (np.diff(idx) != 1) | (np.diff(tp.role[idx].astype(int)) != 0)
    if by_layer:
        cut |= np.diff(tp.layer[idx]) != 0
    breaks = np.flatnonzero(cut) + 1
    first = idx[np.concatenate([[0], breaks])]
    last = idx[np.concatenate([breaks - 1, [idx.size - 1]])]
    return points, first, last


def _role_path_data(tp: Toolpath) -> list[tuple[int, str]]:
    """The :func:`_path_data` of every run of work moves, joined role by role (roles in
    the order they first appear): the points rounded once, and one ``%`` per role."""
    points, first, last = _run_bounds(tp, None, by_layer=False)
    run_role = tp.role[first]
    out = []
    for role in dict.fromkeys(run_role.tolist()):
        mine = np.flatnonzero(run_role == role)
        counts = last[mine] - first[mine] + 2
        # the rows first … last + 1 of each run, one after the other
        run_start = np.repeat(first[mine] - (np.cumsum(counts) - counts), counts)
        rows = np.arange(int(counts.sum())) + run_start
        template = "".join(["M%.2f %.2fL" + "%.2f %.2f " * (k - 1) for k in counts.tolist()])
        out.append((role, template % tuple(np.round(points[rows, :2], 2).ravel().tolist())))
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
    show_travel: bool = True,
    roles: Mapping[str, RoleStyle] | None = None,
) -> str:
    """Top view of ``tp`` alone as an SVG sized in millimetres (tests, tools)."""
    return render(Preview(bounds=bounds, show_travel=show_travel), tp, roles).svg


def layer_data(
    tp: Toolpath, roles: Mapping[str, RoleStyle] | _Styles | None = None, decimals: int = 2
) -> dict[str, Any]:
    """Per-layer polylines for a layer slider (JSON-ready).

    ``{"roles": [...], "colours": [...], "layers": [{"z": z, "paths": [[role, [x, y, x, y, …]], …]}]}``
    """
    style = roles if isinstance(roles, _Styles) else _Styles(roles or {})
    layers: list[dict[str, Any]] = [
        {"z": (tp.layer_z[i] if i < len(tp.layer_z) else None), "paths": []}
        for i in range(tp.n_layers)
    ]
    points, first, last = _run_bounds(tp, None, by_layer=True)
    # Rounded and made Python numbers once; each run takes its slice of the list.
    flat = np.round(points[:, :2], decimals).ravel().tolist()
    roles, run_layers = tp.role[first].tolist(), tp.layer[first].tolist()
    for role, layer, a, b in zip(roles, run_layers, first.tolist(), last.tolist(), strict=True):
        layers[layer]["paths"].append([role, flat[2 * a : 2 * b + 4]])
    return {
        "roles": list(tp.roles),
        "colours": [style(r).colour for r in tp.roles],
        "layers": layers,
    }
