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

The body is printed in layers of its own (:func:`support_layers`), thicker than the
part's and between them, as PrusaSlicer prints it; the interface stays on the part's
layers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import shapely

from fabserver.designs.indexed import sorted_unique

from .bridges import anchored_share
from .regions import EMPTY, MITRE, opened

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
    #: ``(L,)`` the part grown by the support's clearance: what no support may touch
    keep_out: np.ndarray | None = None


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
    unsupported = opened(unsupported, half)
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
        column = opened(column, half)
        # Top interface: what started (or was overhung) within the last INTERFACE_LAYERS
        # layers; bottom interface: within INTERFACE_LAYERS layers above the part.
        tops = [new_top, *tops[:-1]]
        lowest = k - CONTACT_LAYERS - INTERFACE_LAYERS
        resting = keep_out[max(lowest, 0) : max(k - CONTACT_LAYERS, 0)]
        dense = shapely.union_all([shapely.buffer(shapely.union_all(tops), gap), *resting])
        interface[k] = shapely.intersection(column, dense)
        body[k] = shapely.difference(column, interface[k])
    return Support(body, interface, float(shapely.area(unsupported).sum()), keep_out)


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
    for k in sorted_unique(layer[spanned]):
        out[k] = shapely.union_all(parts[spanned & (layer == k)])
    return out


def _grown(overhang: shapely.Geometry, below: shapely.Geometry) -> shapely.Geometry:
    """``overhang`` reaching :data:`SUPPORT_MARGIN` out into the air around it."""
    for _ in range(MARGIN_STEPS):
        overhang = shapely.difference(
            shapely.buffer(overhang, SUPPORT_MARGIN / MARGIN_STEPS, **MITRE), below
        )
    return overhang


#: PrusaSlicer's ``max_layer_height`` when the printer leaves it at 0: three quarters of
#: the nozzle. The support body's own layers are at most this thick.
MAX_LAYER_SHARE = 0.75
#: mm: print heights this close are one layer (the file writes z to the micron; PrusaSlicer
#: merges within 0.1 µm and writes more digits)
Z_EPSILON = 1e-3


@dataclass(frozen=True)
class SupportLayers:
    """The support body in layers of its own (PrusaSlicer's intermediate layers, with
    ``support_material_synchronize_layers`` off), in increasing ``z``.

    Between the part layers that hold interface (and the first layer), each run of
    part layers with a support body is cut into the fewest even layers no thicker
    than the maximum layer height: 0.2 mm part layers from z 0.2 to 1.0 become
    support layers at 0.467, 0.733 and 1.0. A support layer that ends where a part
    layer does is printed with it (``part_layer``), at its own height's flow.
    """

    z: np.ndarray  # (S,) print height (top of the layer), mm
    height: np.ndarray  # (S,) thickness, mm
    body: np.ndarray  # (S,) geometries: the union of the part-layer bodies each covers
    part_layer: np.ndarray  # (S,) int: the part layer at the same z, -1 when none
    #: ``(L,)`` bool: part layers whose body is printed with them (the first layer and
    #: those holding interface); the others' body is in the support layers
    on_part: np.ndarray

    def __len__(self) -> int:
        return len(self.z)


def support_layers(
    support: Support,
    z_top: np.ndarray,
    heights: np.ndarray,
    max_height: float,
    min_width: float,
) -> SupportLayers:
    """Cut the support body of the part layers ``z_top`` (tops) / ``heights`` into layers
    of its own, each at most ``max_height`` thick (thinner than the part's layers when
    those are thicker), as PrusaSlicer lays them."""
    n = len(z_top)
    # By area: where a column only touches the dense area, the interface is a line.
    has_body = shapely.area(support.body) > 0
    on_part = shapely.area(support.interface) > 0
    if n:
        on_part[0] = True
    free = has_body & ~on_part
    # Runs of consecutive part layers whose body goes into the support layers.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], free.astype(np.int8), [0]])))
    bottom = z_top - heights
    keep_out = support.keep_out if support.keep_out is not None else np.full(n, EMPTY)
    half = min_width / 2.0
    zs: list[float] = []
    hs: list[float] = []
    bodies: list[shapely.Geometry] = []
    same: list[int] = []
    for a, b in zip(edges[::2], edges[1::2] - 1, strict=True):
        z0, z1 = float(bottom[a]), float(z_top[b])
        count = max(1, math.ceil((z1 - z0) / max_height - Z_EPSILON))
        cuts = z0 + (z1 - z0) * np.arange(count + 1) / count
        for lo, hi in itertools.pairwise(cuts.tolist()):
            # The part layers this one overlaps: its body is theirs, clear of them all.
            covered = np.arange(a, b + 1)
            covered = covered[
                (bottom[covered] < hi - Z_EPSILON) & (z_top[covered] > lo + Z_EPSILON)
            ]
            area = shapely.difference(
                shapely.union_all(support.body[covered]), shapely.union_all(keep_out[covered])
            )
            area = opened(area, half)
            if shapely.is_empty(area):
                continue
            at = np.flatnonzero(np.abs(z_top - hi) < Z_EPSILON)
            zs.append(float(z_top[at[0]]) if at.size else hi)
            hs.append(hi - lo)
            bodies.append(area)
            same.append(int(at[0]) if at.size else -1)
    body = np.empty(len(bodies), dtype=object)
    body[:] = bodies
    return SupportLayers(
        np.array(zs, dtype=float),
        np.array(hs, dtype=float),
        body,
        np.array(same, dtype=np.int64),
        on_part,
    )
