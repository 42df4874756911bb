"""One copy of the design as laser work: contours per operation, grouped into parts.

A part is an outer cut contour with everything inside it (holes, scores,
engraving): what drops out of the sheet as one piece and can be moved and turned
as one when nesting. Work outside every part stays with the nearest part if it
touches it, else all of it travels together as one more block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import STRtree

from fabserver.designs.types import DrawingPath

from .colours import Classified
from .geometry import (
    clean_linework,
    containers,
    containment,
    even_odd_area,
    make_lines,
    make_polygons,
    make_rings,
    offset_rings,
    ring_polygons,
)


@dataclass(frozen=True)
class Contour:
    """A vector contour ready to place.

    ``parent``: index of the contour that must be cut after this one (``-1``).
    ``item``: the part (nesting item) it belongs to.
    """

    points: np.ndarray  # (n, 2) float, millimetres; closed rings do not repeat the start
    closed: bool
    op: str  # "cut" or "score"
    parent: int
    item: int
    source: int  # source path index, -1 when rebuilt from several paths


@dataclass
class Layout:
    """Everything one copy needs, before nesting."""

    contours: list[Contour] = field(default_factory=list)
    engrave: list[tuple[shapely.Geometry, int]] = field(default_factory=list)  # (area, item)
    items: int = 0
    bounds: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (items, 4)
    duplicate_length: float = 0.0
    duplicate_paths: int = 0
    shared_length: float = 0.0
    open_cuts: int = 0
    open_cut_length: float = 0.0
    small_holes: int = 0
    item_area: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (items,) mm²


def build_layout(
    paths: Sequence[DrawingPath],
    classified: Classified,
    kerf: float,
    tolerance: float,
    attach_distance: float,
    one_block: bool,
) -> Layout:
    """Clean, offset and group the contours of one copy.

    ``kerf``: full kerf width (0: no compensation). ``one_block``: keep the whole
    design as one nesting item (its layout as drawn).
    """
    layout = Layout()

    def linework(op: str):
        return clean_linework(
            [(paths[i].points, paths[i].closed, i) for i in classified.outlines[op]], tolerance
        )

    cut = linework("cut")
    score = linework("score")
    for lw in (cut, score):
        layout.duplicate_length += lw.duplicate_length
        layout.duplicate_paths += lw.duplicate_paths
        layout.shared_length += lw.shared_length

    # Containment tree of the closed cuts, on the geometry as drawn.
    polys = ring_polygons(cut.rings)
    depth, parent = containment(polys)
    rings, ring_src, vanished = offset_rings(cut.rings, polys, depth, kerf)
    layout.small_holes = int(np.count_nonzero(vanished))
    # Index of the first offset ring of each source ring (a thin part may split).
    first_piece = np.zeros(len(polys), dtype=int)
    if len(ring_src):
        uniq, first_idx = np.unique(ring_src, return_index=True)
        first_piece[uniq] = first_idx

    # Parts: the outermost closed cut around each contour.
    top = np.arange(len(polys))
    while len(top) and (parent[top] >= 0).any():
        top = np.where(parent[top] >= 0, parent[top], top)
    top_ids = np.flatnonzero(depth == 0) if len(polys) else np.zeros(0, dtype=int)
    item_of_top = np.full(len(polys), -1, dtype=int)
    item_of_top[top_ids] = np.arange(len(top_ids))
    n_parts = len(top_ids)
    top_polys = polys[top_ids] if n_parts else np.empty(0, dtype=object)

    def part_of(geoms: np.ndarray) -> np.ndarray:
        """Part containing each geometry, the nearest within reach, else -1."""
        result = np.full(len(geoms), -1, dtype=int)
        if n_parts == 0 or len(geoms) == 0:
            return result
        inside = containers(geoms, top_polys, np.zeros(n_parts, dtype=int))
        result[inside >= 0] = inside[inside >= 0]
        loose = np.flatnonzero(result < 0)
        if loose.size:
            (gi, pi) = STRtree(top_polys).query_nearest(
                geoms[loose], max_distance=attach_distance, all_matches=False
            )
            result[loose[gi]] = pi
        return result

    ring_item = item_of_top[top][ring_src] if len(rings) else np.zeros(0, dtype=int)
    ring_parent = np.full(len(rings), -1, dtype=int)
    if len(rings):
        has_parent = parent[ring_src] >= 0
        ring_parent[has_parent] = first_piece[parent[ring_src][has_parent]]

    # Open cuts: cut before the closed contour around them.
    cut_lines = make_lines(cut.lines)
    line_container = containers(cut_lines, polys, depth)
    has_container = line_container >= 0
    line_parent = np.full(len(cut_lines), -1, dtype=int)
    line_item = np.full(len(cut_lines), -1, dtype=int)
    line_parent[has_container] = first_piece[line_container[has_container]]
    line_item[has_container] = item_of_top[top[line_container[has_container]]]
    if (line_item < 0).any():
        line_item[line_item < 0] = part_of(cut_lines[line_item < 0])
    layout.open_cuts = len(cut.lines)
    layout.open_cut_length = float(shapely.length(cut_lines).sum()) if len(cut_lines) else 0.0

    score_geoms = np.concatenate([make_rings(score.rings), make_lines(score.lines)])
    score_item = part_of(score_geoms)

    area = even_odd_area([paths[i].points for i in classified.engrave])
    pieces = shapely.get_parts(area) if not area.is_empty else np.empty(0, dtype=object)
    pieces = pieces[shapely.area(pieces) > tolerance**2] if len(pieces) else pieces
    engrave_item = part_of(pieces)

    loose = n_parts
    any_loose = (line_item < 0).any() or (score_item < 0).any() or (engrave_item < 0).any()
    n_items = n_parts + (1 if any_loose or n_parts == 0 else 0)

    def item(value: np.ndarray | int) -> np.ndarray:
        v = np.asarray(value)
        v = np.where(v < 0, loose, v)
        return np.zeros_like(v) if one_block else v

    ring_item, line_item = item(ring_item), item(line_item)
    score_item, engrave_item = item(score_item), item(engrave_item)
    layout.items = 1 if one_block else n_items

    contours = layout.contours
    for k, pts in enumerate(rings):
        contours.append(
            Contour(
                pts,
                True,
                "cut",
                int(ring_parent[k]),
                int(ring_item[k]),
                cut.ring_sources[ring_src[k]],
            )
        )
    for k, pts in enumerate(cut.lines):
        contours.append(
            Contour(pts, False, "cut", int(line_parent[k]), int(line_item[k]), cut.line_sources[k])
        )
    score_pts = [(r, True) for r in score.rings] + [(p, False) for p in score.lines]
    score_src = score.ring_sources + score.line_sources
    for k, (pts, is_closed) in enumerate(score_pts):
        contours.append(Contour(pts, is_closed, "score", -1, int(score_item[k]), score_src[k]))
    for piece, it in zip(pieces, engrave_item, strict=True):
        layout.engrave.append((piece, int(it)))

    bounds = np.full((layout.items, 4), [np.inf, np.inf, -np.inf, -np.inf])
    for c in contours:
        lo, hi = c.points.min(axis=0), c.points.max(axis=0)
        b = bounds[c.item]
        b[:2] = np.minimum(b[:2], lo)
        b[2:] = np.maximum(b[2:], hi)
    for piece, it in layout.engrave:
        b = bounds[it]
        pb = np.asarray(piece.bounds)
        b[:2] = np.minimum(b[:2], pb[:2])
        b[2:] = np.maximum(b[2:], pb[2:])
    layout.bounds = bounds
    # Sheet use counts the area inside each part's outline (after kerf).
    layout.item_area = np.zeros(layout.items)
    outer = [k for k in range(len(rings)) if depth[ring_src[k]] == 0]
    if outer:
        areas = shapely.area(shapely.make_valid(make_polygons([rings[k] for k in outer])))
        np.add.at(layout.item_area, ring_item[outer], areas)
    return layout
