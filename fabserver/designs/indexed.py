"""An indexed triangle mesh held as two numpy arrays, with the facts planning asks of it.

trimesh is a fine library, but importing it brings scipy, networkx and lxml
(about half a second and 60 MiB in every process) and a print of a clean STL
only needs arrays, closedness, winding, volume and the number of bodies. Those
few facts are computed here with one sort of edge keys each, the way trimesh
computes them, so the answers are the same; a plugin that needs trimesh's
richer operations asks for :meth:`IndexedMesh.to_trimesh`.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import trimesh

MERGE_TOLERANCE = 1e-8
"""trimesh's ``tol.merge``: a triangle side shorter than this is no side."""


class IndexedMesh:
    """``vertices (v, 3) float64`` and ``faces (f, 3) int64``, read-only by convention.

    The derived facts are computed on first use and kept, like trimesh's cache.
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, *, all_used: bool = False) -> None:
        """``all_used``: every vertex is known to be a corner of some face (the bounds
        then need no pass over the faces)."""
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        self._facts: dict[str, Any] = {"all_used": True} if all_used else {}

    def knowing(self, *, bodies: int | None = None, edges: tuple | None = None) -> IndexedMesh:
        """This mesh, given facts already worked out for its vertices and faces (the
        loader counts bodies and makes the edge table before it builds the mesh)."""
        if bodies is not None:
            self._facts["bodies"] = bodies
        if edges is not None:
            self._facts["edge_pairs"] = edges
        return self

    def copy(self) -> IndexedMesh:
        return IndexedMesh(self.vertices.copy(), self.faces.copy())

    def to_trimesh(self) -> trimesh.Trimesh:
        """The same mesh as a ``trimesh.Trimesh`` (imports trimesh)."""
        import trimesh

        return trimesh.Trimesh(
            vertices=self.vertices, faces=self.faces, process=False, validate=False
        )

    @property
    def triangles(self) -> np.ndarray:
        return self.vertices[self.faces]

    @property
    def bounds(self) -> np.ndarray:
        """``(2, 3)`` corners of the vertices faces use (as trimesh's ``bounds``)."""
        if "bounds" not in self._facts:
            if len(self.faces) == 0:
                return np.zeros((2, 3))
            points = self.vertices
            if not self._facts.get("all_used"):
                used = np.zeros(len(self.vertices), dtype=bool)
                used[self.faces.ravel()] = True
                points = self.vertices if used.all() else self.vertices[used]
            self._facts["bounds"] = np.array([points.min(axis=0), points.max(axis=0)])
        return self._facts["bounds"]

    @property
    def extents(self) -> np.ndarray:
        lo, hi = self.bounds
        return hi - lo

    @property
    def is_watertight(self) -> bool:
        return self._edge_facts()[0]

    @property
    def is_winding_consistent(self) -> bool:
        return len(self.faces) > 0 and self._edge_facts()[1]

    @property
    def volume(self) -> float:
        if "volume" not in self._facts:
            self._facts["volume"] = float(face_volumes(self.vertices, self.faces).sum())
        return self._facts["volume"]

    @property
    def body_count(self) -> int:
        """Connected groups of vertices (trimesh's ``body_count``)."""
        if "bodies" not in self._facts:
            # Two sides of each face join its three corners as well as three do; vertex
            # numbers in 32 bits where they fit (half the memory of the loader's peak).
            faces = self.faces
            dtype = np.int32 if len(self.vertices) < 2**31 else np.int64
            labels = connected_components(
                len(self.vertices),
                np.concatenate([faces[:, 0], faces[:, 1]], dtype=dtype),
                np.concatenate([faces[:, 1], faces[:, 2]], dtype=dtype),
                dtype=dtype,
            )
            self._facts["bodies"] = int(np.count_nonzero(labels == np.arange(len(labels))))
        return self._facts["bodies"]

    def forget_edge_tables(self) -> None:
        """Keep the facts the edge tables gave, drop the tables (a kept design stays small)."""
        self._edge_facts()
        _ = self.body_count
        self._facts.pop("edge_pairs", None)

    def _edge_facts(self) -> tuple[bool, bool]:
        if "edge_facts" not in self._facts:
            pairs, opposed, _, n_sides = self.edges
            watertight = 2 * len(pairs) == n_sides and n_sides > 0
            self._facts["edge_facts"] = (bool(watertight), bool(opposed.all()))
        return self._facts["edge_facts"]

    @property
    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """:func:`edge_pairs` of the faces, computed once (one sort serves every check)."""
        if "edge_pairs" not in self._facts:
            self._facts["edge_pairs"] = edge_pairs(self.faces, len(self.vertices))
        return self._facts["edge_pairs"]


def sides(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The start and end vertex of each side of each face, ``(f, 3)`` each, in winding order."""
    return faces, faces[:, [1, 2, 0]]


def edge_pairs(
    faces: np.ndarray, n_vertices: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sides by how many faces share them: ``(pairs, opposed, single, sides)``.

    ``pairs (p, 2)``: the two sides of each edge shared by exactly two faces;
    ``opposed (p,)``: the two faces run it in opposite directions (consistent
    winding); ``single``: sides no other face shares (the rims of holes); ``sides``:
    ``3 × faces``. A side index ``i`` is face ``i // 3``, side ``i % 3``.
    """
    start = faces.ravel()
    ordered, order = edge_keys_sorted(start, faces[:, [1, 2, 0]].ravel(), n_vertices)
    starts_run = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    del ordered
    run_starts = np.flatnonzero(starts_run)
    del starts_run
    run_length = np.diff(run_starts, append=len(order))
    twice = run_starts[run_length == 2]
    pairs = np.empty((len(twice), 2), dtype=order.dtype)  # filled in place: the loader's peak
    pairs[:, 0] = order[twice]
    twice += 1
    pairs[:, 1] = order[twice]
    del twice
    single = order[run_starts[run_length == 1]]
    n_sides = len(order)
    del order, run_starts, run_length
    # Two sides of one edge {u, v} that start at different vertices run it in opposite
    # directions. Those that start at the same one run it the same way, or go from a
    # vertex to itself: for those few, whether the first starts where the second ends
    # (found from its index: no (f, 3) array of the ends kept).
    first_start = start[pairs[:, 0]]
    opposed = first_start != start[pairs[:, 1]]
    same = np.flatnonzero(~opposed)
    if same.size:
        other = pairs[same, 1]
        opposed[same] = first_start[same] == start[other + np.where(other % 3 == 2, -2, 1)]
    return pairs, opposed, single, n_sides


def edge_keys_sorted(
    start: np.ndarray, end: np.ndarray, n_vertices: int
) -> tuple[np.ndarray, np.ndarray]:
    """The undirected edge key of each side ``start[i]–end[i]``, sorted, and the sort's order.

    Equal keys are adjacent, in side order. Where the key and the side index fit in
    63 bits together, one plain sort of both packed in an int64 (about a third
    faster than an argsort, and no gather of the keys after it).
    """
    n = np.int64(max(n_vertices, 1))
    keys = np.minimum(start, end).astype(np.int64, copy=False)  # in place below: one array
    keys *= n
    keys += np.maximum(start, end)
    del start, end  # (a caller's temporary of the ends is freed here)
    count = len(keys)
    shift = max(count - 1, 1).bit_length()
    if int(n) ** 2 < 2 ** (63 - shift):
        keys <<= shift
        keys |= np.arange(count, dtype=np.int64)
        sort_on_two_cores(keys)
        order = keys & np.int64((1 << shift) - 1)
        keys >>= shift
        return keys, order
    order = np.argsort(keys, kind="stable")
    return keys[order], order


PARALLEL_SORT_MIN = 1 << 17
"""Below this many values a sort is not split over two threads (a thread costs ~0.1 ms)."""


def sort_on_two_cores(values: np.ndarray) -> None:
    """``values.sort()`` of a 1-d integer array, its two halves sorted at once.

    numpy's sort releases the interpreter's lock, so a second thread sorts one half on
    the other core while this one sorts the other; one stable pass merges the two
    sorted runs (timsort: a few ms). Equal integers are indistinguishable, so the
    result is ``values.sort()``'s exactly.
    """
    if len(values) < PARALLEL_SORT_MIN or (os.cpu_count() or 1) < 2:
        values.sort()
        return
    half = len(values) // 2
    other = threading.Thread(target=values[half:].sort, name="sort-half", daemon=True)
    other.start()
    values[:half].sort()
    other.join()
    values.sort(kind="stable")


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` (sorted, each once, flattened) without its masked-array check.

    numpy 2's ``np.unique`` asks ``np.ma.is_masked`` when no indices are wanted,
    and that first use imports ``numpy.ma`` (7 ms of every planning process that
    meets one). The same values, by the same sort.
    """
    values = np.sort(np.asarray(values).ravel())
    keep = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def connected_components(
    n: int, first: np.ndarray, second: np.ndarray, dtype: type = np.int64
) -> np.ndarray:
    """Label of each of ``n`` nodes joined by edges ``first[i]–second[i]``: its group's smallest node.

    Hooking and pointer jumping over the whole edge list (a few dozen array passes
    even for millions of nodes), in place of scipy's ``connected_components``.
    ``dtype``: of the labels and the work arrays (``np.int32`` where ``n`` fits: half
    the memory).
    """
    labels = np.arange(n, dtype=dtype)
    if len(first) == 0:
        return labels
    first = np.asarray(first, dtype=dtype)
    second = np.asarray(second, dtype=dtype)
    a, b = first, second  # every node its own label: no gather in the first round
    while True:
        differ = a != b
        if not differ.any():
            return labels
        if not differ.all():  # (all differ in the first round, as a rule: no copies then)
            # An edge inside one group stays inside it: only the others are looked at
            # again. (np.compress: a boolean index of a mask this irregular is 6x slower.)
            first, second, a, b = (np.compress(differ, x) for x in (first, second, a, b))
        del differ
        low = np.minimum(a, b)
        np.minimum.at(labels, np.maximum(a, b), low)
        while True:  # every node straight to its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        a, b = labels[first], labels[second]


FACES_PER_PASS = 1 << 16
"""Faces gathered at a time into corner columns: a few MiB of temporaries (the loader's
checks run at its peak)."""


def face_volumes(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Signed volume each face contributes, as trimesh's ``mass_properties`` sums it."""
    out = np.empty(len(faces))
    axes = vertex_axes(vertices)
    for lo in range(0, len(faces), FACES_PER_PASS):
        p0, p1, p2 = corner_columns(vertices, faces[lo : lo + FACES_PER_PASS], axes)
        cross_x = _crosses(p0, p1, p2)[0]
        out[lo : lo + FACES_PER_PASS] = cross_x * (p0[0] + p1[0] + p2[0]) / 6.0
    return out


Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


def vertex_axes(vertices: np.ndarray) -> list[np.ndarray]:
    """The vertices' x, y and z as contiguous float64 columns."""
    return [np.ascontiguousarray(vertices[:, a], dtype=np.float64) for a in range(3)]


def corner_columns(
    vertices: np.ndarray, faces: np.ndarray, axes: list[np.ndarray] | None = None
) -> tuple[Columns, Columns, Columns]:
    """``(x, y, z)`` of each face's first, second and third corner: nine ``(f,)`` arrays.

    Whole columns rather than ``vertices[faces]`` (an ``(f, 3, 3)`` gather, then
    strided ``(f, 3)`` arithmetic): the same numbers, several times faster. ``axes``:
    :func:`vertex_axes` of the vertices, when the caller has them (a loop of slices).
    """
    if axes is None:
        axes = vertex_axes(vertices)
    corner = [np.ascontiguousarray(faces[:, c]) for c in range(3)]
    return tuple(tuple(axis[c] for axis in axes) for c in corner)  # type: ignore[return-value]


def _crosses(p0: Columns, p1: Columns, p2: Columns) -> Columns:
    """:func:`triangle_crosses` of corner columns, with numpy's own ``cross`` arithmetic."""
    a = [p1[k] - p0[k] for k in range(3)]
    b = [p2[k] - p1[k] for k in range(3)]
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _norms(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``sqrt((v**2).sum(axis=1))`` of ``(x, y, z)`` columns, summed in the same order."""
    return np.sqrt(x**2 + y**2 + z**2)


def triangle_crosses(tri: np.ndarray) -> np.ndarray:
    """Cross product of each triangle's first two sides (trimesh's ``triangles.cross``)."""
    vectors = np.diff(tri, axis=1)
    return np.cross(vectors[:, 0], vectors[:, 1])


def nondegenerate(tri: np.ndarray, height: float = MERGE_TOLERANCE) -> np.ndarray:
    """Triangles whose two heights both exceed ``height`` (trimesh's ``nondegenerate``)."""
    tri = np.asarray(tri, dtype=np.float64)
    columns = tuple(tuple(tri[:, c, a] for a in range(3)) for c in range(3))
    return _nondegenerate(*columns, height=height)  # type: ignore[arg-type]


def nondegenerate_faces(
    vertices: np.ndarray, faces: np.ndarray, height: float = MERGE_TOLERANCE
) -> np.ndarray:
    """:func:`nondegenerate` of ``vertices[faces]``, without building the triangles."""
    kept = np.empty(len(faces), dtype=bool)
    axes = vertex_axes(vertices)
    for lo in range(0, len(faces), FACES_PER_PASS):
        columns = corner_columns(vertices, faces[lo : lo + FACES_PER_PASS], axes)
        kept[lo : lo + FACES_PER_PASS] = _nondegenerate(*columns, height=height)
    return kept


def _nondegenerate(p0: Columns, p1: Columns, p2: Columns, height: float) -> np.ndarray:
    """Whether each face is taller than ``height`` over both its sides from the first corner."""
    doubled_area = _norms(*_crosses(p0, p1, p2))  # halving then doubling is exact: left out
    kept = np.ones(len(doubled_area), dtype=bool)
    for corner in (p1, p2):
        length = _norms(*(corner[k] - p0[k] for k in range(3)))
        # no side: no height (trimesh's box of zeros)
        side_height = np.zeros(len(length))
        np.divide(doubled_area, length, out=side_height, where=length > MERGE_TOLERANCE)
        kept &= side_height > height
    return kept


def unique_faces(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Mask of the first occurrence of each face, whatever the order of its corners."""
    n = np.int64(max(n_vertices, 1))
    if len(faces) == 0:
        return np.zeros(0, dtype=bool)
    a, b, c = (faces[:, k].astype(np.int64) for k in range(3))
    low, high = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
    mask = np.zeros(len(faces), dtype=bool)
    if float(n) ** 3 < 2**62:
        keys = (low * n + (a + b + c - low - high)) * n + high
        # Most meshes repeat no face: a plain sort says so, without np.unique's indices.
        ordered = np.sort(keys)
        if not (ordered[1:] == ordered[:-1]).any():
            mask[:] = True
            return mask
        _, first = np.unique(keys, return_index=True)
    else:
        _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    mask[first] = True
    return mask


def unique_faces_from_edges(
    faces: np.ndarray, n_vertices: int, edges: tuple[np.ndarray, np.ndarray, np.ndarray, int]
) -> np.ndarray:
    """:func:`unique_faces`, told from the faces' :func:`edge_pairs` without a sort of its own.

    Where no edge has three sides or more, a face repeats another exactly when its three
    sides are paired with sides of that one face (the three edges give the three
    corners); the later of the two goes, as :func:`unique_faces` keeps the first. Faces
    must have three distinct corners (degenerate ones removed). Otherwise:
    :func:`unique_faces`.
    """
    pairs, _, single, n_sides = edges
    if 2 * len(pairs) + len(single) != n_sides:
        return unique_faces(faces, n_vertices)
    partner = np.full(n_sides, -1, dtype=np.int32 if len(faces) < 2**31 else np.int64)
    partner[pairs[:, 0]] = pairs[:, 1] // 3
    partner[pairs[:, 1]] = pairs[:, 0] // 3
    partner = partner.reshape(-1, 3)
    first = partner[:, 0]
    repeats = (first == partner[:, 1]) & (first == partner[:, 2])
    if not repeats.any():  # (as a rule)
        return np.ones(len(faces), dtype=bool)
    repeats &= (first >= 0) & (first < np.arange(len(partner)))  # the earlier copy stays
    return ~repeats


def without_unreferenced(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face uses, keeping the order of the others (as trimesh does)."""
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.ravel()] = True
    if used.all():
        return vertices, faces
    new_index = np.cumsum(used) - 1
    return vertices[used], new_index[faces]


def fix_inversion(mesh: IndexedMesh) -> IndexedMesh:
    """Turn each closed, consistently wound body with a negative volume the right way out.

    trimesh's ``repair.fix_inversion(multibody=True)`` for a watertight mesh: bodies
    are groups of faces joined by sides shared by exactly two faces; bodies of
    fewer than four faces are left alone.
    """
    faces = mesh.faces
    pairs, opposed, _, _ = mesh.edges
    face_a, face_b = pairs[:, 0] // 3, pairs[:, 1] // 3
    labels = connected_components(len(faces), face_a, face_b)
    roots, group = np.unique(labels, return_inverse=True)
    size = np.bincount(group, minlength=len(roots))
    badly_wound = np.bincount(group[face_a[~opposed]], minlength=len(roots)) > 0
    volumes = face_volumes(mesh.vertices, faces)
    volume = np.bincount(group, weights=volumes, minlength=len(roots))
    flip_group = (size >= 4) & ~badly_wound & (volume < 0.0)
    flip = flip_group[group]
    if not flip.any():
        # kept, as :attr:`IndexedMesh.volume` would sum it (the checks ask for it next)
        mesh._facts.setdefault("volume", float(volumes.sum()))
        return mesh
    fixed = faces.copy()
    fixed[flip] = fixed[flip][:, ::-1]
    turned = IndexedMesh(mesh.vertices, fixed, all_used=bool(mesh._facts.get("all_used")))
    if "bodies" in mesh._facts:  # the same corners joined
        turned._facts["bodies"] = mesh._facts["bodies"]
    # The same edges join the same faces. A flipped face [a, b, c] → [c, b, a] runs
    # its sides 0 and 1 as its new sides 1 and 0; both faces of a pair belong to the
    # same body, so they flip together and their winding still agrees.
    pairs, opposed, single, n_sides = mesh.edges
    turned._facts["edge_pairs"] = (
        _flipped_sides(pairs, flip),
        opposed,
        _flipped_sides(single, flip),
        n_sides,
    )
    return turned


_SIDE_OF_FLIPPED = np.array([1, 0, 2])


def _flipped_sides(side_index: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Side indices after the faces in ``flip`` were reversed."""
    face, side = np.divmod(side_index, 3)
    return np.where(flip[face], face * 3 + _SIDE_OF_FLIPPED[side], side_index)


MERGE_DIGITS = 8
"""Decimals of a millimetre two corners must share to be one vertex (``tol.merge`` = 1e-8)."""

NORMAL_ZERO = 1e-13
"""trimesh's ``tol.zero``: a face whose sides' cross product is shorter has no normal."""


def merge_rounded_vertices(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Corners equal to :data:`MERGE_DIGITS` decimals made one vertex (trimesh's ``merge_vertices``).

    Not the loaders' merge (:func:`fabserver.designs.stl.merge_vertices`, within a grid
    tolerance): the mill's drop-cutter numbers its vertices as trimesh did, which fixes
    each edge's direction and so the last bits of its contact heights.

    Each group keeps the coordinates of its first corner, and the groups are numbered in
    the order they first appear; vertices no face uses go. The same vertices, in the same
    order, as trimesh gives, so every fact derived from them is too.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(vertices) == 0:
        return vertices, faces
    referenced = np.zeros(len(vertices), dtype=bool)
    referenced[faces] = True
    keys = (vertices * (10**MERGE_DIGITS)).round().astype(np.int64)[referenced]
    rows = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.dtype.itemsize * 3))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    order = first.argsort()
    new_index = np.zeros(len(vertices), dtype=np.int64)
    new_index[referenced] = order.argsort()[inverse.reshape(-1)]
    kept = np.flatnonzero(referenced)[first[order]]
    return vertices[kept], new_index[faces]


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normal of each face ``(f, 3)``, zero for a face without area (trimesh's ``face_normals``)."""
    crosses = triangle_crosses(vertices[faces])
    norm = np.sqrt(np.dot(crosses * crosses, [1.0, 1.0, 1.0]))
    valid = norm > NORMAL_ZERO
    norm[valid] **= -1
    return np.where(valid[:, None], crosses * norm.reshape((-1, 1)), 0.0)


def face_adjacency(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces sharing an edge with exactly one other face, and that edge.

    Returns ``(adjacency (p, 2), edges (p, 2))``: the two faces, smaller index first,
    and the edge's two vertices, smaller index first; a face folded onto itself is no
    pair. The pairs trimesh's ``face_adjacency`` and ``face_adjacency_edges`` list
    (in another order).
    """
    pairs = edge_pairs(faces, n_vertices)[0]
    adjacency = np.sort(pairs // 3, axis=1)
    keep = adjacency[:, 0] != adjacency[:, 1]
    return adjacency[keep], side_vertices(faces, pairs[keep, 0])


def single_edges(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Edges of one face only (rims of holes, open meshes): ``(k, 2)`` vertices, smaller first."""
    return side_vertices(faces, edge_pairs(faces, n_vertices)[2])


def side_vertices(faces: np.ndarray, side_index: np.ndarray) -> np.ndarray:
    """The two vertices of each side ``i`` (face ``i // 3``, side ``i % 3``), smaller first."""
    start, end = sides(faces)
    a, b = start.ravel()[side_index], end.ravel()[side_index]
    return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)


def adjacency_angles(normals: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """Angle (radians) between the normals of each pair of adjacent faces."""
    dots = np.dot(normals[adjacency[:, 0]] * normals[adjacency[:, 1]], [1.0, 1.0, 1.0])
    return np.abs(np.arccos(np.clip(dots, -1.0, 1.0)))


def adjacency_convex(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    adjacency: np.ndarray,
    edges: np.ndarray,
) -> np.ndarray:
    """Whether each shared edge is a ridge (trimesh's ``face_adjacency_convex``).

    The second face's corner off the edge lies at most :data:`MERGE_TOLERANCE` in
    front of the first face's plane. A second face without exactly one such corner
    takes the last vertex, as trimesh does.
    """
    other_faces = faces[adjacency[:, 1]]
    off_edge = (other_faces != edges[:, :1]) & (other_faces != edges[:, 1:])
    one = off_edge.sum(axis=1) == 1
    other = np.full(len(adjacency), -1, dtype=np.int64)
    other[one] = other_faces[one][off_edge[one]]
    origins = vertices[edges[:, 0]]
    projections = np.dot((vertices[other] - origins) * normals[adjacency[:, 0]], [1.0, 1.0, 1.0])
    return projections < MERGE_TOLERANCE
