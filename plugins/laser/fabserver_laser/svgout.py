"""A clean SVG of one sheet's final geometry, for lasers driven by a vendor driver.

Millimetres (``width="600mm"``, viewBox in mm), y pointing down as SVG wants,
one group per operation in the lab's colours, hairline strokes (vendor drivers
cut thin strokes as vectors), kerf already applied, contours in cutting order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import numpy as np
import shapely
import shapely.affinity

from fabserver.i18n import Text
from fabserver.preview import Area, Frames, Lines, Preview, RoleStyle
from fabserver.toolpath import Toolpath

from .ordering import Ordered
from .work import SheetWork

COLOURS = {"cut": "#ff0000", "score": "#0000ff", "engrave": "#000000"}
ROLES = {
    "cut": RoleStyle(COLOURS["cut"], Text("Découpe", "Cut")),
    "score": RoleStyle(COLOURS["score"], Text("Marquage", "Score")),
    "engrave": RoleStyle(COLOURS["engrave"], Text("Gravure", "Engrave")),
    "overscan": RoleStyle("#bbbbbb", Text("Dépassement de gravure", "Engraving overscan")),
    "sheet": RoleStyle("#999999", Text("Plaque", "Sheet")),
}
HAIRLINE_MM = 0.025  # thin enough for Epilog/Trotec-style drivers to treat as vector


def _d(points: np.ndarray, height: float, closed: bool) -> str:
    pts = np.column_stack([points[:, 0], height - points[:, 1]])
    flat = tuple(np.round(pts, 3).ravel().tolist())
    body = ("M%.3f %.3f" + "L%.3f %.3f" * (len(pts) - 1)) % flat
    return body + ("Z" if closed else "")


def _paths(items: Iterable[Ordered], work: SheetWork, height: float) -> str:
    parts = []
    for o in items:
        closed = work.sheet.contours[o.index].closed
        pts = o.points[:-1] if closed else o.points
        parts.append(f'<path d="{_d(pts, height, closed)}"/>')
    return "\n".join(parts)


def _area_d(area: shapely.Geometry, height: float) -> str:
    out = []
    for poly in shapely.get_parts(area):
        if shapely.get_type_id(poly) != 3:
            continue
        rings = [
            shapely.get_exterior_ring(poly),
            *shapely.get_interior_ring(poly, range(shapely.get_num_interior_rings(poly))),
        ]
        for ring in rings:
            pts = shapely.get_coordinates(ring)[:-1]
            if len(pts) >= 3:
                out.append(_d(pts, height, True))
    return "".join(out)


def write_svg(out: IO[bytes], work: SheetWork, size: tuple[float, float], title: str) -> None:
    w, h = size
    cuts = _paths(work.cuts, work, h)
    scores = _paths(work.scores, work, h)
    area = _area_d(work.sheet.engrave, h) if not work.sheet.engrave.is_empty else ""
    doc = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" '
        f'viewBox="0 0 {w:g} {h:g}">',
        f"<title>{title}</title>",
        f'<rect id="sheet" x="0" y="0" width="{w:g}" height="{h:g}" fill="none" '
        'stroke="#cccccc" stroke-width="0.2" stroke-dasharray="2 2"/>',
    ]
    if area:
        doc.append(
            f'<g id="engrave" fill="{COLOURS["engrave"]}" fill-rule="evenodd" stroke="none">'
            f'<path d="{area}"/></g>'
        )
    style = f'fill="none" stroke-width="{HAIRLINE_MM}" stroke-linejoin="round"'
    if scores:
        doc.append(f'<g id="score" stroke="{COLOURS["score"]}" {style}>\n{scores}\n</g>')
    if cuts:
        doc.append(f'<g id="cut" stroke="{COLOURS["cut"]}" {style}>\n{cuts}\n</g>')
    doc.append("</svg>\n")
    out.write("\n".join(doc).encode())


def preview(works: list[SheetWork], size: tuple[float, float], max_sheets: int = 6) -> Preview:
    """The first sheets side by side, as the maker will get them (for the web page).

    Drawn from the final geometry rather than the moves: a raster is thousands
    of strokes, the area it engraves is one filled region.
    """
    w, h = size
    gap = 0.05 * w
    shown = works[:max_sheets]
    shifts = [i * (w + gap) for i in range(len(shown))]
    frames = Frames(
        "sheet",
        np.array([[x, 0.0, x + w, h] for x in shifts]).reshape(-1, 4),
        [str(work.sheet.index + 1) for work in shown],
    )
    engraved = [
        shapely.affinity.translate(work.sheet.engrave, xoff=x)
        for work, x in zip(shown, shifts, strict=True)
        if not work.sheet.engrave.is_empty
    ]
    lines = []
    for op in ("score", "cut"):
        paths, closed = [], []
        for work, x in zip(shown, shifts, strict=True):
            for o in work.scores if op == "score" else work.cuts:
                ring = work.sheet.contours[o.index].closed
                paths.append((o.points[:-1] if ring else o.points)[:, :2] + np.array([x, 0.0]))
                closed.append(ring)
        lines.append(Lines(op, paths, closed))
    return Preview(
        toolpath=Toolpath.empty(),
        overlays=(frames, Area("engrave", shapely.union_all(engraved), 0.7), *lines),
        show_travel=False,
    )
