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

from .ordering import Ordered
from .work import SheetWork

COLOURS = {"cut": "#ff0000", "score": "#0000ff", "engrave": "#000000"}
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


def preview_svg(works: list[SheetWork], size: tuple[float, float], max_sheets: int = 6) -> str:
    """The first sheets side by side, as the maker will get them (for the web page).

    Drawn from the final geometry rather than the moves: a raster is thousands
    of strokes, the area it engraves is one filled path.
    """
    w, h = size
    gap = 0.05 * w
    shown = works[:max_sheets]
    total_w = len(shown) * w + (len(shown) - 1) * gap
    stroke = max(w, h) / 400
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total_w:g} {h:g}" '
        f'width="{min(1600, 400 * len(shown))}" data-sheets="{len(works)}">'
    ]
    for i, work in enumerate(shown):
        x = i * (w + gap)
        parts.append(f'<g transform="translate({x:g},0)">')
        parts.append(
            f'<rect width="{w:g}" height="{h:g}" fill="#f4efe6" stroke="#999999" '
            f'stroke-width="{stroke:g}"/>'
        )
        if not work.sheet.engrave.is_empty:
            parts.append(
                f'<path d="{_area_d(work.sheet.engrave, h)}" fill="{COLOURS["engrave"]}" '
                'fill-rule="evenodd" fill-opacity="0.7"/>'
            )
        for op, items in (("score", work.scores), ("cut", work.cuts)):
            if items:
                parts.append(
                    f'<g fill="none" stroke="{COLOURS[op]}" stroke-width="{stroke:g}" '
                    f'stroke-linejoin="round">{_paths(items, work, h)}</g>'
                )
        parts.append(
            f'<text x="{w / 100:g}" y="{h / 20:g}" font-size="{h / 25:g}" '
            f'font-family="sans-serif" fill="#555555">{work.sheet.index + 1}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
