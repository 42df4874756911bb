"""Regions of every layer → the paths each layer prints, in print order.

Geometry comes out of shapely as flat coordinate arrays (one call per kind of
path for all layers); only the ordering walks layer by layer and island by
island, as a printer does: each island's perimeters (inner ones first unless
``external_perimeters_first``), then its infill, nearest path first.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely

from fabserver.designs.indexed import sorted_unique

from .bridges import bridge_lines
from .flow import Flow, e_per_mm, filament_area
from .gapfill import GapPiece, gap_fill_pieces
from .geos import buffer, pieces_in_child, union
from .infill import hatch, infill_lines
from .linking import Outline, add_anchors, link_lines
from .ordering import SeamPlacer, nearest_order, rotate_loop
from .regions import MITRE, GapsToMake, LayerFlows, Regions
from .settings import PrintSettings
from .support import BODY_SPACING, INTERFACE_SPACING, Support

ROLES = (
    "external_perimeter",
    "perimeter",
    "infill",
    "solid_infill",
    "top_solid_infill",
    "bridge",
    "skirt",
    "brim",
    "support",
    "support_interface",
    "travel",
    "retract",
    "overhang_perimeter",
    "gap_fill",
)
ROLE = {name: i for i, name in enumerate(ROLES)}
SMALL_PERIMETER_LENGTH = 2 * math.pi * 6.5  # mm, PrusaSlicer's threshold for small loops
OVERHANG_MIN_LENGTH = 0.5  # mm: shorter overhanging stretches of a loop stay ordinary
MIN_PIECE_WIDTHS = 1.2  # fill pieces shorter than this many line widths are dropped
MIN_PATH = 1e-3  # mm: extruding moves shorter than this are merged into their neighbour
# Vertices of the loops and infill area below which the gaps and their fill are not
# forked off (the M3 screw has 6,900, 3DBenchy 61,000: 0.01 s against 0.8 s of work).
GAP_FILL_FORK_OUTLINE_POINTS = 10000


@dataclass
class LayerPaths:
    """All extrusion paths in print order (flat over layers).

    points : list of (m, 2) float arrays, millimetres
    layer, role : (P,) int; e_per_mm, feed : (P,) float
    e_scale : {path index: (m - 1,) float} — per-move factors on ``e_per_mm`` for
        the paths whose width varies along them (gap fill)
    """

    points: list[np.ndarray] = field(default_factory=list)
    layer: list[int] = field(default_factory=list)
    role: list[int] = field(default_factory=list)
    e_per_mm: list[float] = field(default_factory=list)
    feed: list[float] = field(default_factory=list)
    e_scale: dict[int, np.ndarray] = field(default_factory=dict)

    def add(
        self,
        pts: np.ndarray,
        layer: int,
        role: int,
        epm: float,
        feed: float,
        scale: np.ndarray | None = None,
    ) -> None:
        if scale is not None:
            self.e_scale[len(self.points)] = scale
        self.points.append(pts)
        self.layer.append(layer)
        self.role.append(role)
        self.e_per_mm.append(epm)
        self.feed.append(feed)


def layer_flows(s: PrintSettings, height: float, first: bool) -> LayerFlows:
    p = s.printer
    if first:
        w = p.first_layer_extrusion_width
        f = Flow(w, height)
        return LayerFlows(f, f, f, f, f, Flow(p.nozzle_diameter, height, bridge=True))
    return LayerFlows(
        external=Flow(p.external_perimeter_extrusion_width, height),
        perimeter=Flow(p.extrusion_width, height),
        infill=Flow(p.extrusion_width, height),
        solid=Flow(p.extrusion_width, height),
        top=Flow(p.top_infill_extrusion_width, height),
        bridge=Flow(p.nozzle_diameter, height, bridge=True),
    )


def feature_speed(s: PrintSettings, role: str, flow: Flow, first_layer: bool) -> float:
    """mm/s of a feature: its profile speed, slower on the first layer and where the
    filament's volumetric limit binds (also used by the support's own layers)."""
    p = s.printer
    speed = {
        "external_perimeter": p.external_perimeter_speed,
        "perimeter": p.perimeter_speed,
        "infill": p.infill_speed,
        "solid_infill": p.solid_infill_speed,
        "top_solid_infill": p.top_solid_infill_speed,
        "bridge": p.bridge_speed,
        "skirt": p.skirt_speed or p.first_layer_speed,
        "brim": p.skirt_speed or p.first_layer_speed,
        "support": p.support_material_speed,
        "support_interface": p.support_material_speed,
        "overhang_perimeter": p.bridge_speed,
        "gap_fill": p.perimeter_speed,
    }[role]
    if first_layer:
        speed = min(speed, p.first_layer_speed)
    mvs = s.filament.max_volumetric_speed
    if mvs > 0:
        speed = min(speed, mvs / flow.area)
    return speed


def without_slivers(
    arrays: list[np.ndarray], layer: np.ndarray, line_width: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Fill pieces (point arrays, with their layer) without those hardly longer than a
    line is wide (``line_width``: per layer). Such a piece (a sliver where two regions
    meet, a corner clipped) is a blob with a start and a stop of its own: the
    neighbouring lines' ends cover its spot."""
    if not arrays:
        return arrays, layer
    counts = np.array([len(a) for a in arrays])
    flat = np.concatenate(arrays)
    step = np.linalg.norm(np.diff(flat, axis=0), axis=1)
    ends = np.cumsum(counts) - 1
    total = np.add.reduceat(np.append(step, 0.0), ends - counts + 1) - np.append(step, 0.0)[ends]
    keep = np.flatnonzero(total >= MIN_PIECE_WIDTHS * line_width[layer])
    return [arrays[i] for i in keep], layer[keep]


def point_arrays(geoms: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Lines or rings of ``geoms`` ((L,) geometries) as point arrays, with their layer."""
    parts, part_layer = shapely.get_parts(geoms, return_index=True)
    if len(parts) == 0:
        return [], np.zeros(0, np.int64)
    types = shapely.get_type_id(parts)
    polys = types == 3
    lines = types == 1
    pieces, piece_layer = [], []
    if polys.any():
        rings, ring_part = shapely.get_rings(parts[polys], return_index=True)
        pieces.append(rings)
        piece_layer.append(part_layer[polys][ring_part])
    if lines.any():
        pieces.append(parts[lines])
        piece_layer.append(part_layer[lines])
    if not pieces:
        return [], np.zeros(0, np.int64)
    geoms_flat = np.concatenate(pieces)
    layer = np.concatenate(piece_layer)
    coords, index = shapely.get_coordinates(geoms_flat, return_index=True)
    if len(coords) == 0:
        return [], np.zeros(0, np.int64)
    # Points closer than MIN_PATH to the previous one of their path (clipping's
    # slivers) would be moves of a micron: they go.
    step = np.full(len(coords), np.inf)
    step[1:] = np.where(
        index[1:] == index[:-1], np.linalg.norm(np.diff(coords, axis=0), axis=1), np.inf
    )
    keep_pt = step >= MIN_PATH
    last_of_path = np.append(index[1:] != index[:-1], True)
    # A closed ring keeps its closing point (its first one again), dropping the one before.
    closing = last_of_path & ~keep_pt
    keep_pt[closing] = True
    keep_pt[np.flatnonzero(closing) - 1] &= step[np.flatnonzero(closing) - 1] == np.inf
    coords, index = coords[keep_pt], index[keep_pt]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(index)) + 1])
    sizes = np.diff(np.concatenate([starts, [len(index)]]))
    keep = np.flatnonzero(sizes >= 2)
    # Slices of the one array (np.split makes every piece through a dozen calls).
    first, stop = starts[keep].tolist(), (starts + sizes)[keep].tolist()
    arrays = [coords[a:b] for a, b in zip(first, stop, strict=True)]
    return arrays, layer[index[starts[keep]]]


class _Islands:
    """Which island (part of its layer's slice) a point falls in, for every layer at once."""

    def __init__(self, slices: np.ndarray):
        self.islands, island_layer = shapely.get_parts(slices, return_index=True)
        if len(self.islands) == 0:
            return
        bounds = shapely.total_bounds(self.islands)
        # Layers are moved apart in x, so that one tree answers for all of them.
        self.pitch = (bounds[2] - bounds[0]) + 10.0
        coords, index = shapely.get_coordinates(self.islands, return_index=True)
        coords[:, 0] += island_layer[index] * self.pitch
        self.tree = shapely.STRtree(shapely.set_coordinates(self.islands.copy(), coords))

    def of(self, points: np.ndarray, layer: np.ndarray) -> np.ndarray:
        """Index of the island each of ``points`` ((k, 2), on ``layer``) falls in; -1 if none."""
        result = np.full(len(points), -1, dtype=np.int64)
        if len(self.islands) == 0 or len(points) == 0:
            return result
        probe = points.copy()
        probe[:, 0] += layer * self.pitch
        geoms = shapely.points(probe)
        which, island = self.tree.query(geoms, predicate="intersects")
        result[which] = island
        # A point just off an outline (rounding) counts for the nearest island.
        lost = np.flatnonzero(result < 0)
        if lost.size:
            which, island = self.tree.query_nearest(
                geoms[lost], max_distance=1.0, all_matches=False
            )
            result[lost[which]] = island
        return result


class _GapLines:
    """Gap fill lines as they come, run of layers by run (:func:`gap_fill_pieces`)."""

    def __init__(self, pieces: Iterator[GapPiece], islands: _Islands, n_layers: int):
        self.pieces, self.islands = pieces, islands
        self.lines: list[np.ndarray] = []
        self.width: list[np.ndarray] = []
        self.island = np.zeros(0, np.int64)
        self.by_layer: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
        self.done = 0

    def of_layer(self, k: int) -> np.ndarray:
        """Indices of layer ``k``'s lines (in ``lines``), waiting for them if need be."""
        while self.done <= k:
            self.done, lines, layer, width = next(self.pieces)
            first = len(self.lines)
            self.lines += lines
            self.width += width
            mid = np.array([g[len(g) // 2] for g in lines]).reshape(-1, 2)
            self.island = np.concatenate([self.island, self.islands.of(mid, layer)])
            for at, members in enumerate(_group(layer, len(self.by_layer))):
                if len(members):
                    self.by_layer[at].append(members + first)
            if self.done >= len(self.by_layer):
                next(self.pieces, None)  # the end: the child, if any, is reaped
        found = self.by_layer[k]
        return np.concatenate(found) if found else np.zeros(0, np.int64)


def start_gap_fill(gaps: GapsToMake) -> Iterator[GapPiece]:
    """Start the gaps and their fill lines; the lines come run of layers by run, lowest first.

    Gap fill needs only what the gaps are made from: it runs beside the rest of the
    regions, the infill and the loops, in a process of its own (the walk of
    :func:`plan_layers` holds the interpreter's lock most of the time), which works
    the gaps out too and hands on each run of layers as soon as it is done, so the
    walk lays the lowest layers while the others are worked out. Small parts (a
    screw's few gaps) are filled in this process: forking a planning process costs
    more than they take.
    """
    if gaps.outline_points < GAP_FILL_FORK_OUTLINE_POINTS:
        return _gap_fill_pieces_of(gaps)  # made here, layer run by run, as the walk asks
    return pieces_in_child(_gap_fill_pieces_of, gaps)


def _gap_fill_pieces_of(gaps: GapsToMake) -> Iterator[GapPiece]:
    """:func:`gap_fill_pieces` of the gaps, made first."""
    yield from gap_fill_pieces(gaps.make())


def plan_layers(
    regions: Regions,
    slices: np.ndarray,
    z_top: np.ndarray,
    heights: np.ndarray,
    s: PrintSettings,
    support: Support | None = None,
    travel_area: np.ndarray | None = None,
    gap_fill: Iterator[GapPiece] | None = None,
) -> LayerPaths:
    """Every extrusion path of every layer, in the order the printer will lay them.

    ``gap_fill`` brings the gap fill lines of the regions' gaps started earlier
    (:func:`start_gap_fill`); without it they are started here.
    """
    n = len(slices)
    first_flows = layer_flows(s, float(heights[0]), True) if n else None
    rest_flows = layer_flows(s, s.layer_height, False)
    flows = [first_flows if k == 0 else rest_flows for k in range(n)]
    fil = s.filament
    # Speeds and extrusion rates by flow, worked out once (thousands of paths share a few).
    known: dict[tuple, float] = {}

    def epm_of(f: Flow) -> float:
        if (f,) not in known:
            known[(f,)] = e_per_mm(f, fil.diameter, fil.extrusion_multiplier)
        return known[(f,)]

    def speed_of(role: str, flow: Flow, first: bool) -> float:
        key = (role, flow, first)
        if key not in known:
            known[key] = feature_speed(s, role, flow, first)
        return known[key]

    if gap_fill is None:
        gap_fill = start_gap_fill(regions.gaps_to_make)

    # Perimeter rings, one entry per ring: points, layer, perimeter index.
    rings: list[np.ndarray] = []
    ring_layer, ring_depth = [], []
    for depth, loop in enumerate(regions.loops):
        arrays, layer = point_arrays(loop)
        rings.extend(arrays)
        ring_layer.append(layer)
        ring_depth.append(np.full(len(arrays), depth))
    ring_layer_a = np.concatenate(ring_layer) if ring_layer else np.zeros(0, np.int64)
    ring_depth_a = np.concatenate(ring_depth) if ring_depth else np.zeros(0, np.int64)

    # Infill lines: sparse by pattern, solid rectilinear turning 90° each layer.
    spacing_sparse = np.array([f.infill.spacing for f in flows]) / max(s.fill_density, 1e-9)
    turn = s.fill_angle + 90.0 * (np.arange(n) % 2)
    groups: list[tuple[str, np.ndarray]] = []
    if s.fill_density > 0:
        if s.fill_density >= 0.999:
            groups.append(("infill", hatch(regions.sparse, spacing_sparse, turn)))
        else:
            for lines in infill_lines(
                regions.sparse, spacing_sparse, s.fill_pattern, s.fill_angle, z_top
            ):
                groups.append(("infill", lines))
    groups.append(
        ("solid_infill", hatch(regions.solid, np.array([f.solid.spacing for f in flows]), turn))
    )
    groups.append(
        ("top_solid_infill", hatch(regions.top, np.array([f.top.spacing for f in flows]), turn))
    )
    below = np.empty(n, dtype=object)
    if n:
        below[0] = shapely.Polygon()
        below[1:] = slices[:-1]
    bridge_spacing = np.array([f.bridge.spacing for f in flows])
    groups.append(("bridge", bridge_lines(regions.bridge, below, bridge_spacing, turn)))
    if support is not None:
        column = union(support.body, support.interface)
        half_line = np.array([f.infill.width / 2 for f in flows])
        groups.append(("support", shapely.boundary(buffer(column, -half_line, **MITRE))))
        groups.append(("support", hatch(support.body, np.full(n, BODY_SPACING), np.zeros(n))))
        groups.append(
            (
                "support_interface",
                hatch(support.interface, np.full(n, INTERFACE_SPACING), np.full(n, 90.0)),
            )
        )
    fills: list[np.ndarray] = []
    fill_layer, fill_role = [], []
    line_width = np.array([f.solid.width for f in flows])
    for role, lines in groups:
        arrays, layer = without_slivers(*point_arrays(lines), line_width)
        fills.extend(arrays)
        fill_layer.append(layer)
        fill_role.append(np.full(len(arrays), ROLE[role]))
    fill_layer_a = np.concatenate(fill_layer) if fill_layer else np.zeros(0, np.int64)
    fill_role_a = np.concatenate(fill_role) if fill_role else np.zeros(0, np.int64)

    islands = _Islands(slices)
    ring_island = islands.of(np.array([r[0] for r in rings]).reshape(-1, 2), ring_layer_a)
    # Loops off the layer below by more than half a nozzle are overhangs (PrusaSlicer's
    # rule): those stretches get bridge flow, speed and fan.
    lower = np.empty(n, dtype=object)
    if n:
        lower[0] = shapely.box(-1e6, -1e6, 1e6, 1e6)  # the bed holds the first layer
        lower[1:] = buffer(slices[:-1], s.printer.nozzle_diameter / 2.0, **MITRE)
    shapely.prepare(lower)
    supported = np.ones(len(rings), dtype=bool)
    if rings:
        ring_lines = shapely.linestrings(
            np.concatenate(rings), indices=np.repeat(np.arange(len(rings)), [len(r) for r in rings])
        )
        supported = shapely.covered_by(ring_lines, lower[ring_layer_a])
    seams = SeamPlacer(s.seam_position, slices)
    rear_seams = seams.rear_seams(rings)

    fill_mid = np.array([0.5 * (f[0] + f[-1]) for f in fills]).reshape(-1, 2)
    fill_island = islands.of(fill_mid, fill_layer_a)
    # Gap fill: the centre lines of the strips no line reaches, as wide as the strip.
    gaps = _GapLines(gap_fill, islands, n)

    # Consecutive infill lines are joined by an extrusion when the link is short
    # and stays inside the infill area (PrusaSlicer joins them along the perimeter).
    area_buf = buffer(regions.infill_area if travel_area is None else travel_area, 0.1, **MITRE)
    link_max = [
        {
            ROLE["infill"]: min(12.0, 3.0 * spacing_sparse[k]),
            ROLE["solid_infill"]: 2.5 * flows[k].solid.spacing,
            ROLE["top_solid_infill"]: 2.5 * flows[k].top.spacing,
            ROLE["bridge"]: 2.5 * flows[k].bridge.spacing,
            ROLE["support"]: 1.5 * BODY_SPACING,
            ROLE["support_interface"]: 2.5 * INTERFACE_SPACING,
        }
        for k in range(n)
    ]

    # Sparse lines are hooked along the perimeter at both ends (PrusaSlicer's
    # infill_anchor, 600 % of the width), short enough not to meet the next line's hook.
    anchor = [min(6.0 * flows[k].infill.width, 0.6 * spacing_sparse[k]) for k in range(n)]

    paths = LayerPaths()
    _skirt_and_brim(paths, slices, flows[0] if n else None, s, epm_of)

    ring_by_layer = _group(ring_layer_a, n)
    fill_by_layer = _group(fill_layer_a, n)
    position = np.zeros(2)
    if paths.points:
        position = paths.points[-1][-1]
    for k in range(n):
        f = flows[k]
        first = k == 0
        r_idx = ring_by_layer[k]
        f_idx = fill_by_layer[k]
        g_idx = gaps.of_layer(k)
        if len(r_idx) == 0 and len(f_idx) == 0 and len(g_idx) == 0:
            continue
        islands = sorted_unique(
            np.concatenate([ring_island[r_idx], fill_island[f_idx], gaps.island[g_idx]])
        )
        # Islands nearest first, judged by their first ring or line.
        anchors = []
        for isl in islands:
            rr = r_idx[ring_island[r_idx] == isl]
            ff = f_idx[fill_island[f_idx] == isl]
            gg = g_idx[gaps.island[g_idx] == isl]
            anchors.append(
                rings[rr[0]][0] if len(rr) else fills[ff[0]][0] if len(ff) else gaps.lines[gg[0]][0]
            )
        anchors_a = np.array(anchors).reshape(-1, 2)
        isl_order, _ = nearest_order(anchors_a, anchors_a, position, reversible=False)
        outline = None
        for oi in isl_order:
            isl = islands[oi]
            rr = r_idx[ring_island[r_idx] == isl]
            ff = f_idx[fill_island[f_idx] == isl]
            depths = ring_depth_a[rr]
            order_depths = sorted(set(depths.tolist()), reverse=not s.external_perimeters_first)
            for d in order_depths:
                members = rr[depths == d]
                starts = np.array([rings[i][0] for i in members])
                mo, _ = nearest_order(starts, starts, position, reversible=False)
                for i in members[mo]:
                    seam = (
                        rear_seams[i]
                        if rear_seams is not None
                        else seams.seam(rings[i], position, k)
                    )
                    loop = rotate_loop(rings[i], seam)
                    role = "external_perimeter" if d == 0 else "perimeter"
                    flow = f.external if d == 0 else f.perimeter
                    length = float(np.linalg.norm(np.diff(loop, axis=0), axis=1).sum())
                    speed = speed_of(role, flow, first)
                    if length < SMALL_PERIMETER_LENGTH:
                        speed = min(speed, s.printer.small_perimeter_speed)
                    pieces = [(loop, False)] if supported[i] else _overhangs(loop, lower[k])
                    for pts, over in pieces:
                        if over:
                            over_speed = speed_of("overhang_perimeter", f.bridge, first)
                            paths.add(
                                pts, k, ROLE["overhang_perimeter"], epm_of(f.bridge), over_speed
                            )
                        else:
                            paths.add(pts, k, ROLE[role], epm_of(flow), speed)
                    position = loop[-1]
            gg = g_idx[gaps.island[g_idx] == isl]
            if len(gg):
                # Gap fill after the loops, as PrusaSlicer lays it: mm of filament per
                # mm of path per mm of width, times each stretch's width.
                per_width = (
                    f.perimeter.height * fil.extrusion_multiplier / filament_area(fil.diameter)
                )
                starts = np.array([gaps.lines[i][0] for i in gg])
                ends = np.array([gaps.lines[i][-1] for i in gg])
                go, flip = nearest_order(starts, ends, position)
                speed = speed_of("gap_fill", f.perimeter, first)
                for i, rev in zip(gg[go], flip, strict=True):
                    pts, width = gaps.lines[i], gaps.width[i]
                    if rev:
                        pts, width = pts[::-1], width[::-1]
                    paths.add(pts, k, ROLE["gap_fill"], per_width, speed, scale=width)
                    position = pts[-1]
            if len(ff):
                starts = np.array([fills[i][0] for i in ff])
                ends = np.array([fills[i][-1] for i in ff])
                fo, flip = nearest_order(starts, ends, position)
                seq = [
                    fills[i][::-1] if rev else fills[i] for i, rev in zip(ff[fo], flip, strict=True)
                ]
                roles = fill_role_a[ff[fo]]
                if outline is None:
                    outline = Outline(area_buf[k])  # one for the layer's islands
                linked = link_lines(seq, roles, link_max[k], outline)
                linked = add_anchors(linked, ROLE["infill"], outline, anchor[k])
                for pts, role_id in linked:
                    role = ROLES[role_id]
                    flow = {
                        "infill": f.infill,
                        "solid_infill": f.solid,
                        "top_solid_infill": f.top,
                        "bridge": f.bridge,
                        "support": f.infill,
                        "support_interface": f.infill,
                    }[role]
                    paths.add(pts, k, ROLE[role], epm_of(flow), speed_of(role, flow, first))
                    position = pts[-1]
    return paths


def _overhangs(loop: np.ndarray, held: shapely.Geometry) -> list[tuple[np.ndarray, bool]]:
    """``loop`` cut where it leaves ``held``: ``[(points, overhanging)]`` in order.

    The loop is walked in steps of at most half a millimetre; a stretch counts as
    overhanging when its middle is outside ``held``. Overhanging stretches shorter
    than ``OVERHANG_MIN_LENGTH`` stay ordinary (a corner cut by the mitre).
    """
    pts = _densified(loop, 0.5)
    mid = 0.5 * (pts[1:] + pts[:-1])
    over = ~shapely.contains_xy(held, mid[:, 0], mid[:, 1])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    # Runs of equal state; short overhanging runs are folded back.
    cuts = np.flatnonzero(over[1:] != over[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [len(over)]])
    for lo, hi in itertools.pairwise(bounds):
        if over[lo] and seg[lo:hi].sum() < OVERHANG_MIN_LENGTH:
            over[lo:hi] = False
    cuts = np.flatnonzero(over[1:] != over[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [len(over)]])
    return [(pts[lo : hi + 1], bool(over[lo])) for lo, hi in itertools.pairwise(bounds)]


def _densified(pts: np.ndarray, step: float) -> np.ndarray:
    """``pts`` with points added so that no segment is longer than ``step``."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    parts = np.maximum(np.ceil(seg / step).astype(np.int64), 1)
    t = np.arange(int(parts.sum())) - np.repeat(np.cumsum(parts) - parts, parts)
    t = t / np.repeat(parts, parts)
    which = np.repeat(np.arange(len(seg)), parts)
    out = pts[which] + t[:, None] * (pts[which + 1] - pts[which])
    return np.vstack([out, pts[-1:]])


def _group(layer: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(layer, kind="stable")
    cuts = np.searchsorted(layer[order], np.arange(n + 1))
    return [order[cuts[k] : cuts[k + 1]] for k in range(n)]


def _skirt_and_brim(paths: LayerPaths, slices: np.ndarray, f: LayerFlows | None, s, epm_of):
    """Brim loops around the first layer, skirt loops around everything (layer 0)."""
    if f is None or len(slices) == 0 or slices[0].is_empty:
        return
    flow = f.perimeter
    first = slices[0]
    outline = shapely.Polygon()
    loops: list[tuple[str, shapely.Geometry]] = []
    if s.brim_width > 0:
        count = max(1, round(s.brim_width / flow.spacing))
        shells = shapely.union_all(
            [shapely.Polygon(p.exterior) for p in shapely.get_parts(first) if not p.is_empty]
        )
        for i in reversed(range(count)):
            loops.append(("brim", buffer(shells, flow.width / 2 + i * flow.spacing, **MITRE)))
        outline = buffer(shells, s.brim_width, **MITRE)
    else:
        outline = first
    if s.skirts > 0:
        hull = shapely.convex_hull(outline)
        for i in reversed(range(s.skirts)):
            loops.insert(
                0,
                (
                    "skirt",
                    buffer(hull, s.skirt_distance + flow.width / 2 + i * flow.spacing),
                ),
            )
    position = np.zeros(2)
    for role, geom in loops:
        for part in shapely.get_parts(geom):
            ring = np.asarray(part.exterior.coords)[:, :2]
            ring = rotate_loop(ring, position)
            paths.add(ring, 0, ROLE[role], epm_of(flow), feature_speed(s, role, flow, True))
            position = ring[-1]
