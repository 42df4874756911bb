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


@dataclass(frozen=True)
class _CutTree:
    """Closed cuts after kerf, with the containment tree of the contours as drawn.

    ``rings[k]`` comes from drawn contour ``source[k]`` (a thin part may split in
    two); ``first[i]`` is the first ring of drawn contour ``i``; ``top[i]`` its
    outermost container (itself at depth 0).
    """

    polys: np.ndarray  # (n,) drawn contours as polygons
    depth: np.ndarray
    parent: np.ndarray
    top: np.ndarray
    rings: list[np.ndarray]
    source: np.ndarray
    first: np.ndarray
    too_small: int


def _cut_tree(rings: list[np.ndarray], kerf: float) -> _CutTree:
    polys = ring_polygons(rings)
    depth, parent = containment(polys)
    moved, source, vanished = offset_rings(rings, polys, depth, kerf)
    first = np.zeros(len(polys), dtype=int)
    if len(source):
        uniq, first_idx = np.unique(source, return_index=True)
        first[uniq] = first_idx
    top = np.arange(len(polys))
    while len(top) and (parent[top] >= 0).any():
        top = np.where(parent[top] >= 0, parent[top], top)
    return _CutTree(
        polys, depth, parent, top, moved, source, first, int(np.count_nonzero(vanished))
    )


class _Parts:
    """The parts of a design: its outermost closed cuts, and which part holds what."""

    def __init__(self, tree: _CutTree, attach_distance: float):
        self.ids = np.flatnonzero(tree.depth == 0) if len(tree.polys) else np.zeros(0, int)
        self.of_contour = np.full(len(tree.polys), -1, dtype=int)
        self.of_contour[self.ids] = np.arange(len(self.ids))
        self.polys = tree.polys[self.ids] if len(self.ids) else np.empty(0, dtype=object)
        self.attach_distance = attach_distance

    def __len__(self) -> int:
        return len(self.ids)

    def holding(self, geoms: np.ndarray) -> np.ndarray:
        """Part containing each geometry, else the nearest within reach, else -1."""
        result = np.full(len(geoms), -1, dtype=int)
        if len(self) == 0 or len(geoms) == 0:
            return result
        inside = containers(geoms, self.polys, np.zeros(len(self), dtype=int))
        result[inside >= 0] = inside[inside >= 0]
        loose = np.flatnonzero(result < 0)
        if loose.size:
            gi, pi = STRtree(self.polys).query_nearest(
                geoms[loose], max_distance=self.attach_distance, all_matches=False
            )
            result[loose[gi]] = pi
        return result


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

    cut, score = linework("cut"), linework("score")
    for lw in (cut, score):
        layout.duplicate_length += lw.duplicate_length
        layout.duplicate_paths += lw.duplicate_paths
        layout.shared_length += lw.shared_length

    tree = _cut_tree(cut.rings, kerf)
    layout.small_holes = tree.too_small
    parts = _Parts(tree, attach_distance)

    # Closed cuts: the part of their outermost container; cut before their parent.
    ring_item = parts.of_contour[tree.top][tree.source] if tree.rings else np.zeros(0, int)
    ring_parent = np.full(len(tree.rings), -1, dtype=int)
    if tree.rings:
        drawn_parent = tree.parent[tree.source]
        has = drawn_parent >= 0
        ring_parent[has] = tree.first[drawn_parent[has]]

    # Open cuts: cut before the closed contour around them.
    cut_lines = make_lines(cut.lines)
    around = containers(cut_lines, tree.polys, tree.depth)
    inside = around >= 0
    line_parent = np.full(len(cut_lines), -1, dtype=int)
    line_item = np.full(len(cut_lines), -1, dtype=int)
    line_parent[inside] = tree.first[around[inside]]
    line_item[inside] = parts.of_contour[tree.top[around[inside]]]
    if (~inside).any():
        line_item[~inside] = parts.holding(cut_lines[~inside])
    layout.open_cuts = len(cut.lines)
    layout.open_cut_length = float(shapely.length(cut_lines).sum()) if len(cut_lines) else 0.0

    score_item = parts.holding(np.concatenate([make_rings(score.rings), make_lines(score.lines)]))

    area = even_odd_area([paths[i].points for i in classified.engrave])
    pieces = shapely.get_parts(area) if not area.is_empty else np.empty(0, dtype=object)
    pieces = pieces[shapely.area(pieces) > tolerance**2] if len(pieces) else pieces
    engrave_item = parts.holding(pieces)

    # Work outside every part travels as one more block (or everything is one block).
    loose = len(parts)
    any_loose = (line_item < 0).any() or (score_item < 0).any() or (engrave_item < 0).any()
    layout.items = 1 if one_block else len(parts) + (1 if any_loose or len(parts) == 0 else 0)

    def item(values: np.ndarray) -> np.ndarray:
        v = np.where(np.asarray(values) < 0, loose, values)
        return np.zeros_like(v) if one_block else v

    ring_item, line_item = item(ring_item), item(line_item)
    score_item, engrave_item = item(score_item), item(engrave_item)

    contours = layout.contours
    for k, pts in enumerate(tree.rings):
        src = cut.ring_sources[tree.source[k]]
        contours.append(Contour(pts, True, "cut", int(ring_parent[k]), int(ring_item[k]), src))
    for k, pts in enumerate(cut.lines):
        src = cut.line_sources[k]
        contours.append(Contour(pts, False, "cut", int(line_parent[k]), int(line_item[k]), src))
    score_pts = [(r, True) for r in score.rings] + [(p, False) for p in score.lines]
    score_src = score.ring_sources + score.line_sources
    for k, (pts, is_closed) in enumerate(score_pts):
        contours.append(Contour(pts, is_closed, "score", -1, int(score_item[k]), score_src[k]))
    layout.engrave = [(piece, int(it)) for piece, it in zip(pieces, engrave_item, strict=True)]
    layout.bounds = _item_bounds(layout)

    # Sheet use counts the area inside each part's outline (after kerf).
    layout.item_area = np.zeros(layout.items)
    outer = [k for k in range(len(tree.rings)) if tree.depth[tree.source[k]] == 0]
    if outer:
        polys = shapely.make_valid(make_polygons([tree.rings[k] for k in outer]))
        np.add.at(layout.item_area, ring_item[outer], shapely.area(polys))
    return layout


def _item_bounds(layout: Layout) -> np.ndarray:
    """``(items, 4)`` bounding box ``xmin, ymin, xmax, ymax`` of each item's work."""
    bounds = np.full((layout.items, 4), [np.inf, np.inf, -np.inf, -np.inf])
    boxes = [(c.item, *c.points.min(axis=0), *c.points.max(axis=0)) for c in layout.contours]
    boxes += [(it, *piece.bounds) for piece, it in layout.engrave]
    for it, x0, y0, x1, y1 in boxes:
        b = bounds[it]
        b[:] = [min(b[0], x0), min(b[1], y0), max(b[2], x1), max(b[3], y1)]
    return bounds
