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

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely

from fabserver.designs.indexed import sorted_unique

from .flow import Flow
from .geos import buffer, difference, intersection, union

MITRE = {"join_style": "mitre", "mitre_limit": 3.0}
EMPTY = shapely.Polygon()
THIN_SCREEN_AREA = (
    0.05  # mm²: layers losing less than this to the external loop are not measured exactly
)
INSET_FIT = 0.8  # share of a spacing a loop or the infill needs across to be laid at all
BRIDGE_ANCHOR = 3.0  # mm a bridge reaches onto its supports (PrusaSlicer's external infill margin)
GAP_MIN_WIDTH = 0.1  # mm: narrower gaps between lines are left (less than a quarter of a line)
SLIVER_WIDTH = 1e-6  # mm: what two overlays of the same outline differ by, far below GAP_MIN_WIDTH


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
class GapsToMake:
    """What the gaps are made from (the loops and the infill area), so that they can
    be worked out where gap fill runs: in a process of its own, beside the rest of
    the regions, instead of holding those up (on 3DBenchy the gaps take 0.14 s, the
    rest of the regions 0.2 s)."""

    loops: list[np.ndarray]
    infill_area: np.ndarray
    first_flows: LayerFlows
    flows: LayerFlows
    fill_spacing: np.ndarray

    def make(self) -> np.ndarray:
        """``(L,)`` gaps: see :func:`_gaps`."""
        n = len(self.infill_area)
        return _gaps(
            self.loops, self.infill_area, self.first_flows, self.flows, n, self.fill_spacing
        )

    @property
    def outline_points(self) -> int:
        """Vertices of the loops and the infill area: the measure of the gaps' work."""
        return int(
            sum(shapely.get_num_coordinates(a).sum() for a in [*self.loops, self.infill_area])
        )


@dataclass(frozen=True)
class Regions:
    """What every layer prints; each field is ``(L,)`` object (shapely geometries) or floats.

    loops : list of (L,) — area inside perimeter ``i``'s centre line (index 0 = external)
    infill_area : (L,) — inside the perimeters, where infill goes
    sparse, solid, top, bridge : (L,) — parts of ``infill_area`` by kind of infill
    thin_area : (L,) float, mm² — outline too narrow for one external perimeter
    gaps_to_make : how :attr:`gaps` are made, on first use (gap fill makes its own)
    """

    loops: list[np.ndarray]
    infill_area: np.ndarray
    sparse: np.ndarray
    solid: np.ndarray
    top: np.ndarray
    bridge: np.ndarray
    thin_area: np.ndarray
    gaps_to_make: GapsToMake

    @cached_property
    def gaps(self) -> np.ndarray:
        """(L,) — inside the perimeters, narrower than one line: neither a loop nor the
        infill reaches them (gap fill)."""
        return self.gaps_to_make.make()


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


def _uncovered(
    infill_area: np.ndarray,
    slices: np.ndarray,
    count: int,
    direction: int,
    windows: dict[int, _Windows],
) -> np.ndarray:
    """``(L,)``: what of each layer's infill area the ``count`` layers above
    (``direction=1``) or below (``-1``) do not all cover: its solid skin of that side.

    The skin is the infill area less the intersection of those layers (built from
    the windows of :class:`_Windows`, which the top and bottom searches share). A
    layer each of whose neighbours covers its infill area has none: ``covers`` tells
    that in some ten microseconds, where an overlay of two nearly equal outlines
    takes a fifth of a millisecond (GEOS's slowest case). So the intersections are
    made on the other layers only: on 3DBenchy, 275 instead of 720 (half its layers
    have no top skin, nine in ten no bottom one), 0.04 s less CPU; the same skins.

    (Propagating each layer's exposed surface instead, as a union over the
    neighbours, measured slower on sloped parts: the exposed strips of a hull
    are as detailed as the layers.)
    """
    n = len(slices)
    present = ~shapely.is_empty(infill_area)
    covered = present.copy()  # by every neighbour asked so far
    for j in range(1, count + 1):
        rows = np.flatnonzero(covered)
        neighbour = _shift(slices, j * direction)[rows]
        covered[rows] = shapely.covers(neighbour, infill_area[rows])
    rows = np.flatnonzero(present & ~covered)
    # Layers k+1 .. k+count start at m = k + 1; layers k-count .. k-1 at m = k - count.
    start = rows + (1 if direction > 0 else -count)
    inside = (start >= 0) & (start < n)
    common = np.full(len(rows), EMPTY, dtype=object)
    common[inside] = _window(windows, count, start[inside], slices)
    out = np.full(n, EMPTY, dtype=object)
    out[rows] = difference(infill_area[rows], common)
    return out


@dataclass
class _Windows:
    """Window intersections ``W_c[m]`` = layers ``m .. m + c - 1``, made where asked."""

    value: np.ndarray  # (L,) object
    made: np.ndarray  # (L,) bool


def _window(windows: dict[int, _Windows], c: int, at: np.ndarray, slices: np.ndarray) -> np.ndarray:
    """``W_c[at]`` (``at`` within the layers), made from (and kept in) ``windows``.

    Each window is made of two halves (``W_a[m] ∩ W_b[m + a]``), so 4 layers above
    and 3 below take at most three intersections a layer instead of five. A function of
    the module, not a closure calling itself: such a closure is a reference cycle,
    and it kept every window of every layer alive until the cyclic collector's
    next full pass (the rest of a plan, in ``fabserver plan``).
    """
    if c == 1:
        return slices[at]
    n = len(slices)
    if c not in windows:
        windows[c] = _Windows(np.full(n, EMPTY, dtype=object), np.zeros(n, bool))
    w = windows[c]
    todo = sorted_unique(at[~w.made[at]])
    if len(todo):
        a = c // 2
        second = todo + a
        beyond = second >= n  # the second half starts above the top layer: empty
        right = np.full(len(todo), EMPTY, dtype=object)
        right[~beyond] = _window(windows, c - a, second[~beyond], slices)
        w.value[todo] = intersection(_window(windows, a, todo, slices), right)
        w.made[todo] = True
    return w.value[at]


def opened(geoms: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
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
    solid_below_area: float = 0.0,
    bridge_anchor: float = BRIDGE_ANCHOR,
    on_gaps: Callable[[GapsToMake], None] | None = None,
) -> Regions:
    """Perimeter loops and infill regions of every layer of ``slices`` ((L,) geometries).

    The infill area stops where PrusaSlicer's infill lines are linked: half a
    perimeter spacing plus half an infill spacing inside the last loop's centre
    line, less ``infill_overlap`` (a share of the infill spacing) so the lines'
    ends bite into the perimeter. Sparse areas smaller than ``solid_below_area``
    (mm²) are filled solid; bridges over air reach ``bridge_anchor`` mm onto
    what holds them. ``on_gaps`` is called with what the gaps are made from as
    soon as that is known, before the rest of the regions: gap fill starts there,
    gaps and all, and the regions do not wait for the gaps.
    """
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
        # A loop goes only where its line fits (PrusaSlicer keeps 80 % of a spacing
        # between its two sides): a sliver of a loop would lay two lines on one spot.
        # What is left between is gap fill.
        fit = INSET_FIT / 2.0 * step
        inner = buffer(loops[-1], -(first_step if i == 1 else step) - fit, **MITRE)
        loops.append(buffer(inner, fit, **MITRE))
    last_spacing = _per_layer(
        (first_flows.external if perimeters == 1 else first_flows.perimeter).spacing,
        (flows.external if perimeters == 1 else flows.perimeter).spacing,
        n,
    )
    fill_spacing = _per_layer(first_flows.solid.spacing, flows.solid.spacing, n)
    inset = last_spacing / 2.0 + fill_spacing / 2.0 - infill_overlap * fill_spacing
    fit = INSET_FIT / 2.0 * fill_spacing
    infill_area = buffer(buffer(loops[-1], -inset - fit, **MITRE), fit, **MITRE)
    gaps = GapsToMake(list(loops), infill_area, first_flows, flows, fill_spacing)
    if on_gaps is not None:
        on_gaps(gaps)

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

    slices_below = _shift(slices, -1)
    solid = np.full(n, EMPTY, dtype=object)
    windows: dict[int, _Windows] = {}
    if top_layers > 0:
        solid = _uncovered(infill_area, slices, top_layers, 1, windows)
    if bottom_layers > 0:
        solid = union(solid, _uncovered(infill_area, slices, bottom_layers, -1, windows))
    # Strips narrower than one line cannot be filled as solid: they stay sparse.
    half = _per_layer(first_flows.solid.spacing, flows.solid.spacing, n) / 2.0
    solid = opened(solid, half)
    solid = intersection(solid, infill_area)
    # Tops and bridges are parts of the solid infill: only the layers with some have any.
    has = np.flatnonzero(~shapely.is_empty(solid))
    top = np.full(n, EMPTY, dtype=object)
    bridge = np.full(n, EMPTY, dtype=object)
    exposed_top = difference(infill_area[has], _shift(slices, 1)[has])
    exposed_bottom = difference(infill_area[has], slices_below[has])
    top[has] = intersection(solid[has], exposed_top)
    bridge[has] = difference(intersection(solid[has], exposed_bottom), top[has])
    if n:
        bridge[0] = EMPTY  # the first layer lies on the bed
    if bridge_anchor > 0 and n > 1:
        # Bridges over air reach onto what holds them, as PrusaSlicer's do: lines
        # ending at the edge of the gap would sag off it.
        over_air = ~shapely.is_empty(bridge)
        # What holds them, on those layers only.
        held = intersection(
            difference(infill_area[over_air], top[over_air]), slices_below[over_air]
        )
        grown = buffer(bridge[over_air], bridge_anchor, **MITRE)
        bridge[over_air] = union(bridge[over_air], intersection(grown, held))
        bridge = _by_area(bridge, 0.0)[1]  # polygons only: GEOS fails on mixed collections
        solid = union(solid, bridge)
    internal = difference(solid, union(top, bridge))
    sparse = difference(infill_area, solid)
    if solid_below_area > 0:
        # Small sparse areas (a screw's shaft, a chimney, a thin wall's middle) hold
        # one or two infill lines at most: PrusaSlicer fills them solid.
        small, sparse = _by_area(sparse, solid_below_area)
        internal = _by_area(union(internal, small), 0.0)[1]
    # Solid infill laid over sparse infill spans the gaps between its lines: it is
    # printed as a bridge, thick and slow, as PrusaSlicer does ("internal bridge").
    over_sparse = intersection(internal, _shift(sparse, -1))
    over_sparse = opened(over_sparse, half)
    bridge = union(bridge, intersection(over_sparse, internal))
    internal = difference(internal, bridge)
    return Regions(loops, infill_area, sparse, internal, top, bridge, thin_area, gaps)


def _by_area(geoms: np.ndarray, max_area: float) -> tuple[np.ndarray, np.ndarray]:
    """Each layer's polygons smaller than ``max_area``, and the others: two ``(L,)`` arrays.

    Lines and points (what an overlay leaves of a touching edge) are dropped.
    """
    parts, layer = shapely.get_parts(geoms, return_index=True)
    polygons = shapely.get_type_id(parts) == 3
    parts, layer = parts[polygons], layer[polygons]
    small = shapely.area(parts) < max_area
    out = []
    for chosen in (small, ~small):
        layers = np.full(len(geoms), EMPTY, dtype=object)
        if chosen.any():
            present, dense = np.unique(layer[chosen], return_inverse=True)
            layers[present] = shapely.multipolygons(parts[chosen], indices=dense)
        out.append(layers)
    return out[0], out[1]


def _gaps(
    loops: list[np.ndarray],
    infill_area: np.ndarray,
    first_flows: LayerFlows,
    flows: LayerFlows,
    n: int,
    fill_spacing: np.ndarray,
) -> np.ndarray:
    """Inside the perimeters, what neither the next loop nor the infill covers.

    Where a wall is too narrow for the next loop, or the space inside the last
    loop too narrow for the infill, a strip narrower than one line is left: it
    gets gap fill. Each loop's line covers half its spacing on either side of its
    centre line; the infill's lines half theirs beyond the infill area.
    """
    spacing = [
        _per_layer(
            (first_flows.external if i == 0 else first_flows.perimeter).spacing,
            (flows.external if i == 0 else flows.perimeter).spacing,
            n,
        )
        for i in range(len(loops))
    ]
    inside = [buffer(loops[i], -spacing[i] / 2.0, **MITRE) for i in range(len(loops))]
    reached = [
        buffer(loops[i + 1], spacing[i + 1] / 2.0, **MITRE) for i in range(len(loops) - 1)
    ] + [buffer(infill_area, fill_spacing / 2.0, **MITRE)]
    # Between two loops the inner loop's reach is most often the outer loop's inner
    # edge again, to the last bits: the difference is then slivers only, and the
    # overlay of two nearly equal outlines is GEOS's slowest case (it falls back to
    # snapping: 2-3 ms a layer where 0.05 ms would do). So the inner reach is taken
    # grown by a micrometre, far below the widths the opening below keeps: the
    # difference then runs clear of the inside's edges (3DBenchy's pieces 70 → 20 ms,
    # and one extrusion amount of its G-code moved in the fifth decimal). Where the
    # grown reach covers the inside, there is no piece at all; a layer with no piece
    # between its loops and none inside the last one has no gaps, without overlays.
    last = difference(inside[-1], reached[-1])
    wide = ~shapely.is_empty(last)
    near = [buffer(reach, SLIVER_WIDTH, **MITRE) for reach in reached[:-1]]
    apart = [~shapely.covers(near[i], inside[i]) for i in range(len(near))]
    for some in apart:
        wide |= some
    rows = np.flatnonzero(wide)
    pieces = []
    for i in range(len(near)):
        piece = np.full(len(rows), EMPTY, dtype=object)
        some = apart[i][rows]
        piece[some] = difference(inside[i][rows[some]], near[i][rows[some]])
        pieces.append(piece)
    pieces.append(last[rows])
    gaps = pieces[0]
    for more in pieces[1:]:
        gaps = union(gaps, more)
    out = np.full(n, EMPTY, dtype=object)
    out[rows] = opened(gaps, GAP_MIN_WIDTH / 2.0)
    return out
