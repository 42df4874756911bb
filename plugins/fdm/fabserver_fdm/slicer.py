"""Mesh → one (multi)polygon per layer, every layer in one vectorised pass.

For each triangle, the layers it crosses follow from its z-min and z-max
(``searchsorted`` over the slicing heights). All (triangle, layer) crossings are
computed at once: a vertex is *above* a plane when ``z > z_plane``, so every
crossing triangle has exactly one edge going up and one going down along its
winding, and its segment runs from the down-edge point to the up-edge point; on
an outward-wound mesh that leaves the material on the left (outer loops
counter-clockwise).

Segments are chained into loops by *edge identity*: a segment ends on a mesh
edge, and the next one starts on the same edge (the neighbouring triangle), so
the successor of every segment is a sorted-key lookup, not a floating-point
match. The loops (cycles of the successor map) are ordered with pointer jumping
(list ranking), again without a Python loop per segment. Nesting decides shells
and holes (even-odd, as robust to flipped normals), and a small closing (offset
out, then in) seals hairline gaps. Layers where bodies overlap (outlines that
cross, or a loop nested in a loop of the same turning sense: a duplicated or
intersecting shell) are filled by the non-zero winding rule instead, which
gives the union of the bodies where even-odd would cut their overlap out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import shapely

from fabserver.designs.indexed import (
    connected_components,
    edge_keys_sorted,
    sorted_unique,
    vertex_axes,
)

from .geos import buffer, elementwise

CLOSING_RADIUS = 0.05  # mm, hairline gaps closed (PrusaSlicer uses 0.049)
RESOLUTION = 0.0125  # mm, slice outlines simplified to this (PrusaSlicer's gcode_resolution)
OPEN_CHAIN_GAP = 1.0  # mm, an open chain whose ends are closer than this is closed


@dataclass(frozen=True)
class SliceResult:
    """Layers of a mesh.

    polygons : (L,) object — one shapely (Multi)Polygon per layer (maybe empty)
    top_z : (L,) float — top of each layer, millimetres
    height : (L,) float — thickness of each layer, millimetres
    open_chains : int — chains that did not close (a hole in the mesh)
    """

    polygons: np.ndarray
    top_z: np.ndarray
    height: np.ndarray
    open_chains: int


def layer_tops(object_height: float, first: float, layer: float) -> np.ndarray:
    """``(L,) float``: top z of every layer, the first ``first`` thick, then ``layer``."""
    if object_height <= first + 1e-9:
        return np.array([first])
    n = 1 + int(np.ceil((object_height - first) / layer - 1e-6))
    return first + layer * np.arange(n)


def slice_mesh(vertices: np.ndarray, faces: np.ndarray, top_z: np.ndarray) -> SliceResult:
    """Slice at the middle of every layer.

    vertices : (v, 3) float, millimetres (merged: shared corners are one vertex)
    faces : (f, 3) int
    top_z : (L,) float — top of each layer

    Only the edges a slicing plane crosses are numbered (:func:`_crossed_edge_ids`: a
    third of them on 3DBenchy, a third of the sort), which is all chaining needs.

    The crossings are worked out band of layers by band (:data:`BAND_SEGMENTS` at a
    time: every chain lies in one layer), so their per-segment arrays are those of a
    band, not of the whole part; the rings of the bands are put back in the order
    one pass over all layers gives them, so the layers are the same.
    """
    heights = np.diff(np.concatenate([[0.0], top_z]))
    slice_z = top_z - heights / 2.0
    n_layers = len(top_z)
    corner_between = _corner_layers(vertices, faces, slice_z)
    face_edges = _crossed_edge_ids(vertices, faces, corner_between)
    lo, hi = _face_layers(corner_between)
    edge_faces = _edge_faces(face_edges)
    bands = _bands(lo, hi, n_layers)
    # The vertices' x, y and z as contiguous columns, made once for every band: gathers
    # of single numbers from them beat (k, 3) row gathers and strided columns.
    axes = vertex_axes(vertices)
    parts = []
    n_open = 0
    for band in bands:
        seg_layer, start_pt, end_pt, _, _, successor, seg_face = _segments(
            axes, faces, face_edges, slice_z, (lo, hi, band, edge_faces, corner_between)
        )
        if len(seg_layer) == 0:
            continue
        comp, order, closed, comp_head = _chain(successor)
        del successor
        rings, ring_layer, band_open, ring_comp = _rings(
            comp, order, closed, start_pt, end_pt, seg_layer
        )
        n_open += band_open
        # A chain's place in one pass over all layers is its smallest segment's there:
        # segments come face by face, each face's layers upwards.
        head = comp_head[ring_comp]
        parts.append((rings, ring_layer, seg_face[head] * n_layers + seg_layer[head]))
        del seg_layer, start_pt, end_pt, comp, order, closed, comp_head, seg_face
    del face_edges, lo, hi, edge_faces, corner_between, axes
    polygons = np.array([shapely.Polygon()] * n_layers, dtype=object)
    if not parts:
        return SliceResult(polygons, top_z, heights, n_open)
    rings, ring_layer, ring_key = (np.concatenate(column) for column in zip(*parts, strict=True))
    if len(parts) > 1:
        by_key = np.argsort(ring_key)
        rings, ring_layer = rings[by_key], ring_layer[by_key]
    if len(rings) == 0:
        return SliceResult(polygons, top_z, heights, n_open)
    layer_geoms = _nest(rings, ring_layer, n_layers)
    return SliceResult(layer_geoms, top_z, heights, n_open)


BAND_SEGMENTS = 1 << 16
"""Crossings worked out at a time: a few MiB of per-segment arrays (the slicer's peak)."""


def _corner_layers(vertices: np.ndarray, faces: np.ndarray, slice_z: np.ndarray) -> list:
    """Of each face's corners 0, 1, 2: the first slicing plane at or above it, ``(f,) int32``
    each (the planes below it: a part has far fewer than 2**31 layers)."""
    between = _planes_below(slice_z, vertices[:, 2]).astype(np.int32)
    return [between[faces[:, c]] for c in range(3)]


def _planes_below(slice_z: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``np.searchsorted(slice_z, z, side="left")``, from the planes' even spacing.

    Layers are evenly spaced but for the first: each height's index is guessed from the
    mean spacing, then moved until the plane at it is the first at or above the height,
    which is what the search returns (a binary search of every vertex is 45 ns each).
    """
    n = len(slice_z)
    step = (slice_z[-1] - slice_z[0]) / (n - 1) if n > 1 else 0.0
    if not step > 0:
        return np.searchsorted(slice_z, z, side="left")
    guess = np.ceil((z - slice_z[0]) / step)
    np.clip(guess, 0, n, out=guess)
    index = guess.astype(np.intp)
    planes = np.append(slice_z, np.inf)  # (an index of n: above every plane)
    for _ in range(4):
        below = planes[index] < z  # the plane there is under the height: one up
        above = (index > 0) & (planes[index - 1] >= z)  # the one before would do: down
        if not (below.any() or above.any()):
            return index
        index += below
        index -= above
    return np.searchsorted(slice_z, z, side="left")


def _face_layers(corner_between: list) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``: the layers ``lo <= layer < hi`` whose plane crosses each face.

    A plane at z crosses a triangle when some vertex is at or below it and some above:
    the planes from its lowest corner's (:func:`_corner_layers`) to its highest's, as
    a search of its lowest and highest z would find them (the search is monotonic).
    """
    a, b, c = corner_between
    return np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)


def _bands(lo: np.ndarray, hi: np.ndarray, n_layers: int) -> list[tuple[int, int]]:
    """Runs of whole layers of about :data:`BAND_SEGMENTS` crossings each."""
    starts = np.bincount(lo, minlength=n_layers + 1)
    ends = np.bincount(hi, minlength=n_layers + 1)
    per_layer = np.cumsum(starts - ends)[:n_layers]  # faces crossing each layer
    total = np.cumsum(per_layer)
    if len(total) == 0 or total[-1] <= BAND_SEGMENTS:
        return [(0, n_layers)]
    cuts = np.searchsorted(total, np.arange(BAND_SEGMENTS, int(total[-1]), BAND_SEGMENTS))
    edges = sorted_unique(np.concatenate([[0], cuts + 1, [n_layers]]).clip(0, n_layers))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges.tolist()) if b > a]


def _crossed_edge_ids(vertices: np.ndarray, faces: np.ndarray, corner_between: list) -> np.ndarray:
    """``(f, 3) int32``: a number per undirected edge, for the sides (0-1), (1-2), (2-0)
    of each face that some slicing plane crosses, -1 for the others.

    A side is crossed when its ends lie between different planes; every segment
    starts and ends on such a side, and so does the side it shares with the next
    face: chaining only asks which sides are the same edge. 32 bits: half the
    memory, and a part has far fewer than 2**31 edges.
    """
    crossed = np.empty(faces.shape, dtype=bool)
    for c in range(3):  # side c runs from corner c to corner c + 1
        np.not_equal(corner_between[c], corner_between[(c + 1) % 3], out=crossed[:, c])
    crossed = np.flatnonzero(crossed)
    corner = faces.ravel()
    ahead = corner[crossed + np.where(crossed % 3 == 2, -2, 1)]
    ordered, order = edge_keys_sorted(corner[crossed], ahead, len(vertices))
    del ahead
    edge = np.full(faces.size, -1, dtype=np.int32)
    edge[crossed[order]] = _run_numbers(ordered)
    return edge.reshape(-1, 3)


def _run_numbers(ordered: np.ndarray) -> np.ndarray:
    """Each sorted key's rank among the distinct keys (0, 0, 1, 2, 2…): the edges' numbers."""
    starts_run = np.empty(len(ordered), dtype=np.int64)
    starts_run[:1] = 1
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    np.cumsum(starts_run, out=starts_run)
    starts_run -= 1
    return starts_run


def _edge_faces(face_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(faces_on_edge, side_sum)``: of each edge, how many sides are on it and the sum
    of their side indices (the other side of an edge of two, by subtraction)."""
    edge_of_side = face_edges.ravel()
    n_edges = int(edge_of_side.max()) + 1 if edge_of_side.size else 0
    numbered = np.flatnonzero(edge_of_side >= 0)  # sides without a number never cross
    edge = edge_of_side[numbered]
    faces_on_edge = np.bincount(edge, minlength=n_edges)
    side_sum = np.bincount(edge, weights=numbered.astype(np.float64), minlength=n_edges)
    return faces_on_edge, side_sum.astype(np.int64)  # (sums of integers below 2**53: exact)


def _crossed_sides() -> tuple[np.ndarray, np.ndarray]:
    """The side going up and the side going down of a face whose corners 0, 1, 2 lie above
    a plane as the bits 1, 2, 4 of the index say: ``(8,) int8`` each.

    Side j goes from corner j to corner j + 1 along the winding; a crossed triangle has
    one going up (below → above) and one going down; the first such side, else side 2.
    """
    above = [np.array([(pattern >> c) & 1 == 1 for pattern in range(8)]) for c in range(3)]
    up = [~above[j] & above[(j + 1) % 3] for j in range(2)]
    down = [above[j] & ~above[(j + 1) % 3] for j in range(2)]
    side = [np.int8(j) for j in range(3)]  # which side: a byte a segment
    return (
        np.where(up[0], side[0], np.where(up[1], side[1], side[2])),
        np.where(down[0], side[0], np.where(down[1], side[1], side[2])),
    )


_UP_SIDE, _DOWN_SIDE = _crossed_sides()


def _segments(axes, faces, face_edges, slice_z, banded):
    """The crossing segments of a band of layers: layer, start/end points (k, 2),
    start/end edges. ``axes``: the vertices' columns (``vertex_axes``).

    Also ``successor`` (k,): the segment of the same layer that starts where each one
    ends, or -1 (see :func:`_successors`), and the face of each segment. Segments come
    face by face, each face's layers upwards. ``banded``: ``(lo, hi, (first, end),
    edge_faces, corner_between)`` of :func:`slice_mesh`, for the layers ``first`` to
    ``end``.
    """
    lo, hi, band, edge_faces, corner_between = banded
    first_layer, end_layer = band
    in_band = np.flatnonzero((lo < end_layer) & (hi > first_layer))
    band_lo = np.maximum(lo[in_band], first_layer)
    counts = np.minimum(hi[in_band], end_layer) - band_lo
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros((0, 2))
        none = np.zeros(0, np.int64)
        return none, empty, empty, none, none, none, none
    first_segment = np.cumsum(counts) - counts  # of each face of the band
    face = np.repeat(in_band, counts)
    layer = np.arange(total) + np.repeat(band_lo - first_segment, counts)
    # Of every face: its first segment in the band less its first layer there (read
    # only for faces of the band).
    first_less_layer = np.zeros(len(faces), dtype=np.int64)
    first_less_layer[in_band] = first_segment - band_lo
    del in_band, band_lo, counts, first_segment
    z = slice_z[layer]
    corner = faces.ravel()
    # A corner is above plane ``layer`` (z > the plane's z) when the first plane at or
    # above it comes after that one: the same answer from integers.
    # The three corners' answers as the bits of one byte, and the sides going up and
    # down read from a table of the eight patterns (:data:`_UP_SIDE`).
    pattern = (corner_between[0][face] > layer).view(np.uint8)
    for c in (1, 2):
        pattern |= (corner_between[c][face] > layer).view(np.uint8) << np.uint8(c)
    up_j = _UP_SIDE[pattern]
    down_j = _DOWN_SIDE[pattern]
    del pattern
    first_side = 3 * face
    start = _points_on(axes, corner, first_side, down_j, z)
    end = _points_on(axes, corner, first_side, up_j, z)
    del z
    edge_of_side = face_edges.ravel()
    start_edge = edge_of_side[first_side + down_j]
    end_edge = edge_of_side[first_side + up_j]
    del first_side
    successor = _successors(
        face, up_j, layer, start_edge, end_edge, edge_faces, first_less_layer, lo, hi, down_j
    )
    return layer, start, end, start_edge, end_edge, successor, face


_TO_NEXT_CORNER = np.array([1, 1, -2])  # side j of a face ends at corner (j + 1) % 3


def _points_on(
    columns: list, corner: np.ndarray, first_side: np.ndarray, j: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """``(k, 2)``: where side ``j[i]`` of each face (``first_side = 3 * face``) is at
    height ``z[i]``.

    ``columns``: the vertices' x, y, z; ``corner``: the faces' corners, flattened.
    """
    side = first_side + j
    a = corner[side]
    side += _TO_NEXT_CORNER[j]
    b = corner[side]
    del side
    z_a = columns[2][a]
    t = (z - z_a) / (columns[2][b] - z_a)
    del z_a
    # a + t (b - a) for x and y: the same products and sums as on whole rows
    point = np.empty((len(t), 2))
    for axis in range(2):
        at_a = columns[axis][a]
        out = point[:, axis]
        np.subtract(columns[axis][b], at_a, out=out)
        out *= t
        out += at_a
    return point


def _successors(
    face, up_j, layer, start_edge, end_edge, edge_faces, first_less_layer, lo, hi, down_j
):
    """The segment of the same layer starting on the edge each segment ends on, or -1.

    Where two faces share that edge (every edge of a closed mesh), the next segment
    is the other face's on the same layer: found by index arithmetic, without a
    sort. Edges of one face or of three and more are looked up among the segments
    starting on such edges (sorted by layer and edge), the smallest such segment
    first, as a search over all segments would find it.
    """
    n = len(layer)
    faces_on_edge, side_sum = edge_faces
    n_edges = len(faces_on_edge)
    successor = np.full(n, -1, dtype=np.int64)
    twice = faces_on_edge[end_edge] == 2
    # Every segment's edge has two faces in a closed part's band, as a rule: then the
    # segments are taken as they are, not gathered.
    at = None if twice.all() else np.flatnonzero(twice)
    ends, seg_face, seg_up, seg_layer = (
        (end_edge, face, up_j, layer)
        if at is None
        else (end_edge[at], face[at], up_j[at], layer[at])
    )
    other_side = side_sum[ends] - (3 * seg_face + seg_up)
    del ends, seg_face, seg_up
    other_face, other_j = np.divmod(other_side, 3)
    del other_side
    crosses = (lo[other_face] <= seg_layer) & (seg_layer < hi[other_face])
    candidate = first_less_layer[other_face] + seg_layer
    candidate = np.where(crosses, candidate, 0)
    found = crosses & (down_j[candidate] == other_j)
    successor[np.flatnonzero(found) if at is None else at[found]] = candidate[found]
    del at, other_face, other_j, seg_layer, crosses, candidate, found
    rest = np.flatnonzero(~twice)
    if rest.size:
        targets = np.flatnonzero(faces_on_edge[start_edge] != 2)
        key_start = layer[targets] * n_edges + start_edge[targets]
        key_end = layer[rest] * n_edges + end_edge[rest]
        by_start = np.argsort(key_start, kind="stable")
        sorted_keys = key_start[by_start]
        pos = np.minimum(np.searchsorted(sorted_keys, key_end), max(len(targets) - 1, 0))
        if len(targets):
            hit = sorted_keys[pos] == key_end
            successor[rest[hit]] = targets[by_start[pos[hit]]]
    return successor


def _chain(successor):
    """Order segments into chains: (component id, order of segments, component closed?,
    smallest segment of each component)."""
    n = len(successor)
    succ = successor.copy()
    # A non-manifold edge may give two segments the same successor: keep the first.
    has = np.flatnonzero(succ >= 0)
    first_of = np.full(n, n, dtype=np.int64)
    np.minimum.at(first_of, succ[has], has)
    succ[has[first_of[succ[has]] != has]] = -1
    succ[succ == np.arange(n)] = -1

    src = np.flatnonzero(succ >= 0)
    # Weak components, numbered in the order of their smallest segment (scipy's
    # labelling): that segment is the component's root.
    roots = connected_components(n, src, succ[src])
    is_root = roots == np.arange(n)
    min_of_comp = np.flatnonzero(is_root)
    n_comp = len(min_of_comp)
    comp = (np.cumsum(is_root, dtype=np.int32) - 1)[roots]
    del roots, is_root
    pred = np.full(n, -1)
    pred[succ[src]] = src
    # Heads: the start of an open chain, or the smallest segment of a cycle.
    is_head = pred < 0
    comp_has_head = np.zeros(n_comp, bool)
    comp_has_head[comp[is_head]] = True
    cycle_heads = min_of_comp[~comp_has_head]
    closed = ~comp_has_head
    # Break each cycle before its head.
    succ[pred[cycle_heads]] = -1
    # List ranking: distance to the tail, by pointer jumping. A tail points at itself
    # (distance 0), so every round is two whole-array gathers, no masks: after k rounds
    # each segment has jumped 2**k steps or reached its tail, so as many rounds as the
    # longest chain needs.
    size = np.bincount(comp, minlength=n_comp)
    dist = (succ >= 0).astype(np.int64)
    ptr = np.where(succ >= 0, succ, np.arange(n))
    reach = 1
    while reach < int(size.max()) - 1:  # the farthest a segment lies from its tail
        dist += dist[ptr]
        ptr = ptr[ptr]
        reach *= 2
    # Sorted by component, then from head to tail: ``dist`` counts down to 0 along
    # each chain, so every segment's place is known without sorting.
    comp_start = np.cumsum(size) - size
    order = np.empty(n, dtype=np.int64)
    order[comp_start[comp] + size[comp] - 1 - dist] = np.arange(n)
    return comp, order, closed, min_of_comp


def _rings(comp, order, closed, start_pt, end_pt, seg_layer):
    """Shapely linear rings of the chains (open ones closed when their gap is small):
    ``(rings, layer of each, chains left open, component of each ring)``."""
    comp_sorted = comp[order]
    bounds = np.flatnonzero(np.diff(comp_sorted)) + 1
    first = np.concatenate([[0], bounds])
    last = np.concatenate([bounds, [len(order)]]) - 1
    comp_ids = comp_sorted[first]
    is_closed = closed[comp_ids]
    # Open chain: its points are the segment starts plus the last segment's end.
    tail_end = end_pt[order[last]]
    head_start = start_pt[order[first]]
    gap = np.linalg.norm(tail_end - head_start, axis=1)
    usable_open = ~is_closed & (gap < OPEN_CHAIN_GAP)
    n_open = int((~is_closed).sum())
    points = start_pt[order]
    ring_of_point = np.repeat(np.arange(len(first)), last - first + 1)
    extra_idx = np.flatnonzero(usable_open)
    if extra_idx.size:
        points = np.vstack([points, tail_end[extra_idx]])
        ring_of_point = np.concatenate([ring_of_point, extra_idx])
        sort = np.argsort(ring_of_point, kind="stable")
        points, ring_of_point = points[sort], ring_of_point[sort]
    counts = last - first + 1  # points of each ring
    counts[extra_idx] += 1
    keep_ring = (is_closed | usable_open) & (counts >= 3)
    if keep_ring.all():  # (as a rule) every chain a ring, already numbered 0, 1, 2…
        pts, rid = points, ring_of_point
    else:
        keep_pt = keep_ring[ring_of_point]
        pts = points[keep_pt]
        rid = ring_of_point[keep_pt]
        if len(pts) == 0:
            return np.zeros(0, dtype=object), np.zeros(0, np.int64), n_open, np.zeros(0, np.int64)
        # rid is sorted: numbered from 0 without gaps, as np.unique's inverse would
        rid = np.cumsum(np.concatenate([[0], rid[1:] != rid[:-1]]))
    rings = shapely.linearrings(pts, indices=rid)
    layer = seg_layer[order[first[keep_ring]]]
    return rings, layer, n_open, comp_ids[keep_ring]


def _nest(rings: np.ndarray, ring_layer: np.ndarray, n_layers: int) -> np.ndarray:
    """Even-odd nesting of each layer's rings → one valid (Multi)Polygon per layer."""
    polys = shapely.polygons(rings)
    area = shapely.area(polys)
    valid = area > 1e-6
    polys, rings, ring_layer = polys[valid], rings[valid], ring_layer[valid]
    if len(polys) == 0:
        return np.array([shapely.Polygon()] * n_layers, dtype=object)
    # Layers are moved apart in x so that one tree answers for all layers at once.
    bounds = shapely.total_bounds(polys)
    pitch = (bounds[2] - bounds[0]) + 10.0
    shift = ring_layer * pitch
    shifted = _translate_x(polys, shift)
    first_vertex = shapely.get_coordinates(shapely.get_point(rings, 0))
    first_vertex[:, 0] += shift
    probe = shapely.points(first_vertex)
    tree = shapely.STRtree(shifted)
    inside, container = tree.query(probe, predicate="within")
    mask = inside != container
    inside, container = inside[mask], container[mask]
    depth = np.bincount(inside, minlength=len(polys))
    # A hole's shell is the container one level up.
    parent = np.arange(len(polys))
    is_parent = depth[container] == depth[inside] - 1
    parent[inside[is_parent]] = container[is_parent]
    shell = np.where(depth % 2 == 0, np.arange(len(polys)), parent)
    is_hole = (depth % 2 == 1).astype(np.int8)
    order = np.lexsort((is_hole, shell, ring_layer[shell]))
    shell_sorted = shell[order]
    poly_index = np.cumsum(np.concatenate([[True], shell_sorted[1:] != shell_sorted[:-1]])) - 1
    # Simplified first: the closing below then works on far fewer vertices. (Each
    # polygon's exterior is its ring, coordinate for coordinate; slices of them on the
    # GEOS pool, which releases the interpreter's lock.)
    ordered_rings = rings[order]
    ring_geoms = elementwise(shapely.simplify, ordered_rings, RESOLUTION, preserve_topology=False)
    # A loop narrower than the resolution simplifies to a line, which is no ring: it
    # stays as sliced (the closing below decides what is left of it).
    collapsed = shapely.get_type_id(ring_geoms) != shapely.GeometryType.LINEARRING
    ring_geoms[collapsed] = ordered_rings[collapsed]
    del ordered_rings
    polygons = shapely.polygons(ring_geoms, indices=poly_index)
    poly_layer = ring_layer[order][np.concatenate([[0], np.flatnonzero(np.diff(poly_index)) + 1])]
    # Layers without any outline (a gap between bodies) have no index here.
    present, dense = np.unique(poly_layer, return_inverse=True)
    out = np.array([shapely.Polygon()] * n_layers, dtype=object)
    out[present] = shapely.multipolygons(polygons, indices=dense)
    _fill_overlapping_shells(out, rings, polys, ring_layer, shifted, parent)
    # Overlapping shells (several bodies), self-touching rings and hairline gaps:
    # a closing (out, then in) merges and seals them; simplification drops
    # vertices closer than the printer can show.
    out = buffer(out, CLOSING_RADIUS, join_style="mitre", mitre_limit=3.0)
    return buffer(out, -CLOSING_RADIUS, join_style="mitre", mitre_limit=3.0)


def _fill_overlapping_shells(
    out: np.ndarray,
    rings: np.ndarray,
    polys: np.ndarray,
    ring_layer: np.ndarray,
    shifted: np.ndarray,
    parent: np.ndarray,
) -> None:
    """Refill, in place, the layers where even-odd nesting would not give the union."""
    ccw = shapely.is_ccw(rings)
    nested_body = (parent != np.arange(len(rings))) & (ccw == ccw[parent])
    outlines = shapely.get_exterior_ring(shifted)
    # Each pair of outlines whose boxes meet, once (the tree's own predicate query
    # tests both orders, ten times slower on 3DBenchy), then the test itself.
    a, b = shapely.STRtree(outlines).query(outlines)
    pair = a < b
    a, b = a[pair], b[pair]
    cross = shapely.intersects(outlines[a], outlines[b])
    crossing = np.concatenate([a[cross], b[cross]])
    for layer in sorted_unique(np.concatenate([ring_layer[nested_body], ring_layer[crossing]])):
        mine = np.flatnonzero(ring_layer == layer)
        out[layer] = _nonzero_fill(rings[mine], polys[mine], ccw[mine])


def _nonzero_fill(rings: np.ndarray, polys: np.ndarray, ccw: np.ndarray):
    """The area of non-zero winding number of one layer's loops.

    GEOS has no winding-rule fill: the loops are noded into faces, and each face
    kept when the loops around one of its inner points do not cancel out."""
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(rings))))
    if len(faces) == 0:
        return shapely.Polygon()
    probes = shapely.point_on_surface(faces)
    face, loop = shapely.STRtree(polys).query(probes, predicate="within")
    winding = np.bincount(face, weights=np.where(ccw, 1.0, -1.0)[loop], minlength=len(faces))
    filled = shapely.union_all(faces[np.abs(winding) > 0.5])
    return shapely.simplify(filled, RESOLUTION, preserve_topology=True)


def _translate_x(geoms: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Each geometry moved by its own ``dx`` (vectorised through the coordinate arrays)."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords[:, 0] += dx[index]
    return shapely.set_coordinates(geoms.copy(), coords)
