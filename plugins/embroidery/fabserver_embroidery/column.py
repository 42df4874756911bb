"""Satin columns for narrow filled shapes, from their centre line.

The centre line is the longest path through the shape's medial axis,
approximated by the Voronoi edges of points along its outline that lie inside
it (a classic construction); it is extended at both ends to the outline. The
satin then crosses the shape along the centre line's normal, one stitch per
row, sides alternating: each row is the piece of the normal inside the shape,
so the needle lands on the outline (plus the pull compensation) whatever the
width. A shape that the column does not cover (branches like the bar of a
"t", or too wide for a satin) is left to the tatami fill.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from .polyline import resample, satin_with_underlay, short_stitches


def _skeleton(shape: shapely.Polygon, step: float):
    """Medial-axis graph: node coordinates ``(n, 2)``, edges ``(m, 2)`` int, lengths ``(m,)``."""
    rings = [shape.exterior, *shape.interiors]
    outline = np.vstack([shapely.get_coordinates(shapely.segmentize(r, step))[:-1] for r in rings])
    if len(outline) < 4:
        return None
    edges = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(outline), only_edges=True)
    )
    shapely.prepare(shape)
    edges = edges[shapely.contains(shape, edges)]
    if len(edges) < 2:
        return None
    ends = shapely.get_coordinates(edges).reshape(-1, 2, 2)
    nodes, index = np.unique(np.round(ends.reshape(-1, 2), 6), axis=0, return_inverse=True)
    index = index.reshape(-1, 2)
    keep = index[:, 0] != index[:, 1]
    index, ends = index[keep], ends[keep]
    return nodes, index, np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1)


def centre_line(shape: shapely.Polygon, step: float) -> np.ndarray | None:
    """Longest medial path of a hole-free ``shape``, ends extended to its outline, (n, 2)."""
    if len(shape.interiors) or shape.is_empty:
        return None
    skeleton = _skeleton(shape, step)
    if skeleton is None:
        return None
    nodes, index, weight = skeleton
    n = len(nodes)
    graph = coo_matrix(
        (np.r_[weight, weight], (np.r_[index[:, 0], index[:, 1]], np.r_[index[:, 1], index[:, 0]])),
        shape=(n, n),
    ).tocsr()
    _, label = connected_components(graph, directed=False)
    # The component with the most skeleton length.
    biggest = np.argmax(np.bincount(label[index[:, 0]], weights=weight))
    seed = int(np.flatnonzero(label == biggest)[0])
    # Tree diameter: farthest from any node, then farthest from that one.
    d0 = dijkstra(graph, directed=False, indices=seed)
    a = int(np.argmax(np.where(np.isfinite(d0), d0, -1)))
    da, pred = dijkstra(graph, directed=False, indices=a, return_predecessors=True)
    b = int(np.argmax(np.where(np.isfinite(da), da, -1)))
    chain = [b]
    while chain[-1] != a:
        chain.append(int(pred[chain[-1]]))
    line = nodes[chain[::-1]]
    if len(line) < 2:
        return None
    return _extend_to_outline(line, shape)


def centre_loop(shape: shapely.Polygon, step: float) -> np.ndarray | None:
    """Closed medial loop of a shape with exactly one hole (a ring, an "o"), ``(n, 2)``.

    Spurs of the medial axis are pruned leaf by leaf; what stays must be one
    cycle, else ``None``. The loop does not repeat its first point.
    """
    if len(shape.interiors) != 1:
        return None
    skeleton = _skeleton(shape, step)
    if skeleton is None:
        return None
    nodes, index, _ = skeleton
    alive = np.ones(len(index), dtype=bool)
    for _ in range(len(index)):
        degree = np.bincount(index[alive].ravel(), minlength=len(nodes))
        leaf_edge = alive & ((degree[index[:, 0]] == 1) | (degree[index[:, 1]] == 1))
        if not leaf_edge.any():
            break
        alive &= ~leaf_edge
    cycle = index[alive]
    if len(cycle) < 3:
        return None
    degree = np.bincount(cycle.ravel(), minlength=len(nodes))
    if (degree[np.unique(cycle)] != 2).any():
        return None
    # Walk the cycle: each node has exactly two neighbours.
    neighbours: dict[int, list[int]] = {}
    for u, v in cycle.tolist():
        neighbours.setdefault(u, []).append(v)
        neighbours.setdefault(v, []).append(u)
    first = int(cycle[0, 0])
    order, previous, current = [first], -1, first
    for _ in range(len(cycle)):
        a, b = neighbours[current]
        following = a if a != previous else b
        if following == first:
            break
        order.append(following)
        previous, current = current, following
    if len(order) != len(neighbours):
        return None  # more than one cycle
    return nodes[order]


def _extend_to_outline(line: np.ndarray, shape: shapely.Polygon) -> np.ndarray:
    """The line prolonged along its end directions until it meets the outline."""
    reach = float(np.hypot(*np.ptp(shapely.get_coordinates(shape), axis=0)))

    def tip(end: np.ndarray, inner: np.ndarray) -> np.ndarray | None:
        d = end - inner
        norm = np.linalg.norm(d)
        if norm < 1e-9:
            return None
        ray = shapely.LineString([end, end + d / norm * reach])
        inside = shapely.intersection(ray, shape)
        parts = [p for p in shapely.get_parts(inside) if p.geom_type == "LineString"]
        if not parts:
            return None
        first = min(parts, key=lambda p: p.distance(shapely.Point(end)))
        coords = shapely.get_coordinates(first)
        return coords[np.argmax(np.linalg.norm(coords - end, axis=1))]

    # Directions from a point a little way in, so Voronoi wiggles at the tips do not steer.
    k = min(len(line) - 1, 3)
    head = tip(line[0], line[k])
    tail = tip(line[-1], line[-1 - k])
    parts = [line]
    if head is not None:
        parts.insert(0, head[None])
    if tail is not None:
        parts.append(tail[None])
    return np.vstack(parts)


def shape_satin(
    shape: shapely.Polygon,
    spacing: float,
    pull_compensation: float,
    max_width: float,
    underlay: bool,
    running_length: float,
    start: np.ndarray,
    min_cover: float = 0.95,
) -> np.ndarray | None:
    """Needle points of a satin column filling ``shape``, or ``None`` when it would not do.

    ``spacing`` is the zig-zag's peak-to-peak spacing (each side gets a point
    every ``spacing`` mm).
    """
    step = max(min(spacing, 0.5), 0.2)
    closed = len(shape.interiors) == 1
    line = centre_loop(shape, step) if closed else centre_line(shape, step)
    if line is None:
        return None
    if closed:
        # Start at the loop point nearest the needle, and come back to it.
        k = int(np.argmin(np.linalg.norm(line - start, axis=1)))
        line = np.roll(line, -k, axis=0)
        line = np.vstack([line, line[:1]])
    elif np.linalg.norm(line[-1] - start) < np.linalg.norm(line[0] - start):
        line = line[::-1]
    centre = resample(line, spacing / 2)
    if len(centre) < 4:
        return None
    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))]
    s = np.linspace(0.0, cum[-1], len(centre))

    def at(t: np.ndarray) -> np.ndarray:
        t = np.mod(t, cum[-1]) if closed else np.clip(t, 0.0, cum[-1])
        return np.column_stack([np.interp(t, cum, line[:, 0]), np.interp(t, cum, line[:, 1])])

    reach = max(max_width / 4, spacing)
    tangent = at(s + reach) - at(s - reach)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    far = 2 * max_width
    rays = shapely.linestrings(np.stack([centre - normal * far, centre + normal * far], axis=1))
    pieces = shapely.intersection(rays, shape)
    left = np.empty_like(centre)
    right = np.empty_like(centre)
    keep = np.ones(len(centre), dtype=bool)
    for i, piece in enumerate(pieces):
        if piece.is_empty:
            keep[i] = False
            continue
        if piece.geom_type != "LineString":
            parts = [p for p in shapely.get_parts(piece) if p.geom_type == "LineString"]
            if not parts:
                keep[i] = False
                continue
            here = shapely.Point(centre[i])
            piece = min(parts, key=lambda p: p.distance(here))
        coords = shapely.get_coordinates(piece)
        t = (coords - centre[i]) @ normal[i]
        left[i], right[i] = coords[np.argmax(t)], coords[np.argmin(t)]
    left, right, normal = left[keep], right[keep], normal[keep]
    centre = centre[keep]
    if len(centre) < 4:
        return None
    width = np.linalg.norm(left - right, axis=1)
    # A stroke keeps about its width; rows much wider than usual cross a branch
    # (the bar of a "t") or a bulge: leave such shapes to the fill.
    if width.max() > max_width or width.max() > 1.5 * np.median(width) + 0.5:
        return None
    left, right = short_stitches(
        left + normal * pull_compensation, right - normal * pull_compensation, spacing / 4
    )
    k = np.arange(len(centre))
    zigzag = np.where((k % 2 == 0)[:, None], left, right)
    stitches = shapely.linestrings(np.stack([zigzag[:-1], zigzag[1:]], axis=1))
    sewn = shapely.union_all(shapely.buffer(stitches, spacing))
    if shapely.intersection(sewn, shape).area < min_cover * shape.area:
        return None
    if not underlay:
        return zigzag
    return satin_with_underlay(left, right, zigzag, running_length, pull_compensation + 0.4)
