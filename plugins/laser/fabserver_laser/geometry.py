"""Contours of one operation: clean-up, containment tree, kerf offset, filled areas.

Everything goes through GEOS with shapely 2's array functions, many geometries
per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

MITRE_LIMIT = 4.0
"""Sharp corners keep their point up to 4× the offset; sharper ones are bevelled
(a needle-thin spike would otherwise shoot far off the part)."""


@dataclass(frozen=True)
class Linework:
    """Closed rings and open lines of one operation after clean-up.

    rings, lines : lists of ``(n, 2) float`` arrays, millimetres (rings not repeating
    their first point). ``ring_sources``/``line_sources`` give the source path index
    (``-1`` for what was rebuilt from open lines).
    """

    rings: list[np.ndarray]
    ring_sources: list[int]
    lines: list[np.ndarray]
    line_sources: list[int]
    duplicate_length: float  # mm of lines that lay on other lines and were merged
    duplicate_paths: int  # whole closed paths dropped as exact duplicates
    shared_length: float  # mm of edges shared by two closed contours (still cut twice)


def _ragged(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    coords = np.vstack([np.asarray(a, dtype=float)[:, :2] for a in arrays])
    index = np.repeat(np.arange(len(arrays)), [len(a) for a in arrays])
    return coords, index


def make_polygons(rings: Sequence[np.ndarray]) -> np.ndarray:
    """Polygons from closed rings of different lengths, in one call: ``(n,) object``."""
    if len(rings) == 0:
        return np.empty(0, dtype=object)
    coords, index = _ragged(rings)
    return shapely.polygons(shapely.linearrings(coords, indices=index))


def make_rings(rings: Sequence[np.ndarray]) -> np.ndarray:
    if len(rings) == 0:
        return np.empty(0, dtype=object)
    coords, index = _ragged(rings)
    return shapely.linearrings(coords, indices=index)


def make_lines(lines: Sequence[np.ndarray]) -> np.ndarray:
    if len(lines) == 0:
        return np.empty(0, dtype=object)
    coords, index = _ragged(lines)
    return shapely.linestrings(coords, indices=index)


def _ring_coords(geom: shapely.Geometry) -> np.ndarray:
    pts = shapely.get_coordinates(geom)
    return pts[:-1] if len(pts) > 1 and np.allclose(pts[0], pts[-1]) else pts


def clean_linework(paths: Sequence[tuple[np.ndarray, bool, int]], tolerance: float) -> Linework:
    """Merge duplicate and overlapping lines so nothing burns twice.

    ``paths``: ``(points, closed, source)``. Whole closed paths drawn twice are
    dropped; open lines are noded and dissolved (``union_all``), the parts lying
    on a closed contour removed, and the rest chained again (``line_merge``); a
    chain that closes on itself becomes a ring, as when a CAD export draws a
    rectangle as four separate lines.
    """
    closed = [(p, s) for p, c, s in paths if c and len(p) >= 3]
    opened = [(p, s) for p, c, s in paths if not c and len(p) >= 2]
    opened += [(p, s) for p, c, s in paths if c and len(p) == 2]
    if closed:
        # A "closed" path enclosing no area (there and back along a line) is a line.
        flat = shapely.area(make_polygons([p for p, _ in closed])) <= tolerance * np.array(
            [np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p, _ in closed]
        )
        opened += [(np.vstack([p, p[:1]]), s) for (p, s), f in zip(closed, flat, strict=True) if f]
        closed = [c for c, f in zip(closed, flat, strict=True) if not f]

    rings, ring_sources = [], []
    duplicate_length, duplicate_paths = 0.0, 0
    if closed:
        polys = make_polygons([p for p, _ in closed])
        keys = shapely.to_wkb(
            shapely.normalize(shapely.set_precision(polys, tolerance, mode="pointwise"))
        )
        seen: set[bytes] = set()
        for (pts, src), key, poly in zip(closed, keys, polys, strict=True):
            if key in seen:
                duplicate_paths += 1
                duplicate_length += float(shapely.length(shapely.get_exterior_ring(poly)))
                continue
            seen.add(key)
            rings.append(pts)
            ring_sources.append(src)

    ring_lines = make_rings(rings)
    shared_length = 0.0
    if len(ring_lines) > 1:
        snapped = shapely.set_precision(ring_lines, tolerance)
        total = float(shapely.length(snapped).sum())
        shared_length = max(total - float(shapely.union_all(snapped).length), 0.0)
        if shared_length < tolerance * 10:
            shared_length = 0.0

    lines, line_sources = [], []
    if opened:
        geoms = shapely.set_precision(make_lines([p for p, _ in opened]), tolerance)
        before = float(shapely.length(geoms).sum())
        merged = shapely.union_all(geoms)
        if len(ring_lines):
            # Only the rings near open lines matter; both sides on the same grid,
            # so a line drawn over a contour is removed by an exact difference.
            near = np.unique(STRtree(ring_lines).query(geoms)[1])
            if near.size:
                on_rings = shapely.union_all(
                    shapely.set_precision(ring_lines[near], tolerance), grid_size=tolerance
                )
                merged = shapely.difference(merged, on_rings, grid_size=tolerance)
        merged = shapely.line_merge(merged) if not merged.is_empty else merged
        pieces = shapely.get_parts(merged)
        pieces = pieces[shapely.get_type_id(pieces) == 1]  # LineStrings only
        pieces = pieces[shapely.length(pieces) > tolerance * 2]
        after = float(shapely.length(pieces).sum())
        # Snapping and trimming at T-junctions shave hundredths of a millimetre:
        # only a real overlap (over 1 mm, or 0.1 %) is reported.
        if before - after > max(1.0, 1e-3 * before):
            duplicate_length += before - after
        for piece in pieces:
            pts = shapely.get_coordinates(piece)
            src = -1  # noded and merged: a piece may come from several paths
            if len(pts) > 3 and np.allclose(pts[0], pts[-1]):
                rings.append(pts[:-1])
                ring_sources.append(src)
            else:
                lines.append(pts)
                line_sources.append(src)
    return Linework(
        rings, ring_sources, lines, line_sources, duplicate_length, duplicate_paths, shared_length
    )


def ring_polygons(rings: Sequence[np.ndarray]) -> np.ndarray:
    """Valid polygons of closed rings: ``(n,) object``.

    A self-crossing ring (a figure eight) becomes the area it encloses
    (``make_valid``), so containment tests do not fail on it.
    """
    if not rings:
        return np.empty(0, dtype=object)
    polys = make_polygons(rings)
    bad = ~shapely.is_valid(polys)
    if bad.any():
        fixed = shapely.make_valid(polys[bad])
        polys[bad] = [_polygonal(g) for g in fixed]
    return polys


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()


def containment(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth and parent of each polygon in the containment tree.

    Returns ``depth : (n,) int`` (0 for outermost; even = outer contour of a part,
    odd = hole) and ``parent : (n,) int`` (index of the innermost polygon that
    contains it, ``-1`` if none). One STRtree query for all pairs.
    """
    n = len(polys)
    depth = np.zeros(n, dtype=int)
    parent = np.full(n, -1, dtype=int)
    if n < 2:
        return depth, parent
    tree = STRtree(polys)
    outer, inner = tree.query(polys, predicate="contains")
    keep = outer != inner
    outer, inner = outer[keep], inner[keep]
    if outer.size == 0:
        return depth, parent
    # Two equal polygons contain each other: the later one is taken as inside.
    mutual = outer > inner
    if mutual.any():
        pairs = set(zip(outer.tolist(), inner.tolist(), strict=True))
        drop = np.array([(o > i and (i, o) in pairs) for o, i in zip(outer, inner, strict=True)])
        outer, inner = outer[~drop], inner[~drop]
    np.add.at(depth, inner, 1)
    # Innermost container: the deepest one.
    order = np.lexsort((depth[outer], inner))
    outer, inner = outer[order], inner[order]
    last = np.r_[inner[1:] != inner[:-1], True]
    parent[inner[last]] = outer[last]
    return depth, parent


def containers(items: np.ndarray, polys: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Index of the innermost polygon of ``polys`` that contains each of ``items`` (-1: none)."""
    result = np.full(len(items), -1, dtype=int)
    if len(items) == 0 or len(polys) == 0:
        return result
    item_idx, poly_idx = STRtree(polys).query(items, predicate="within")
    if item_idx.size:
        order = np.lexsort((depth[poly_idx], item_idx))
        item_idx, poly_idx = item_idx[order], poly_idx[order]
        last = np.r_[item_idx[1:] != item_idx[:-1], True]
        result[item_idx[last]] = poly_idx[last]
    return result


def offset_rings(
    rings: Sequence[np.ndarray], polys: np.ndarray, depth: np.ndarray, kerf: float
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Move each ring by half the kerf: outwards on outer contours, inwards on holes.

    Returns the new rings, the index of the source ring of each (a thin part may
    split in two) and a ``(n,) bool`` mask of holes too small for the kerf, kept
    as drawn (the beam still cuts them, just a kerf too wide).
    """
    n = len(polys)
    if kerf <= 0 or n == 0:
        return list(rings), np.arange(n), np.zeros(n, dtype=bool)
    distance = np.where(depth % 2 == 0, kerf / 2.0, -kerf / 2.0)
    moved = shapely.buffer(polys, distance, join_style="mitre", mitre_limit=MITRE_LIMIT)
    parts, owner = shapely.get_parts(moved, return_index=True)
    parts_ok = ~shapely.is_empty(parts)
    parts, owner = parts[parts_ok], owner[parts_ok]
    vanished = np.ones(n, dtype=bool)
    vanished[owner] = False
    moved_rings = [_ring_coords(shapely.get_exterior_ring(p)) for p in parts]
    sources = list(owner)
    for i in np.flatnonzero(vanished):
        moved_rings.append(np.asarray(rings[i]))
        sources.append(i)
    order = np.argsort(sources, kind="stable")
    return [moved_rings[k] for k in order], np.asarray(sources, dtype=int)[order], vanished


def even_odd_area(rings: Sequence[np.ndarray]) -> shapely.Geometry:
    """The area filled by closed rings under the even-odd rule.

    Glyphs converted to paths come as separate outer and counter rings; the
    counter of an "o" must stay clear. Each depth of the containment tree
    toggles the fill, so the area is the symmetric difference of the levels.
    """
    polys = ring_polygons(rings)
    if len(polys) == 0:
        return shapely.Polygon()
    depth, _ = containment(polys)
    area = shapely.Polygon()
    for level in range(int(depth.max()) + 1):
        area = shapely.symmetric_difference(area, shapely.union_all(polys[depth == level]))
    return shapely.make_valid(area) if not area.is_valid else area
