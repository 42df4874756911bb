"""The slicing pipeline: mesh on the bed → layers → regions → paths → toolpath."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from fabserver.memory import release_freed_memory
from fabserver.profiles import Kinematics
from fabserver.toolpath import EventKind, Toolpath

from .assemble import slowed_down, toolpath_of
from .layers import GapPiece, layer_flows, plan_layers, start_gap_fill
from .regions import build_regions
from .settings import PrintSettings
from .slicer import SliceResult, layer_tops, slice_mesh
from .support import MAX_LAYER_SHARE, Support, support_layers, support_regions
from .support_paths import interleave


@dataclass(frozen=True)
class Sliced:
    """Everything the plugin reports on, besides the toolpath itself."""

    toolpath: Toolpath
    slices: SliceResult
    #: ``(L,)`` mm² of each layer's outline too narrow for one external perimeter
    thin_area: np.ndarray
    layer_time: np.ndarray  # (L,) s
    retractions: int
    #: ``(M,)`` print height of each layer of the toolpath, and its rise from the one
    #: before: the part's layers, and the support body's own among them
    layer_z: np.ndarray
    layer_step: np.ndarray
    support: Support | None = None

    @property
    def printed_layer_count(self) -> int:
        """The layers the file prints, each opened by ``;LAYER_CHANGE``: a top layer with
        nothing wide enough to print (walls thinner than a line) is sliced but is not one."""
        return sum(ev.kind == EventKind.LAYER_CHANGE for ev in self.toolpath.events)


def slice_layers(
    vertices: np.ndarray,
    faces: np.ndarray,
    s: PrintSettings,
    progress: Callable[[float, str], None] = lambda done, stage="": None,
) -> SliceResult:
    """The layers of a mesh in place on the bed (z from 0), without the empty ones at
    the top (slicing planes above the last facet).

    vertices : (v, 3) float, millimetres; faces : (f, 3) int

    A call of its own, before :func:`slice_to_toolpath`: the mesh is read here only,
    and its caller lets it go before the stages whose peaks follow.
    """
    release_freed_memory()  # the checks' and the arrangement's temporaries
    height = float(vertices[:, 2].max())
    tops = layer_tops(height, s.first_layer_height, s.layer_height)
    progress(0.05, "slice")
    sliced = slice_mesh(vertices, faces, tops)
    filled = np.flatnonzero(~shapely.is_empty(sliced.polygons))
    keep = (filled[-1] + 1) if filled.size else 0
    return SliceResult(
        sliced.polygons[:keep], sliced.top_z[:keep], sliced.height[:keep], sliced.open_chains
    )


def slice_to_toolpath(
    sliced: SliceResult,
    s: PrintSettings,
    kin: Kinematics,
    progress: Callable[[float, str], None] = lambda done, stage="": None,
) -> Sliced:
    """The toolpath of the layers of :func:`slice_layers`."""
    n_layers = len(sliced.polygons)
    release_freed_memory()  # the crossings' and the mesh's: off the peaks that follow
    progress(0.3, "regions")
    first = layer_flows(s, float(sliced.height[0]) if n_layers else s.first_layer_height, True)
    rest = layer_flows(s, s.layer_height, False)
    gap_fill: list[Iterator[GapPiece]] = []  # started as soon as the gaps are known
    regions = build_regions(
        sliced.polygons,
        first,
        rest,
        s.perimeters,
        s.top_solid_layers,
        s.bottom_solid_layers,
        s.printer.infill_overlap,
        s.solid_infill_below_area,
        on_gaps=lambda gaps: gap_fill.append(start_gap_fill(gaps)),
    )
    support = None
    travel_area = regions.infill_area
    # Travels run unretracted only over sparse infill, clear of its walls and of the
    # skins (strings on a top surface show; over sparse infill they never do).
    # A layer with a top surface retracts on every travel: what oozes on the way is
    # left at the next start, which may be on that surface.
    quiet_area = regions.sparse.copy()
    quiet_area[~shapely.is_empty(regions.top)] = shapely.Polygon()
    layers = None
    part_support = None
    if s.support_material and n_layers:
        support = support_regions(sliced.polygons, sliced.height, rest.external.width)
        # The body in layers of its own, thicker than the part's; the part's layers keep
        # the interface and the body beside it.
        layers = support_layers(
            support,
            sliced.top_z,
            sliced.height,
            MAX_LAYER_SHARE * s.printer.nozzle_diameter,
            rest.external.width,
        )
        body = np.where(layers.on_part, support.body, shapely.Polygon())
        part_support = dataclasses.replace(support, body=body)
        column = shapely.union(body, support.interface)
        travel_area = shapely.union(travel_area, column)
        quiet_area = shapely.union(quiet_area, column)
    release_freed_memory()
    progress(0.55, "paths")
    paths = plan_layers(
        regions,
        sliced.polygons,
        sliced.top_z,
        sliced.height,
        s,
        part_support,
        travel_area,
        gap_fill[0] if gap_fill else None,
    )
    outline, walkway, thin_area = sliced.polygons, regions.loops[-1], regions.thin_area
    # The regions' other geometry (every loop, infill and skin area of every layer) is
    # not read again: freed before the assembly's peak.
    del regions, travel_area
    gap_fill.clear()
    release_freed_memory()  # gap fill's, freed on a thread (an arena of its own)
    progress(0.8, "toolpath")
    layer_z, layer_step = sliced.top_z, sliced.height
    if layers is not None and len(layers):
        printed = interleave(paths, sliced.top_z, layers, s)
        paths, layer_z, layer_step = printed.paths, printed.z, printed.step
        quiet_area, outline, walkway = (
            _per_print_layer(a, printed.part) for a in (quiet_area, outline, walkway)
        )
        # Travels over a support layer's body need no retraction either.
        quiet_area = shapely.union(quiet_area, _per_print_layer(layers.body, printed.support))
    toolpath, retractions = toolpath_of(paths, layer_z, quiet_area, s, kin, outline, walkway)
    # The points of every path (the toolpath has them now) and the travels' areas are
    # not read again: freed before the slowdown plans every move, the plan's peak.
    del paths, quiet_area, walkway
    release_freed_memory()  # the assembly's temporaries
    toolpath, layer_time = slowed_down(toolpath, s, kin, len(layer_z))
    release_freed_memory()  # the slowdown's
    return Sliced(
        toolpath,
        sliced,
        thin_area,
        layer_time,
        retractions,
        layer_z,
        layer_step,
        support,
    )


def _per_print_layer(geoms: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``geoms[index]`` per layer of the file, empty where ``index`` is -1."""
    out = np.full(len(index), shapely.Polygon(), dtype=object)
    out[index >= 0] = geoms[index[index >= 0]]
    return out
