"""A clean vector SVG for machines driven by a vendor's driver (laser cutters, plotters).

Millimetres (``width="600mm"``, viewBox in mm), y pointing down as SVG wants
(the toolpath's y points up: it is flipped here), one group per operation in the
lab's colours, hairline strokes (vendor drivers cut thin strokes as vectors),
filled areas even-odd. Written by hand: a handful of elements, coordinates
formatted over whole arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO
from xml.sax.saxutils import escape

import numpy as np
import shapely

HAIRLINE_MM = 0.025  # thin enough for Epilog/Trotec-style drivers to treat as vector


@dataclass(frozen=True, eq=False)
class VectorGroup:
    """One operation: outlines (``paths``, ``(k, 2)`` mm, ``closed`` per path) stroked in
    ``colour``, or a filled ``area``."""

    id: str
    colour: str
    paths: Sequence[np.ndarray] = ()
    closed: Sequence[bool] = ()
    area: shapely.Geometry | None = field(default=None)


def _d(points: np.ndarray, height: float, closed: bool) -> str:
    pts = np.column_stack([points[:, 0], height - points[:, 1]])
    flat = tuple(np.round(pts, 3).ravel().tolist())
    body = ("M%.3f %.3f" + "L%.3f %.3f" * (len(pts) - 1)) % flat
    return body + ("Z" if closed else "")


def _area_d(area: shapely.Geometry, height: float) -> str:
    out = []
    for poly in shapely.get_parts(area):
        if shapely.get_type_id(poly) != shapely.GeometryType.POLYGON:
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


def write_vector_svg(
    out: IO[bytes], size: tuple[float, float], title: str, groups: Sequence[VectorGroup]
) -> None:
    """The sheet's frame (dashed, grey), then each group in order: areas first as given."""
    w, h = size
    doc = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" '
        f'viewBox="0 0 {w:g} {h:g}">',
        f"<title>{escape(title)}</title>",
        f'<rect id="sheet" x="0" y="0" width="{w:g}" height="{h:g}" fill="none" '
        'stroke="#cccccc" stroke-width="0.2" stroke-dasharray="2 2"/>',
    ]
    style = f'fill="none" stroke-width="{HAIRLINE_MM}" stroke-linejoin="round"'
    for g in groups:
        if g.area is not None:
            d = "" if g.area.is_empty else _area_d(g.area, h)
            if d:
                doc.append(
                    f'<g id="{g.id}" fill="{g.colour}" fill-rule="evenodd" stroke="none">'
                    f'<path d="{d}"/></g>'
                )
            continue
        closed = list(g.closed) or [False] * len(g.paths)
        paths = [f'<path d="{_d(p, h, c)}"/>' for p, c in zip(g.paths, closed, strict=True)]
        if paths:
            body = "\n".join(paths)
            doc.append(f'<g id="{g.id}" stroke="{g.colour}" {style}>\n{body}\n</g>')
    doc.append("</svg>\n")
    out.write("\n".join(doc).encode())
