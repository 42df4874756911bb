"""Support under overhangs: where a layer sticks out past what the layer below holds.

A layer holds the next one out to ``h · tan(50°)`` beyond its own outline (the
overhang angle a printer bridges without help). What sticks out further, wider
than one extrusion, needs support. Columns grow down from there, one layer at a
time, kept ``SUPPORT_XY_GAP`` away from the part and stopped where they meet it;
one empty layer (``contact distance``) separates their top from the overhang so
they come off. Bodies are sparse lines that stack into thin walls; the top
layers of each column (the interface) are nearly solid and turned 90° so the
overhang rests on a continuous surface; a loop (the sheath) holds each column's
lines together, as PrusaSlicer draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from .regions import EMPTY, MITRE

OVERHANG_ANGLE_DEG = 50.0
SUPPORT_XY_GAP = 0.6  # mm between support and part
CONTACT_LAYERS = 1  # empty layers between the support's top and the overhang
INTERFACE_LAYERS = 3
BODY_SPACING = 2.5  # mm between support lines (PrusaSlicer's default)
INTERFACE_SPACING = 0.45  # mm: nearly solid, the overhang's first layer lies on it


@dataclass(frozen=True)
class Support:
    """Per layer ``(L,)`` geometries: sparse body and dense interface (top of columns)."""

    body: np.ndarray
    interface: np.ndarray
    overhang_area: float  # mm², summed over layers: what needed support


def support_regions(slices: np.ndarray, heights: np.ndarray, min_width: float) -> Support:
    """Support areas of every layer of ``slices`` ((L,) geometries)."""
    n = len(slices)
    reach = heights * math.tan(math.radians(OVERHANG_ANGLE_DEG))
    below = np.empty(n, dtype=object)
    below[0] = EMPTY
    below[1:] = slices[:-1]
    held = shapely.buffer(below, reach, **MITRE)
    unsupported = shapely.difference(slices, held)
    unsupported[0] = EMPTY  # the first layer lies on the bed
    # Slivers narrower than a line are what curved walls show at every layer: no support.
    half = min_width / 2.0
    unsupported = shapely.buffer(shapely.buffer(unsupported, -half, **MITRE), half, **MITRE)
    keep_out = shapely.buffer(slices, SUPPORT_XY_GAP, **MITRE)

    body = np.full(n, EMPTY, dtype=object)
    interface = np.full(n, EMPTY, dtype=object)
    column = EMPTY
    tops: list[shapely.Geometry] = [EMPTY] * (INTERFACE_LAYERS + 1)
    for k in range(n - 1, -1, -1):
        source = k + CONTACT_LAYERS + 1
        new_top = unsupported[source] if source < n else EMPTY
        column = shapely.difference(shapely.union(column, new_top), keep_out[k])
        if k + 1 < n:
            # Not inside the layer just above either (the contact gap under the part).
            column = shapely.difference(column, shapely.buffer(slices[k + 1], SUPPORT_XY_GAP))
        column = shapely.buffer(shapely.buffer(column, -half, **MITRE), half, **MITRE)
        # Interface: what started (or was overhung) within the last INTERFACE_LAYERS layers.
        tops = [new_top, *tops[:-1]]
        recent = shapely.union_all(tops)
        interface[k] = shapely.intersection(column, shapely.buffer(recent, SUPPORT_XY_GAP))
        body[k] = shapely.difference(column, interface[k])
    return Support(body, interface, float(shapely.area(unsupported).sum()))
