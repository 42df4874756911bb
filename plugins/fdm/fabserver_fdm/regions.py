"""From layer outlines to what each layer prints: perimeters, solid and sparse infill.

Everything here is one shapely 2 call over the array of all layers at a time
(GEOS does the loops in C).

Perimeters are inward offsets of the outline, spaced as PrusaSlicer spaces them:
the external loop's centre is half its width inside the outline, the next one
half an external spacing plus half a perimeter spacing further in, the others
one perimeter spacing apart.

Solid layers come from the neighbours, as PrusaSlicer finds them: a point of
layer ``k`` is solid-top when any of the ``top_solid_layers`` layers above does
not cover it (the region minus the intersection of the layers above), and
solid-bottom likewise with the layers below. So the top of a step, of an
overhang or of a boss halfway up gets its solid skin, not only the last layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .flow import Flow
from .geos import buffer, difference, intersection, union

MITRE = {"join_style": "mitre", "mitre_limit": 3.0}
EMPTY = shapely.Polygon()
THIN_SCREEN_AREA = (
    0.05  # mm²: layers losing less than this to the external loop are not measured exactly
)


@dataclass(frozen=True)
class LayerFlows:
    """Flows of one kind of layer (the first one differs)."""

    external: Flow
    perimeter: Flow
    infill: Flow
    solid: Flow
    top: Flow
    bridge: Flow


@dataclass(frozen=True)
class Regions:
    """What every layer prints; each field is ``(L,)`` object (shapely geometries) or floats.

    loops : list of (L,) — area inside perimeter ``i``'s centre line (index 0 = external)
    infill_area : (L,) — inside the perimeters, where infill goes
    sparse, solid, top, bridge : (L,) — parts of ``infill_area`` by kind of infill
    thin_area : (L,) float, mm² — outline too narrow for one external perimeter
    """

    loops: list[np.ndarray]
    infill_area: np.ndarray
    sparse: np.ndarray
    solid: np.ndarray
    top: np.ndarray
    bridge: np.ndarray
    thin_area: np.ndarray


def _shift(layers: np.ndarray, by: int) -> np.ndarray:
    """``out[k] = layers[k + by]``, empty outside the range."""
    out = np.full(len(layers), EMPTY, dtype=object)
    n = len(layers)
    if by > 0 and by < n:
        out[: n - by] = layers[by:]
    elif by < 0 and -by < n:
        out[-by:] = layers[: n + by]
    elif by == 0:
        out[:] = layers
    return out


def _covered_by_neighbours(
    slices: np.ndarray, count: int, direction: int, windows: dict | None = None
) -> np.ndarray:
    """Intersection of the ``count`` layers above (``direction=1``) or below (``-1``).

    Built from window intersections ``W_c[m]`` = layers ``m .. m + c - 1``, each
    made of two halves (``W_a[m] ∩ W_b[m + a]``) and kept in ``windows`` so that
    the top and bottom searches share them: 4 above and 3 below take three
    intersections over all layers instead of five.

    (Propagating each layer's exposed surface instead, as a union over the
    neighbours, measured slower on sloped parts: the exposed strips of a hull
    are as detailed as the layers.)
    """
    windows = {} if windows is None else windows
    windows.setdefault(1, slices)

    def window(c: int) -> np.ndarray:
        if c not in windows:
            a = c // 2
            windows[c] = intersection(window(a), _shift(window(c - a), a))
        return windows[c]

    # Layers k+1 .. k+count start at m = k + 1; layers k-count .. k-1 at m = k - count.
    return _shift(window(count), 1 if direction > 0 else -count)


def _opened(geoms: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
    """Morphological opening: parts narrower than ``2 * radius`` removed."""
    return buffer(buffer(geoms, -radius, **MITRE), radius, **MITRE)


def _per_layer(first: float, rest: float, n: int) -> np.ndarray:
    values = np.full(n, rest, dtype=float)
    if n:
        values[0] = first
    return values


def build_regions(
    slices: np.ndarray,
    first_flows: LayerFlows,
    flows: LayerFlows,
    perimeters: int,
    top_layers: int,
    bottom_layers: int,
    infill_overlap: float,
) -> Regions:
    """Perimeter loops and infill regions of every layer of ``slices`` ((L,) geometries)."""
    n = len(slices)
    ext_half = _per_layer(first_flows.external.width, flows.external.width, n) / 2.0
    first_step = _per_layer(
        first_flows.external.spacing_to(first_flows.perimeter),
        flows.external.spacing_to(flows.perimeter),
        n,
    )
    step = _per_layer(first_flows.perimeter.spacing, flows.perimeter.spacing, n)

    loops = [buffer(slices, -ext_half, **MITRE)]
    for i in range(1, perimeters):
        loops.append(buffer(loops[-1], -(first_step if i == 1 else step), **MITRE))
    last_spacing = _per_layer(
        (first_flows.external if perimeters == 1 else first_flows.perimeter).spacing,
        (flows.external if perimeters == 1 else flows.perimeter).spacing,
        n,
    )
    inset = last_spacing / 2.0 - infill_overlap * last_spacing
    infill_area = buffer(loops[-1], -inset, **MITRE)

    # What the external perimeter cannot reach: narrower than its width.
    # The external loop's band is an opening of the outline (in, then out by the
    # same distance): it lies inside the outline but for slivers at mitred inner
    # corners (a tenth of mm² at most on 3DBenchy), so the difference of the areas
    # tells which layers may have thin walls; the exact overlay is made on those only.
    # (Corners cut by the mitre limit lose a few hundredths of mm²: the warning
    # threshold is well above that.)
    reached = buffer(loops[0], ext_half, **MITRE)
    thin_area = np.maximum(shapely.area(slices) - shapely.area(reached), 0.0)
    maybe = np.flatnonzero(thin_area > THIN_SCREEN_AREA)
    thin_area[maybe] = shapely.area(difference(slices[maybe], reached[maybe]))

    exposed_top = difference(infill_area, _shift(slices, 1))
    exposed_bottom = difference(infill_area, _shift(slices, -1))
    solid = np.full(n, EMPTY, dtype=object)
    windows: dict[int, np.ndarray] = {}
    if top_layers > 0:
        solid = difference(infill_area, _covered_by_neighbours(slices, top_layers, 1, windows))
    if bottom_layers > 0:
        below = _covered_by_neighbours(slices, bottom_layers, -1, windows)
        bottom = difference(infill_area, below)
        solid = union(solid, bottom)
    # Strips narrower than one line cannot be filled as solid: they stay sparse.
    half = _per_layer(first_flows.solid.spacing, flows.solid.spacing, n) / 2.0
    solid = _opened(solid, half)
    solid = intersection(solid, infill_area)
    top = intersection(solid, exposed_top)
    bridge = difference(intersection(solid, exposed_bottom), top)
    if n:
        bridge[0] = EMPTY  # the first layer lies on the bed
    internal = difference(solid, union(top, bridge))
    sparse = difference(infill_area, solid)
    # Solid infill laid over sparse infill spans the gaps between its lines: it is
    # printed as a bridge, thick and slow, as PrusaSlicer does ("internal bridge").
    over_sparse = intersection(internal, _shift(sparse, -1))
    over_sparse = _opened(over_sparse, half)
    bridge = union(bridge, intersection(over_sparse, internal))
    internal = difference(internal, bridge)
    return Regions(loops, infill_area, sparse, internal, top, bridge, thin_area)
