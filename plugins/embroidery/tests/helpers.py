"""Independent readings of a drawing for the embroidery tests (not the plugin's own code)."""

from __future__ import annotations

from dataclasses import replace
from functools import reduce

import numpy as np
import shapely
import shapely.affinity

from fabserver.designs.types import Drawing


def scaled(drawing: Drawing, longest_side_mm: float) -> Drawing:
    """The drawing scaled so its longest side is ``longest_side_mm`` (stroke widths too)."""
    size = drawing.size.max()
    k = longest_side_mm / size
    low = drawing.bounds[0]
    paths = tuple(
        replace(p, points=(p.points - low) * k, stroke_width=p.stroke_width * k)
        for p in drawing.paths
    )
    return replace(drawing, paths=paths)


def filled_regions(drawing: Drawing) -> list[tuple[tuple[int, int, int], shapely.Geometry]]:
    """Filled areas as a viewer would paint them (even-odd per element and colour).

    Written here, apart from the plugin, so tests compare against their own reading.
    """
    groups: dict[tuple[str, tuple], list] = {}
    for i, p in enumerate(drawing.paths):
        if p.fill is not None and p.closed and len(p.points) >= 3:
            ring = shapely.make_valid(shapely.Polygon(p.points))
            groups.setdefault((p.source or str(i), p.fill), []).append(ring)
    out = []
    for (_, colour), polys in groups.items():
        area = reduce(shapely.symmetric_difference, polys)
        area = shapely.union_all(
            [g for g in shapely.get_parts(area) if g.geom_type in ("Polygon", "MultiPolygon")]
        )
        if not area.is_empty:
            out.append((colour, area))
    return out


def stroke_areas(drawing: Drawing) -> list[tuple[tuple[int, int, int], shapely.Geometry, float]]:
    """Strokes as (colour, centre line, half width)."""
    out = []
    for p in drawing.paths:
        if p.stroke is None or len(p.points) < 2:
            continue
        pts = np.vstack([p.points, p.points[:1]]) if p.closed else p.points
        out.append((p.stroke, shapely.LineString(pts), p.stroke_width / 2))
    return out


def to_hoop(geom: shapely.Geometry, facts: dict) -> shapely.Geometry:
    """Drawing coordinates → the file's (turned if the plan turned it, then shifted)."""
    if facts["hoop"]["turned"]:
        geom = shapely.affinity.rotate(geom, -90, origin=(0, 0))
    dx, dy = facts["design_offset_mm"]
    return shapely.affinity.translate(geom, dx, dy)
