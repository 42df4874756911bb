"""Copies of the parts nested on sheets, and what each sheet holds once placed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from .nesting import Placement, pack
from .parts import Contour, Layout


@dataclass
class Sheet:
    """The work on one sheet, in sheet (= machine) coordinates, millimetres."""

    index: int
    contours: list[Contour] = field(default_factory=list)  # parents index this list
    engrave: shapely.Geometry = field(default_factory=shapely.Polygon)
    part_area: float = 0.0
    placements: list[Placement] = field(default_factory=list)
    copies: list[int] = field(default_factory=list)  # copy number of each placement


def item_sizes(layout: Layout) -> np.ndarray:
    """``(items, 2)`` width and height of each item's bounding box, millimetres."""
    return layout.bounds[:, 2:] - layout.bounds[:, :2]


def nest(
    layout: Layout,
    copies: int,
    usable: tuple[float, float],
    margin: float,
    spacing: float,
    allow_rotation: bool,
) -> list[Placement]:
    """Placements of every item of every copy (copy-major order)."""
    sizes = np.tile(item_sizes(layout), (copies, 1))
    packed = pack([tuple(s) for s in sizes], usable, spacing, allow_rotation)
    placements = []
    n = layout.items
    for k, (sheet, rotated, x, y) in enumerate(packed):
        xmin, ymin, _xmax, ymax = layout.bounds[k % n]
        if rotated:  # (x, y) → (-y, x): the box becomes [-ymax, -ymin] × [xmin, xmax]
            offset = (margin + x + ymax, margin + y - xmin)
        else:
            offset = (margin + x - xmin, margin + y - ymin)
        placements.append(
            Placement(k % n, sheet, 90 if rotated else 0, (float(offset[0]), float(offset[1])))
        )
    return placements


def place_copies(
    layout: Layout,
    copies: int,
    usable: tuple[float, float],
    margin: float,
    spacing: float,
    rotation: bool,
    true_shape: bool,
) -> list[Placement]:
    """Placements of every part of every copy, by true shape or by bounding box."""
    if true_shape:
        from .shapenest import item_footprints, pack_shapes

        try:
            return pack_shapes(
                item_footprints(layout, spacing),
                list(range(layout.items)) * copies,
                usable,
                margin,
                rotation,
            )
        except ValueError:
            pass  # a part that fits only by a hair does not fit the grid: use boxes
    return nest(layout, copies, usable, margin, spacing, rotation)


def _transform_geometry(geom: shapely.Geometry, placement: Placement) -> shapely.Geometry:
    return shapely.transform(geom, placement.apply)


def fill_sheets(layout: Layout, placements: list[Placement], item_area: np.ndarray) -> list[Sheet]:
    """Place every copy's contours and engraving on its sheet.

    ``item_area``: ``(items,) float`` area of each item's parts (for sheet use).
    """
    n_sheets = 1 + max((p.sheet for p in placements), default=0)
    sheets = [Sheet(i) for i in range(n_sheets)]
    by_item: list[list[int]] = [[] for _ in range(layout.items)]
    for k, c in enumerate(layout.contours):
        by_item[c.item].append(k)
    engrave_by_item: list[list[shapely.Geometry]] = [[] for _ in range(layout.items)]
    for geom, it in layout.engrave:
        engrave_by_item[it].append(geom)
    engrave_parts: list[list[shapely.Geometry]] = [[] for _ in range(n_sheets)]
    for number, placement in enumerate(placements):
        sheet = sheets[placement.sheet]
        sheet.placements.append(placement)
        sheet.copies.append(number // max(layout.items, 1))
        members = by_item[placement.item]
        local = {k: len(sheet.contours) + j for j, k in enumerate(members)}
        for k in members:
            c = layout.contours[k]
            sheet.contours.append(
                Contour(
                    placement.apply(c.points),
                    c.closed,
                    c.op,
                    local.get(c.parent, -1),
                    c.item,
                    c.source,
                )
            )
        for geom in engrave_by_item[placement.item]:
            engrave_parts[placement.sheet].append(_transform_geometry(geom, placement))
        sheet.part_area += float(item_area[placement.item])
    for sheet, geoms in zip(sheets, engrave_parts, strict=True):
        if geoms:
            sheet.engrave = shapely.union_all(geoms)
    return sheets
