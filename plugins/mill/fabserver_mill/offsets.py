"""Tool-centre paths of 2.5D operations: radius compensation, pocket offsets, unreachable areas.

All offsetting goes to GEOS through shapely's buffer. Rings come out oriented
for the chosen cutting direction: with a clockwise spindle (M3), climb milling
keeps the material that stays on the right of the tool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LinearRing, MultiPolygon, Polygon

CHORD_TOLERANCE = 0.002
"""mm: largest gap between an offset arc and its chords."""

SLIVER = 0.005
"""mm: half the width under which an unreachable piece is an artefact of chords."""

REPORT_AREA_FACTOR = 0.5
"""Unreachable pieces smaller than this × r² are not listed: a right-angle inner
corner always leaves 0.21 r² (the tool's round), which no maker needs to be told."""


def quad_segs(radius: float) -> int:
    """Segments per quarter circle so the chord error stays under :data:`CHORD_TOLERANCE`."""
    if radius <= CHORD_TOLERANCE:
        return 2
    step = 2.0 * math.acos(1.0 - CHORD_TOLERANCE / radius)
    return max(4, math.ceil((math.pi / 2) / step))


def polygons_of(geom) -> list[Polygon]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def _ring(coords, material_inside: bool, climb: bool) -> np.ndarray:
    """``(n, 2)`` ring without the closing point, oriented for the cutting direction.

    Material on the right of the tool is climb milling with an M3 spindle: a ring
    with the kept material inside runs clockwise, one around cleared area
    counter-clockwise.
    """
    ring = LinearRing(coords)
    want_ccw = not material_inside
    if not climb:
        want_ccw = not want_ccw
    pts = np.asarray(ring.coords)[:-1]
    if ring.is_ccw != want_ccw:
        pts = pts[::-1]
    return np.ascontiguousarray(pts)


def outside_rings(part: Polygon, radius: float, climb: bool) -> list[np.ndarray]:
    """Tool centre around a part, ``radius`` outside its outline (holes are separate work)."""
    grown = Polygon(part.exterior).buffer(radius, quad_segs=quad_segs(radius))
    return [_ring(p.exterior.coords, True, climb) for p in polygons_of(grown)]


def inside_rings(hole: Polygon, radius: float, climb: bool) -> list[np.ndarray]:
    """Tool centre inside a hole; empty when the tool does not fit at all."""
    shrunk = Polygon(hole.exterior).buffer(-radius, quad_segs=quad_segs(radius))
    return [_ring(p.exterior.coords, False, climb) for p in polygons_of(shrunk)]


def unreachable(region: Polygon, radius: float, outward: bool = False):
    """The part of ``region`` (or of its surroundings, ``outward``) the tool cannot reach.

    Inward: region minus its opening by the tool (``buffer(-r).buffer(r)``).
    Outward (outside profiles): the closing minus the part, i.e. the notches and
    slots of the outline narrower than the tool.
    """
    q = quad_segs(radius)
    if outward:
        part = Polygon(region.exterior)
        left = part.buffer(radius, quad_segs=q).buffer(-radius, quad_segs=q).difference(part)
    else:
        left = region.difference(region.buffer(-radius, quad_segs=q).buffer(radius, quad_segs=q))
    # Chords of curved outlines leave slivers thinner than the tolerance: not real material.
    return left.buffer(-SLIVER, quad_segs=2).buffer(SLIVER, quad_segs=2)


def significant(geom, radius: float) -> list[Polygon]:
    """Pieces of an unreachable area worth telling the maker about."""
    return [p for p in polygons_of(geom) if p.area > REPORT_AREA_FACTOR * radius * radius]


@dataclass
class PocketNode:
    """One connected offset of a pocket; its children are the offsets inside it."""

    level: int
    polygon: Polygon
    children: list[PocketNode] = field(default_factory=list)


def pocket_offsets(region: Polygon, radius: float, step: float) -> list[list[Polygon]]:
    """Contour-parallel offsets: level k is ``region.buffer(-(radius + k·step))``.

    All levels are asked of GEOS in one vectorised call; the deepest possible
    level is bounded by half the smaller side of the bounding box.
    """
    x0, y0, x1, y1 = region.bounds
    n = max(1, math.ceil((min(x1 - x0, y1 - y0) / 2 - radius) / step) + 2)
    distances = radius + step * np.arange(n)
    grown = shapely.buffer(
        np.full(n, region, dtype=object), -distances, quad_segs=quad_segs(radius)
    )
    levels = []
    for geom in grown:
        polys = polygons_of(geom)
        if not polys:
            break
        levels.append(polys)
    return levels


def pocket_tree(levels: list[list[Polygon]]) -> list[PocketNode]:
    """Link each offset to the one of the level above that contains it."""
    roots: list[PocketNode] = []
    previous: list[PocketNode] = []
    for k, polys in enumerate(levels):
        current = [PocketNode(k, p) for p in polys]
        if k == 0:
            roots = current
        else:
            parents = np.array([n.polygon for n in previous], dtype=object)
            probes = shapely.point_on_surface(np.array([n.polygon for n in current], dtype=object))
            tree = shapely.STRtree(parents)
            child_idx, parent_idx = tree.query(probes, predicate="within")
            for c, p in zip(child_idx, parent_idx, strict=True):
                previous[p].children.append(current[c])
        previous = current
    return roots


def pocket_rings(region: Polygon, radius: float, step: float, climb: bool) -> list[np.ndarray]:
    """Rings of a pocket in cutting order: each branch from its centre out to the walls.

    Within one offset, island rings come before the outer ring, so the pass ends
    next to the offset around it and the two can be linked without lifting.
    """
    roots = pocket_tree(pocket_offsets(region, radius, step))
    ordered: list[np.ndarray] = []

    def visit(node: PocketNode) -> None:
        for child in node.children:
            visit(child)
        for interior in node.polygon.interiors:
            ordered.append(_ring(interior.coords, True, climb))
        ordered.append(_ring(node.polygon.exterior.coords, False, climb))

    for root in roots:
        # Recursion depth is the number of offsets (pocket width / step-over), small.
        visit(root)
    return ordered
