"""Support under overhangs: where a layer sticks out past what the layer below holds.

A layer holds the next one out to ``h · tan(50°)`` beyond its own outline (the
overhang angle a printer bridges without help). What sticks out further, wider
than one extrusion, needs support, unless a bridge spans it: an overhang whose
lines in some direction rest at both ends on the layer below is printed as a
bridge, unsupported (PrusaSlicer's ``dont_support_bridges``, on by default). Columns grow down from there, one layer at a
time, reaching 1.5 mm around each overhang and kept half an external line width away from the part (PrusaSlicer's
``support_material_xy_spacing = 50%``) and stopped where they meet it; one empty
layer (``contact distance``) separates their top from the overhang, and their
bottom from the part they stand on, so they come off. Bodies are sparse lines
that stack into thin walls; the top layers of each column (the interface) are
nearly solid and turned 90° so the overhang rests on a continuous surface, and so
are its bottom layers where it stands on the part (PrusaSlicer's bottom interface,
as many as the top's by default) so it neither marks nor welds to it; a loop (the
sheath) holds each column's lines together, as PrusaSlicer draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from .bridges import anchored_share
from .regions import EMPTY, MITRE

OVERHANG_ANGLE_DEG = 50.0
SUPPORT_XY_GAP = 0.5  # share of the external line width between support and part
CONTACT_LAYERS = 1  # empty layers between the support's top and the overhang
INTERFACE_LAYERS = 3
#: mm the support reaches out around an overhang (PrusaSlicer's SUPPORT_MATERIAL_MARGIN),
#: so that its edges rest on the support too; grown in steps that go round, not through,
#: the part below (PrusaSlicer's NUM_MARGIN_STEPS).
SUPPORT_MARGIN = 1.5
MARGIN_STEPS = 3
INTERFACE_SPACING = 0.45  # mm: nearly solid, the overhang's first layer lies on it
#: mm from one support line to the next: PrusaSlicer's ``support_material_spacing`` (2.5 mm)
#: is the empty gap between two lines, so their pitch is that plus one line's spacing.
BODY_SPACING = 2.5 + INTERFACE_SPACING
#: An overhang is bridged, not supported, when in its best direction this share of the
#: length of lines across it rests on the layer below at both ends.
BRIDGED_SHARE = 0.8
BRIDGE_PROBE_SPACING = 1.0  # mm between the lines tried across an overhang
#: mm: a line end this close to what the layer below holds rests on it. The overhangs'
#: edges over air are further than this from it (a narrower overhang needs no support).
BRIDGE_ANCHOR = 0.05


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
    unsupported = shapely.difference(unsupported, _bridged(unsupported, held))
    gap = SUPPORT_XY_GAP * min_width
    keep_out = shapely.buffer(slices, gap, **MITRE)

    body = np.full(n, EMPTY, dtype=object)
    interface = np.full(n, EMPTY, dtype=object)
    column = EMPTY
    tops: list[shapely.Geometry] = [EMPTY] * INTERFACE_LAYERS
    for k in range(n - 1, -1, -1):
        source = k + CONTACT_LAYERS + 1
        new_top = _grown(unsupported[source], keep_out[source - 1]) if source < n else EMPTY
        column = shapely.difference(shapely.union(column, new_top), keep_out[k])
        # Not inside the layers just above and below either: the contact gaps under the
        # overhang and over the part the column stands on.
        for gap_layer in range(k - CONTACT_LAYERS, k + CONTACT_LAYERS + 1):
            if 0 <= gap_layer < n and gap_layer != k:
                column = shapely.difference(column, keep_out[gap_layer])
        column = shapely.buffer(shapely.buffer(column, -half, **MITRE), half, **MITRE)
        # Top interface: what started (or was overhung) within the last INTERFACE_LAYERS
        # layers; bottom interface: within INTERFACE_LAYERS layers above the part.
        tops = [new_top, *tops[:-1]]
        lowest = k - CONTACT_LAYERS - INTERFACE_LAYERS
        resting = keep_out[max(lowest, 0) : max(k - CONTACT_LAYERS, 0)]
        dense = shapely.union_all([shapely.buffer(shapely.union_all(tops), gap), *resting])
        interface[k] = shapely.intersection(column, dense)
        body[k] = shapely.difference(column, interface[k])
    return Support(body, interface, float(shapely.area(unsupported).sum()))


def _bridged(unsupported: np.ndarray, held: np.ndarray) -> np.ndarray:
    """``(L,)``: the parts of each layer's overhangs that a bridge spans, its lines resting
    at both ends on what the layer below holds."""
    n = len(unsupported)
    out = np.full(n, EMPTY, dtype=object)
    parts, layer = shapely.get_parts(unsupported, return_index=True)
    if len(parts) == 0:
        return out
    spacing = np.full(n, BRIDGE_PROBE_SPACING)
    share = anchored_share(parts, layer, held, spacing, BRIDGE_ANCHOR).max(axis=1)
    spanned = share >= BRIDGED_SHARE
    for k in np.unique(layer[spanned]):
        out[k] = shapely.union_all(parts[spanned & (layer == k)])
    return out


def _grown(overhang: shapely.Geometry, below: shapely.Geometry) -> shapely.Geometry:
    """``overhang`` reaching :data:`SUPPORT_MARGIN` out into the air around it."""
    for _ in range(MARGIN_STEPS):
        overhang = shapely.difference(
            shapely.buffer(overhang, SUPPORT_MARGIN / MARGIN_STEPS, **MITRE), below
        )
    return overhang
