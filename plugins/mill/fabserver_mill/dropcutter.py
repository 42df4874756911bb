"""Ball end mill drop-cutter: grid dilation where it is exact enough, exact contacts elsewhere.

On gentle faces a ball riding on the node samples of the height map is within a
tolerance of the true surface (second-order error, see :func:`gentle_slope`).
Where the surface bends sharply (walls, edges, steep faces) node samples miss the
geometry by up to a cell, which the ball's steep side turns into a first-order
error. There the tool's height is computed exactly, the way a drop-cutter does
it: the ball lowered onto each vertex, each edge and each steep facet near the
node, all (primitive, node) pairs of a chunk at once.
"""

from __future__ import annotations

import math

import numpy as np

from fabserver.designs.indexed import (
    adjacency_angles,
    adjacency_convex,
    face_adjacency,
    face_normals,
    merge_rounded_vertices,
    single_edges,
)

from .heightmap import Grid, drop_cutter, rasterise_faces

PIECE = 2.0
"""mm: long edges are cut into pieces so their node boxes stay close to the edge."""

PAIR_CHUNK = 250_000


def gentle_slope(radius: float, res: float, tolerance: float) -> float:
    """Steepest face (radians) on which node samples alone keep a ball within ``tolerance``.

    On a plane of slope a, a ball centred over node c touches it at a point p
    ``r·sin a`` away from c, where the ball's own slope is a. The best node lies
    within e = min(r·sin a, res/√2) of p, and missing p by e costs at most
    e²·g''/2 with g'' = 1/(r·cos³a): e²/(2r·cos²a) measured across the face.
    """
    by_contact = math.atan(math.sqrt(2.0 * tolerance / radius))
    cos2 = res * res / 2.0 / (2.0 * radius * tolerance)
    by_grid = math.acos(math.sqrt(cos2)) if cos2 < 1.0 else 0.0
    return max(by_contact, by_grid)


def ball_tips(
    triangles: np.ndarray, grid: Grid, floor: float, radius: float, tolerance: float
) -> np.ndarray:
    """Lowest tip height of a ball end mill at each node, within ``tolerance`` of exact.

    triangles : (n, 3, 3) float, millimetres
    Returns ``(ny, nx) float``.
    """
    corners = np.asarray(triangles, dtype=np.float64).reshape(-1, 3)
    finite = np.isfinite(corners).all(axis=1).reshape(-1, 3).all(axis=1)
    faces = np.arange(len(corners)).reshape(-1, 3)[finite]
    vertices, faces = merge_rounded_vertices(corners, faces)
    normals = face_normals(vertices, faces)
    steep = np.abs(normals[:, 2]) < math.cos(gentle_slope(radius, grid.res, tolerance))
    tips = drop_cutter(
        rasterise_faces(vertices[faces[~steep]], grid, floor), grid.res, radius, "ball"
    )
    flat = tips.reshape(-1)
    edges, ends = feature_edges(vertices, faces, normals, steep, grid.res, tolerance)
    _vertex_contacts(flat, grid, radius, vertices[ends])
    _edge_contacts(flat, grid, radius, *_pieces(vertices[edges[:, 0]], vertices[edges[:, 1]]))
    facing_up = steep & (normals[:, 2] > 1e-6)
    _facet_contacts(flat, grid, radius, vertices[faces[facing_up]], normals[facing_up])
    return tips


def feature_edges(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    steep: np.ndarray,
    res: float,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Edges to test exactly ``(k, 2)`` vertex indices, and their vertices ``(m,)``.

    Every convex edge of a steep face counts (on a ridge between two facets, neither
    facet test sees the ball resting on the edge), and so do edges of a single face
    (open meshes). Between two gentle faces, which are sampled at the nodes, an edge is
    skipped when its fold is under ``2·atan(tolerance / (res/√2))``: the ridge then
    rises less than ``tolerance`` between nodes.
    """
    pairs, shared = face_adjacency(faces, len(vertices))
    gentle_limit = 2.0 * math.atan(tolerance / (res / math.sqrt(2.0)))
    exact = steep[pairs].any(axis=1) | (adjacency_angles(normals, pairs) > gentle_limit)
    # In a valley the ball rests on the two faces, which their own tests find: only
    # ridges can hold it on the edge itself.
    exact &= adjacency_convex(vertices, faces, normals, pairs, shared)
    edges = np.vstack([shared[exact], single_edges(faces, len(vertices))])
    edges = np.unique(edges, axis=0)
    return edges, np.unique(edges)


def _pieces(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges cut into pieces of at most :data:`PIECE` mm (in plan view)."""
    n = np.maximum(1, np.ceil(np.linalg.norm((b - a)[:, :2], axis=1) / PIECE).astype(np.int64))
    seg = np.repeat(np.arange(len(a)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    t0, t1 = k / n[seg], (k + 1) / n[seg]
    d = (b - a)[seg]
    return a[seg] + t0[:, None] * d, a[seg] + t1[:, None] * d


def _node_pairs(
    lo: np.ndarray, hi: np.ndarray, grid: Grid, radius: float, top: np.ndarray, flat: np.ndarray
):
    """Yield ``(owner, i, j)``: the nodes within ``radius`` of each box ``lo..hi`` (plan view).

    Only pairs that can still raise the tip: a primitive never lifts the ball's tip
    above its own highest point ``top``, so a node whose tip in ``flat`` is already
    that high is skipped. Primitives are visited highest first, in chunks of
    :data:`PAIR_CHUNK` pairs, so the low ones mostly find their nodes settled (the
    result is the same maximum, in a fraction of the arithmetic).
    """
    i0 = np.clip(np.ceil((lo[:, 0] - radius - grid.x0) / grid.res), 0, grid.nx).astype(np.int64)
    i1 = np.clip(np.floor((hi[:, 0] + radius - grid.x0) / grid.res), -1, grid.nx - 1).astype(
        np.int64
    )
    j0 = np.clip(np.ceil((lo[:, 1] - radius - grid.y0) / grid.res), 0, grid.ny).astype(np.int64)
    j1 = np.clip(np.floor((hi[:, 1] + radius - grid.y0) / grid.res), -1, grid.ny - 1).astype(
        np.int64
    )
    width = np.maximum(i1 - i0 + 1, 0)
    counts = width * np.maximum(j1 - j0 + 1, 0)
    order = np.argsort(-top, kind="stable")
    ends = np.cumsum(counts[order])
    total = int(ends[-1]) if len(ends) else 0
    first = 0
    while first < len(order) and total:
        done = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, done + PAIR_CHUNK, side="right")), first + 1)
        owners = order[first:last]
        n = counts[owners]
        owner = np.repeat(owners, n)
        local = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        w = width[owner]
        i = i0[owner] + local % np.maximum(w, 1)
        j = j0[owner] + local // np.maximum(w, 1)
        live = flat[j * grid.nx + i] < top[owner]
        first = last
        if live.any():
            yield owner[live], i[live], j[live]


def _merge(flat: np.ndarray, grid: Grid, i: np.ndarray, j: np.ndarray, tip: np.ndarray) -> None:
    ok = np.isfinite(tip)
    np.maximum.at(flat, (j * grid.nx + i)[ok], tip[ok])


def _vertex_contacts(flat: np.ndarray, grid: Grid, radius: float, v: np.ndarray) -> None:
    """The ball resting on a vertex: its centre ``sqrt(r² - d²)`` above it."""
    for k, i, j in _node_pairs(v[:, :2], v[:, :2], grid, radius, v[:, 2], flat):
        dx = grid.x0 + i * grid.res - v[k, 0]
        dy = grid.y0 + j * grid.res - v[k, 1]
        d2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore"):
            tip = np.where(
                d2 <= radius * radius, v[k, 2] + np.sqrt(radius * radius - d2) - radius, -np.inf
            )
        _merge(flat, grid, i, j, tip)


def _edge_contacts(
    flat: np.ndarray, grid: Grid, radius: float, a: np.ndarray, b: np.ndarray
) -> None:
    """The ball resting on a segment: its centre at distance r from the segment's line.

    With u the unit direction and w = C - a, ``|w|² - (w·u)² = r²`` is a quadratic in
    the centre's height; the higher root counts when the foot of the perpendicular
    falls inside the segment (ends are vertex contacts).
    """
    length = np.linalg.norm(b - a, axis=1)
    keep = length > 1e-9
    a, b, length = a[keep], b[keep], length[keep]
    u = (b - a) / length[:, None]
    lo, hi = np.minimum(a, b)[:, :2], np.maximum(a, b)[:, :2]
    top = np.maximum(a[:, 2], b[:, 2])
    for k, i, j in _node_pairs(lo, hi, grid, radius, top, flat):
        wx = grid.x0 + i * grid.res - a[k, 0]
        wy = grid.y0 + j * grid.res - a[k, 1]
        ux, uy, uz = u[k, 0], u[k, 1], u[k, 2]
        along = wx * ux + wy * uy
        qa = 1.0 - uz * uz
        qb = -2.0 * along * uz
        qc = wx * wx + wy * wy - along * along - radius * radius
        disc = qb * qb - 4.0 * qa * qc
        with np.errstate(invalid="ignore", divide="ignore"):
            h = (-qb + np.sqrt(disc)) / (2.0 * qa)
            t = along + h * uz
            ok = (disc >= 0) & (qa > 1e-12) & (t >= 0) & (t <= length[k])
            tip = np.where(ok, a[k, 2] + h - radius, -np.inf)
        _merge(flat, grid, i, j, tip)


def _facet_contacts(
    flat: np.ndarray, grid: Grid, radius: float, tri: np.ndarray, normal: np.ndarray
) -> None:
    """The ball resting on a facet's interior: it touches at ``centre - r·n``."""
    lo, hi = tri[:, :, :2].min(axis=1), tri[:, :, :2].max(axis=1)
    v0 = tri[:, 0]
    e1 = tri[:, 1] - v0
    e2 = tri[:, 2] - v0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    top = tri[:, :, 2].max(axis=1)
    for k, i, j in _node_pairs(lo, hi, grid, radius, top, flat):
        qx = grid.x0 + i * grid.res - radius * normal[k, 0] - v0[k, 0]
        qy = grid.y0 + j * grid.res - radius * normal[k, 1] - v0[k, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (qx * e2[k, 1] - qy * e2[k, 0]) / det[k]
            t = (e1[k, 0] * qy - e1[k, 1] * qx) / det[k]
            inside = (s >= 0) & (t >= 0) & (s + t <= 1)
            qz = v0[k, 2] + s * e1[k, 2] + t * e2[k, 2]
            tip = np.where(inside, qz + radius * normal[k, 2] - radius, -np.inf)
        _merge(flat, grid, i, j, tip)
