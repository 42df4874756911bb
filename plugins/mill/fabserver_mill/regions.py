"""Which 2.5D operation each path of a drawing gets, and the shapes it makes.

Operations are chosen the way laser users expect: by layer first, then by
colour, from maps in the machine profile that a job may override
(``#ff0000=pocket:2.5,layer:HOLES=inside``). Paths no map names follow the
``unassigned`` rule; ``auto`` reads the drawing's nesting: an outline inside an
odd number of outlines is a hole, open paths are engraved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from fabserver.designs.types import Drawing, DrawingPath
from fabserver.operations import IGNORE, OperationMap, Operations, PathRules, Rule

from .settings import OPERATIONS

OPERATION_MAPS = Operations(
    OPERATIONS,
    example="#ff0000=pocket:2.5,layer:TROUS=inside",
    with_value=frozenset(OPERATIONS),
)
"""Each operation may carry its own depth in mm (``pocket:2.5``)."""


def operation_map(colour_map: str, layer_map: str = "", job_map: str = "") -> OperationMap:
    """The machine's layer and colour maps, then the job's entries on top."""
    return OperationMap.of_machine(OPERATION_MAPS, colour_map, layer_map, job_map=job_map)


@dataclass
class Shapes:
    """Geometry of one operation at one depth, in drawing millimetres.

    ``areas`` are closed regions (outside: parts; inside: holes; pocket: regions
    with islands); ``lines`` are followed on the line (engraving, and open paths
    given a cutting colour).
    """

    operation: str
    depth: float | None
    areas: list[Polygon] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)  # (n, 2) or closed rings
    closed_lines: list[bool] = field(default_factory=list)


def nesting_depth(polygons: list[Polygon]) -> np.ndarray:
    """``(n,) int``: how many other outlines contain each outline (even-odd nesting)."""
    if not polygons:
        return np.zeros(0, dtype=int)
    arr = np.array(polygons, dtype=object)
    tree = shapely.STRtree(arr)
    points = shapely.point_on_surface(arr)
    inner, outer = tree.query(points, predicate="within")
    areas = shapely.area(arr)
    keep = (inner != outer) & (areas[outer] > areas[inner])
    return np.bincount(inner[keep], minlength=len(polygons))


def _polygon(path: DrawingPath) -> Polygon | None:
    if len(path.points) < 3:
        return None
    poly = Polygon(path.points)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
        parts = [g for g in getattr(poly, "geoms", [poly]) if isinstance(g, Polygon)]
        if not parts:
            return None
        poly = max(parts, key=lambda g: g.area)
    return poly if poly.area > 1e-9 else None


def even_odd(polygons: list[Polygon]) -> list[Polygon]:
    """Outlines with even nesting depth become regions, odd ones their islands."""
    if not polygons:
        return []
    depth = nesting_depth(polygons)
    regions = []
    for i in np.flatnonzero(depth % 2 == 0):
        outer = polygons[i]
        islands = [
            polygons[j]
            for j in np.flatnonzero(depth == depth[i] + 1)
            if outer.contains(shapely.point_on_surface(polygons[j]))
        ]
        region = outer.difference(shapely.union_all(islands)) if islands else outer
        regions.extend(_polygons_of(region))
    return regions


def _polygons_of(geom) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


def assign(drawing: Drawing, rules: list[PathRules], unassigned: str) -> list[Shapes]:
    """Group the drawing's paths into operations (``rules``: theirs, from
    :func:`fabserver.operations.resolve`), each with its shapes.

    ``unassigned``: what paths no map names get (``auto``, an operation or ``ignore``).
    """
    groups: dict[tuple[str, float | None], list[DrawingPath]] = {}
    auto: list[DrawingPath] = []
    for path, path_rules in zip(drawing.paths, rules, strict=True):
        rule = path_rules.rule
        if rule is None:
            if unassigned == "auto":
                auto.append(path)
                continue
            rule = Rule(unassigned)
        if rule.operation == IGNORE:
            continue
        groups.setdefault((rule.operation, rule.value), []).append(path)

    # auto: closed outlines by nesting parity (parts and holes), open paths engraved.
    closed = [(p, _polygon(p)) for p in auto if p.closed]
    closed = [(p, poly) for p, poly in closed if poly is not None]
    depth = nesting_depth([poly for _, poly in closed])
    for (path, _), d in zip(closed, depth, strict=True):
        groups.setdefault(("inside" if d % 2 else "outside", None), []).append(path)
    for path in auto:
        if not path.closed:
            groups.setdefault(("engrave", None), []).append(path)

    shapes: list[Shapes] = []
    for (op, depth_mm), paths in groups.items():
        s = Shapes(op, depth_mm)
        polys = []
        for path in paths:
            poly = _polygon(path) if path.closed else None
            if op == "engrave" or poly is None:
                s.lines.append(np.asarray(path.points, dtype=float))
                s.closed_lines.append(bool(path.closed and len(path.points) > 2))
            else:
                polys.append(poly)
        if op == "pocket":
            s.areas = even_odd(polys)
        elif op == "outside" and polys:
            # Outlines drawn in the cut-out colour inside another part are its holes.
            nested = nesting_depth(polys)
            s.areas = [polys[i] for i in np.flatnonzero(nested % 2 == 0)]
            holes = [polys[i] for i in np.flatnonzero(nested % 2 == 1)]
            if holes:
                shapes.append(Shapes("inside", depth_mm, areas=holes))
        else:
            s.areas = polys
        shapes.append(s)
    return shapes
