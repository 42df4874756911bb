"""Triangle meshes: STL (binary and ASCII), 3MF and OBJ → :class:`Mesh`.

Binary STL is read as a numpy view of its bytes (no per-triangle Python), ASCII
STL by one regular expression over the ``vertex`` lines, which also makes it
indifferent to the junk some exporters leave after ``endloop`` or in normals.
3MF is read with the standard library (:mod:`.threemf`), OBJ through trimesh. Every mesh then goes through the same checks and
repairs (:func:`mesh_from_triangles`), whose outcome is kept as facts for the
maker and the staff.
"""

from __future__ import annotations

import io
import itertools
import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..i18n import Text
from ..memory import release_freed_memory
from .indexed import (
    IndexedMesh,
    connected_components,
    edge_pairs,
    fix_inversion,
    nondegenerate_faces,
    sort_on_two_cores,
    triangle_crosses,
    unique_faces_from_edges,
    without_unreferenced,
)
from .loader import design_error
from .types import Mesh, SourceFacts
from .units import size_warnings

_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")])
_VERTEX = re.compile(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)", re.I)
_SOLID = re.compile(rb"^\s*solid\b", re.I | re.M)
_HEADER_UNITS = re.compile(rb"UNITS\s*=\s*(mm|millimet\w*|cm|in|inch\w*|m|met\w*)\b", re.I)
_UNIT_SCALES = {"mm": 1.0, "cm": 10.0, "in": 25.4, "m": 1000.0}

MAX_TRIANGLES = 20_000_000
"""Beyond this no slicer in the lab finishes in reasonable time."""


def binary_stl(triangles: np.ndarray, header: bytes = b"fabserver") -> bytes:
    """A binary STL of ``triangles`` ((n, 3, 3) float, mm), with their unit normals."""
    tri = np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 3)
    records = np.zeros(len(tri), dtype=_RECORD)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    records["normal"] = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
    records["vertices"] = tri
    head = header[:80].ljust(80, b" ") + np.uint32(len(tri)).astype("<u4").tobytes()
    return head + records.tobytes()


def load_stl_binary(data: bytes, name: str = "", **_: object) -> Mesh:
    """Binary STL: an 80-byte header, a uint32 count, then 50-byte records."""
    count = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0])
    repairs: list[Text] = []
    if count == 0 and len(data) > 84:
        count = (len(data) - 84) // 50
        repairs.append(
            Text(
                f"L'en-tête annonçait 0 triangle ; les {count} triangles du fichier ont été lus.",
                f"The header declared 0 triangles; the file's {count} triangles were read.",
            )
        )
    _check_count(count)
    records = np.frombuffer(data, dtype=_RECORD, count=count, offset=84)
    header = data[:80]
    units = _header_units(header)
    triangles = records["vertices"]  # float32 view; widened after merging
    normals = records["normal"]
    printable = re.sub(rb"[^\x20-\x7e]+", b" ", header.split(b"\0")[0])
    details: dict[str, object] = {"header": printable.decode("ascii").strip()}
    scale = _UNIT_SCALES.get(units or "mm", 1.0)
    return mesh_from_triangles(
        triangles * scale if scale != 1.0 else triangles,
        "stl-binary",
        stored_normals=normals,
        units=units,
        scale_to_mm=scale,
        details=details,
        repairs=repairs,
    )


def load_stl_ascii(data: bytes, name: str = "", **_: object) -> Mesh:
    """ASCII STL, including several ``solid`` blocks in one file.

    Only ``vertex`` lines carry geometry; facet normals are recomputed from the
    winding anyway, so broken normals (``+inf``, ``weirdvalue``) and text left
    after ``endloop``/``endfacet`` do not matter.
    """
    matches = _VERTEX.findall(data)
    if len(matches) % 3:
        raise design_error(
            f"Ce STL texte est incomplet : {len(matches)} sommets, ce n'est pas un multiple de 3"
            " (une facette est coupée). Exportez-le à nouveau.",
            f"This ASCII STL is incomplete: {len(matches)} vertices, not a multiple of 3 (a"
            " facet is cut off). Export it again.",
        )
    _check_count(len(matches) // 3)
    try:
        vertices = np.array(matches, dtype=np.bytes_).astype(np.float64)
    except ValueError:
        raise design_error(
            "Ce STL texte contient des coordonnées qui ne sont pas des nombres."
            " Exportez-le à nouveau, de préférence en STL binaire.",
            "This ASCII STL holds coordinates that are not numbers. Export it again,"
            " preferably as binary STL.",
        ) from None
    solids = len(_SOLID.findall(data))
    units = _header_units(data[:200])
    scale = _UNIT_SCALES.get(units or "mm", 1.0)
    return mesh_from_triangles(
        vertices.reshape(-1, 3, 3) * scale,
        "stl-ascii",
        units=units,
        scale_to_mm=scale,
        details={"solids": solids} if solids > 1 else {},
    )


def load_3mf(data: bytes, name: str = "", **_: object) -> Mesh:
    """3MF: a ZIP of XML; units are declared in the model and honoured."""
    from .threemf import UNIT_TO_MM, read_3mf

    model = read_3mf(data)
    scale = UNIT_TO_MM.get(model.unit)
    if scale is None:
        raise design_error(
            f"Ce fichier 3MF déclare l'unité « {model.unit} », que la norme 3MF ne connaît pas."
            " Exportez-le à nouveau en millimètres.",
            f"This 3MF file declares the unit '{model.unit}', which the 3MF standard does not"
            " define. Export it again in millimetres.",
        )
    return mesh_from_indexed(
        model.vertices * scale,
        model.faces,
        "3mf",
        units=_canonical_unit(model.unit),
        scale_to_mm=scale,
        details={"objects": model.objects},
    )


def load_obj(data: bytes, name: str = "", **_: object) -> Mesh:
    """Wavefront OBJ: no units (like STL); only the geometry is kept."""
    return _load_with_trimesh(data, "obj")


def _load_with_trimesh(data: bytes, file_type: str) -> Mesh:
    import trimesh

    loaded = trimesh.load(io.BytesIO(data), file_type=file_type, process=False, force="scene")
    units_name = getattr(loaded, "units", None)
    meshes = [g for g in loaded.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not meshes:
        raise design_error(
            f"Ce fichier {file_type.upper()} ne contient aucun triangle.",
            f"This {file_type.upper()} file contains no triangles.",
        )
    triangles = np.concatenate([m.triangles for m in meshes])
    scale = 1.0
    units = None
    if units_name:
        scale = float(trimesh.units.unit_conversion(units_name, "millimeters"))
        units = _canonical_unit(units_name)
    return mesh_from_triangles(
        triangles * scale,
        file_type,
        units=units,
        scale_to_mm=scale,
        details={"objects": len(meshes)},
    )


def _canonical_unit(name: str) -> str:
    name = name.lower()
    for short, long in (("mm", "milli"), ("cm", "centi"), ("in", "inch"), ("m", "meter")):
        if name == short or name.startswith(long):
            return short
    return name


def _header_units(header: bytes) -> str | None:
    """Units some exporters (netfabb, Materialise) write in the header: ``UNITS=MM``.

    STL itself has no units; where the header states one it is honoured.
    """
    found = _HEADER_UNITS.search(header)
    return _canonical_unit(found.group(1).decode("ascii")) if found else None


def _check_count(count: int) -> None:
    if count == 0:
        raise design_error(
            "Ce STL ne contient aucun triangle. Vérifiez que l'objet était sélectionné à l'export.",
            "This STL contains no triangles. Check that the object was selected when exporting.",
        )
    if count > MAX_TRIANGLES:
        raise design_error(
            f"Ce modèle a {count:,} triangles, au-delà de la limite de"
            f" {MAX_TRIANGLES:,}. Simplifiez-le (décimation) avant de l'envoyer.".replace(",", " "),
            f"This model has {count:,} triangles, more than the limit of {MAX_TRIANGLES:,}."
            " Simplify it (decimate) before uploading.",
        )


# --------------------------------------------------------------------------- checks, repairs


def mesh_from_triangles(
    triangles: np.ndarray,
    fmt: str,
    *,
    stored_normals: np.ndarray | None = None,
    units: str | None = None,
    scale_to_mm: float = 1.0,
    details: dict[str, object] | None = None,
    repairs: list[Text] | None = None,
) -> Mesh:
    """Checked and repaired :class:`Mesh` from raw triangles.

    ``triangles`` : ``(n, 3, 3) float``, millimetres (already scaled).
    ``stored_normals`` : ``(n, 3) float`` as written in the file, only compared
    with the winding to report how many were wrong.

    Repairs, each reported: merge coincident vertices (STL stores every corner
    of every triangle), drop degenerate and duplicate triangles, make the
    winding consistent, turn an inside-out solid the right way, fill holes of
    three or four edges. A flat mesh or a loose soup of triangles encloses no
    volume: that is a :class:`DesignError`, since nothing can be printed or
    milled from it.
    """
    details = dict(details or {})
    # A binary STL's corners are a view through its 50-byte records: copied together
    # once (as merging would copy them anyway), every pass below reads them 2-3 times
    # faster. Freed once merged.
    triangles = np.ascontiguousarray(triangles)
    if not np.isfinite(triangles).all():
        raise _not_finite()
    repairs = list(repairs or [])
    # The stored normals are checked on another thread while the corners are merged
    # (numpy releases the interpreter's lock in both: the second core is idle here).
    counting = (
        None if stored_normals is None else _Call(_opposed_normals, triangles, stored_normals)
    )
    try:
        vertices, faces = merge_vertices(triangles)
    finally:
        opposed = None if counting is None else counting.result()
    if opposed is not None:
        details["stored_normals_opposed"] = opposed
        if opposed:
            repairs.append(
                Text(
                    f"{opposed} normale(s) de facette contredisai(en)t l'ordre des sommets :"
                    " recalculée(s) d'après l'ordre des sommets.",
                    f"{opposed} facet normal(s) disagreed with the vertex order: recomputed"
                    " from it.",
                )
            )
    n_raw = len(triangles)
    del triangles
    faces = _nondegenerate(vertices, faces, repairs)
    return _checked_mesh(vertices, faces, n_raw, fmt, units, scale_to_mm, details, repairs)


def mesh_from_indexed(
    vertices: np.ndarray,
    faces: np.ndarray,
    fmt: str,
    *,
    units: str | None = None,
    scale_to_mm: float = 1.0,
    details: dict[str, object] | None = None,
) -> Mesh:
    """:func:`mesh_from_triangles` of ``vertices[faces]``, the same mesh, from a format
    that shares its vertices (3MF): the corners of every triangle are never built.

    ``vertices`` : ``(v, 3) float64``, millimetres; ``faces`` : ``(n, 3) int``, each
    index below ``v``.
    """
    if not np.isfinite(vertices).all(axis=1)[faces].all():  # only the corners used
        raise _not_finite()
    n_raw = len(faces)
    vertices, faces = merge_indexed_vertices(vertices, faces)
    repairs: list[Text] = []
    faces = _nondegenerate(vertices, faces, repairs)
    return _checked_mesh(
        vertices, faces, n_raw, fmt, units, scale_to_mm, dict(details or {}), repairs
    )


def _nondegenerate(vertices: np.ndarray, faces: np.ndarray, repairs: list[Text]) -> np.ndarray:
    """The faces with an area (a repair noted if some had none).

    Called where the caller rebinds its ``faces`` to the result, so the unfiltered
    faces are freed before the checks that follow (the loader's peak).
    """
    kept = nondegenerate_faces(vertices, faces)
    if kept.all():
        return faces
    repairs.append(
        Text(
            f"{int((~kept).sum())} triangle(s) sans surface retiré(s).",
            f"{int((~kept).sum())} zero-area triangle(s) removed.",
        )
    )
    return faces[kept]


def _not_finite():
    return design_error(
        "Ce maillage contient des coordonnées invalides (infini ou NaN). Le fichier est"
        " endommagé : exportez-le à nouveau.",
        "This mesh holds invalid coordinates (infinity or NaN). The file is damaged:"
        " export it again.",
    )


def _checked_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    n_raw: int,
    fmt: str,
    units: str | None,
    scale_to_mm: float,
    details: dict[str, object],
    repairs: list[Text],
) -> Mesh:
    """The checks and repairs of :func:`mesh_from_triangles` after the vertices are merged
    and the faces without area removed (:func:`_nondegenerate`)."""
    warnings: list[Text] = []
    details["vertices_merged"] = 3 * n_raw - len(vertices)

    # Unused vertices dropped first (renumbered in order: the edges' order stays), and the
    # bodies counted before the edge table exists (the loader's peak): a repeated face
    # joins the corners its first copy joins, so they count the same without it.
    vertices, faces = without_unreferenced(vertices, faces)
    bodies = IndexedMesh(vertices, faces, all_used=True).body_count
    # The edge table serves the repeated faces, the winding, the open edges and the
    # isolated faces: one sort of the sides for all of them.
    edges = edge_pairs(faces, len(vertices))
    unique = unique_faces_from_edges(faces, len(vertices), edges)
    if len(faces) and (duplicates := len(faces) - int(unique.sum())):
        faces = faces[unique]
        edges = None  # (rare) worked out again for the faces kept
        repairs.append(
            Text(
                f"{duplicates} triangle(s) en double retiré(s).",
                f"{duplicates} duplicate triangle(s) removed.",
            )
        )
    if len(faces) == 0:
        raise _no_volume("flat")
    mesh = IndexedMesh(vertices, faces, all_used=True).knowing(bodies=bodies, edges=edges)

    extents = mesh.extents
    if float(extents.min()) <= 1e-9 * max(float(extents.max()), 1e-12):
        raise _no_volume("flat")
    isolated = _isolated_face_fraction(mesh)
    details["isolated_face_fraction"] = round(isolated, 4)
    if isolated > 0.5:
        raise _no_volume("soup")

    if not mesh.is_winding_consistent or not mesh.is_watertight:
        mesh, more_repairs = _repaired_with_trimesh(mesh)
        repairs.extend(more_repairs)
    if mesh.is_watertight:
        # per body: one shell of an assembly may be inside out and the others not
        turned = fix_inversion(mesh)
        if turned is not mesh:
            mesh = turned
            repairs.append(
                Text(
                    "Un solide au moins était retourné (intérieur vers l'extérieur) : remis à"
                    " l'endroit.",
                    "At least one solid was inside out: turned the right way.",
                )
            )

    bodies = int(mesh.body_count)
    details["bodies"] = bodies
    details["triangles_in_file"] = n_raw
    if not mesh.is_watertight:
        open_edges = _open_edge_count(mesh)
        details["open_edges"] = open_edges
        warnings.append(
            Text(
                f"Le maillage n'est pas fermé ({open_edges} arête(s) ouverte(s)) : ce n'est pas"
                " un solide étanche, le trancheur devra deviner l'intérieur. Réparez-le si le"
                " résultat est faux (PrusaSlicer : « Réparer le modèle », Meshmixer).",
                f"The mesh is not closed ({open_edges} open edge(s)): it is not a watertight"
                " solid and the slicer will have to guess the inside. Repair it if the result"
                " looks wrong (PrusaSlicer: 'Fix model', Meshmixer).",
            )
        )
    mesh.forget_edge_tables()  # the checks above were the last to need them
    release_freed_memory()  # the merging's temporaries: off the peak of what follows

    size_notes, size_details = size_warnings(mesh.extents, units_known=units is not None)
    warnings.extend(size_notes)
    details.update(size_details)
    return Mesh(
        mesh,
        SourceFacts(
            format=fmt,
            units=units or "none→mm",
            scale_to_mm=scale_to_mm if units else 1.0,
            repairs=tuple(repairs),
            warnings=tuple(warnings),
            details=details,
        ),
    )


MERGE_GRID_MM = 1e-8
"""Vertices closer than this grid (trimesh's own merge precision) are one vertex."""


_HASH_P = np.uint64(0x9E3779B97F4A7C15)  # odd, 64-bit golden ratio


def merge_vertices(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shared vertices of a triangle list: ``(v, 3) float64`` vertices, ``(n, 3) int`` faces.

    STL repeats every corner of every triangle. Corners are snapped to a
    ``MERGE_GRID_MM`` grid, which also joins the ±1e-9 noise CAD exporters leave
    around zero, then merged with one 64-bit hash per vertex and one sort of the
    hashes: several times faster than sorting rows (``np.unique(axis=0)``). A
    hash collision is detected and falls back to the row sort. The grid cells are
    worked out slice by slice (``CHUNK_FACES`` triangles' corners at a time) and
    not kept: on a 1.3-million-triangle mesh they were 200 MiB of the peak.
    """
    corners = triangles.reshape(-1, 3)  # a view: float32 stays float32 until indexed below
    keys = np.empty(len(corners), dtype=np.uint64)
    for lo, hi in _slices(len(corners), 3 * CHUNK_FACES):
        keys[lo:hi] = _cell_hashes(_grid_cells(corners[lo:hi]))
    first, inverse = _first_and_inverse(keys)
    del keys
    # Every corner must have its representative's cell.
    representatives = corners[first]
    cells = _grid_cells(representatives)
    collided = any(
        _cells_differ(corners[lo:hi], representatives, cells, inverse[lo:hi])
        for lo, hi in _slices(len(corners), 3 * CHUNK_FACES)
    )
    if collided:  # a collision: exact but slower
        _, first, inverse = np.unique(
            _grid_cells(corners), axis=0, return_index=True, return_inverse=True
        )
        representatives = corners[first]
    return representatives.astype(np.float64), inverse.reshape(-1, 3).astype(np.int64, copy=False)


def _cells_differ(
    corners: np.ndarray, representatives: np.ndarray, cells: np.ndarray, group: np.ndarray
) -> bool:
    """Whether a corner lies in another grid cell than its group's representative.

    A corner equal to its representative (as an STL repeats a vertex, to the
    bit) is in its cell; only the others' cells are worked out.
    """
    # Axis by axis, from contiguous columns of the (fewer) representatives: a third
    # of the time of comparing gathered rows.
    differs = np.zeros(len(corners), dtype=bool)
    for axis in range(3):
        differs |= corners[:, axis] != np.ascontiguousarray(representatives[:, axis])[group]
    unequal = np.flatnonzero(differs)
    return not np.array_equal(_grid_cells(corners[unequal]), cells[group[unequal]])


def merge_indexed_vertices(
    vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``merge_vertices(vertices[faces])``, the same arrays, without building the corners.

    The hashes are those of the file's vertices (a third or less of the corners);
    a corner's group is its vertex's. As there, the merged vertices come in the
    order of their hashes, each the first corner of its group in triangle order,
    and only the vertices a triangle uses count. A hash collision falls back to
    :func:`merge_vertices` itself.
    """
    corner_vertex = faces.reshape(-1)
    used = np.zeros(len(vertices), dtype=bool)
    used[corner_vertex] = True
    used_vertices = np.flatnonzero(used)
    keys = _cell_hashes(_grid_cells(vertices[used_vertices]))
    _, group_of_used = _first_and_inverse(keys)
    groups = int(group_of_used.max()) + 1 if len(group_of_used) else 0
    # The first corner of each vertex, then of each group of vertices.
    first_corner_of_vertex = np.full(len(vertices), len(corner_vertex), dtype=np.intp)
    np.minimum.at(first_corner_of_vertex, corner_vertex, np.arange(len(corner_vertex)))
    first_corner = np.full(groups, len(corner_vertex), dtype=np.intp)
    np.minimum.at(first_corner, group_of_used, first_corner_of_vertex[used_vertices])
    merged = vertices[corner_vertex[first_corner]]
    # Every vertex used must have its representative's cell.
    if not np.array_equal(_grid_cells(merged)[group_of_used], _grid_cells(vertices[used_vertices])):
        return merge_vertices(vertices[faces])
    group_of_vertex = np.zeros(len(vertices), dtype=np.intp)
    group_of_vertex[used_vertices] = group_of_used
    return (
        merged.astype(np.float64),
        group_of_vertex[corner_vertex].reshape(-1, 3).astype(np.int64),
    )


CHUNK_FACES = 1 << 16
"""Triangles per pass over per-triangle temporaries (a few MiB each, whatever the mesh)."""


def _slices(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)] or [(0, 0)]


def _grid_cells(corners: np.ndarray) -> np.ndarray:
    """``(k, 3) uint64``: the ``MERGE_GRID_MM`` cell of each corner (as bits of int64)."""
    # One float64 temporary, divided and rounded in place (np.rint is what np.round does
    # at 0 decimals). Widened first: a division casting float32 on the fly is slower, and
    # widening is exact, so the quotients are the same.
    snapped = corners.astype(np.float64)
    snapped /= MERGE_GRID_MM
    np.rint(snapped, out=snapped)
    return snapped.astype(np.int64).view(np.uint64)


def _cell_hashes(grid: np.ndarray) -> np.ndarray:
    """One 64-bit hash per cell row."""
    with np.errstate(over="ignore"):
        # Polynomial in the three coordinates, then splitmix64's finaliser. (A plain
        # XOR of the three products collides on every pair (a, b, c), (-a, -b, c)
        # with a and b odd: symmetric parts such as screws fell back to the row sort.)
        keys = (grid[:, 0] * _HASH_P + grid[:, 1]) * _HASH_P + grid[:, 2]
        keys ^= keys >> np.uint64(30)
        keys *= np.uint64(0xBF58476D1CE4E5B9)
        keys ^= keys >> np.uint64(27)
        keys *= np.uint64(0x94D049BB133111EB)
        keys ^= keys >> np.uint64(31)
    return keys


def _repaired_with_trimesh(mesh: IndexedMesh) -> tuple[IndexedMesh, list[Text]]:
    """Consistent winding and small holes filled, by trimesh (imported only when it has work).

    A consistently wound mesh whose holes trimesh would leave as they are
    (3DBenchy's 29 open edges, round nine flat slivers) is kept as it is, without
    the import of trimesh, scipy and networkx (0.7 s, 60 MiB).
    """
    if mesh.is_winding_consistent and not _trimesh_fills_holes(mesh):
        return mesh, []
    import trimesh

    repairs: list[Text] = []
    work = mesh.to_trimesh()
    if not mesh.is_winding_consistent:
        before = work.faces.copy()
        trimesh.repair.fix_winding(work)
        flipped = int((work.faces != before).any(axis=1).sum())
        if flipped:
            repairs.append(
                Text(
                    f"Orientation de {flipped} triangle(s) corrigée (sens des sommets incohérent).",
                    f"Orientation of {flipped} triangle(s) fixed (inconsistent winding).",
                )
            )
    if not work.is_watertight:
        n_before = len(work.faces)
        trimesh.repair.fill_holes(work)
        added = len(work.faces) - n_before
        if added:
            repairs.append(
                Text(
                    f"{added} petit(s) trou(s) bouché(s).",
                    f"{added} small hole(s) filled.",
                )
            )
    return IndexedMesh(np.asarray(work.vertices), np.asarray(work.faces)), repairs


RIM_CHECK_MAX_EDGES = 20_000
"""Above this many open edges the rims go to trimesh without being looked at first."""
_TRIMESH_TOL_ZERO = float(np.finfo(np.float64).resolution * 100)  # trimesh's util.TOL_ZERO


def _trimesh_fills_holes(mesh: IndexedMesh) -> bool:
    """Whether trimesh's ``fill_holes`` could add a face to this mesh.

    It fills the cycles of three or four open edges with triangles, and drops
    those of zero area. When every rim vertex joins exactly two open edges, the
    rims are separate simple cycles (the cycle basis trimesh takes); a rim of
    three or four vertices on one line (3DBenchy's nine) gives only flat
    triangles, whichever diagonal is taken. Anything else (branching rims, too
    many open edges, a real hole): True, trimesh decides.
    """
    single = mesh.edges[2]
    if len(single) > RIM_CHECK_MAX_EDGES:
        return True
    face, side = np.divmod(single, 3)
    start = mesh.faces[face, side]
    end = mesh.faces[face, (side + 1) % 3]
    rim, local = np.unique(np.concatenate([start, end]), return_inverse=True)
    first, second = np.split(local, 2)
    if not (np.bincount(local, minlength=len(rim)) == 2).all():
        return True
    labels = connected_components(len(rim), first, second)
    _, group, size = np.unique(labels, return_inverse=True, return_counts=True)
    for g in np.flatnonzero(size <= 4).tolist():
        corners = mesh.vertices[rim[group == g]]
        # every order of every three corners, computed as trimesh computes a
        # triangle's cross product ((b - a) × (c - b)): trimesh's is one of them
        tri = corners[np.array(list(itertools.permutations(range(len(corners)), 3)))]
        crosses = triangle_crosses(tri)
        if (np.sqrt((crosses**2).sum(axis=1)) > 0.5 * _TRIMESH_TOL_ZERO).any():
            return True
    return False


def _first_and_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)[1:]``, about twice as fast.

    One plain sort of each key's high bits packed with its index (the index in the
    low bits): equal keys come out together, each group in index order, so its
    first corner leads it. Two different keys that share those high bits (rarely:
    some 2^-44 of the pairs on a 3DBenchy) are seen and sorted again whole.
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    shift = np.uint64(max(len(keys) - 1, 1).bit_length())
    packed = keys >> shift
    packed <<= shift
    for lo, hi in _slices(len(keys), 3 * CHUNK_FACES):  # no index array of the keys' size
        packed[lo:hi] |= np.arange(lo, hi, dtype=np.uint64)
    sort_on_two_cores(packed)
    # A run starts where the high bits change; the low bits are then the order, in place
    # (no array of the keys' size more than the sort's own: this is a loader's peak).
    starts_run = np.empty(len(keys), dtype=bool)
    starts_run[:1] = True
    np.greater_equal(packed[1:] ^ packed[:-1], np.uint64(1) << shift, out=starts_run[1:])
    packed &= (np.uint64(1) << shift) - np.uint64(1)
    order = packed.view(np.int64)
    ordered = keys[order]
    collided = ((ordered[1:] != ordered[:-1]) & ~starts_run[1:]).any()
    del ordered
    if collided:
        return _first_and_inverse_sorted(keys)
    group = starts_run.astype(np.intp)  # (a cumsum of booleans into int64 is 5x slower)
    np.cumsum(group, out=group)
    group -= 1
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = group
    return np.compress(starts_run, order), inverse  # (faster than a boolean index here)


def _first_and_inverse_sorted(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_first_and_inverse` with an argsort of the whole keys.

    np.unique needs a stable sort (mergesort) to report first occurrences; an
    unstable sort followed by the smallest index of each run gives the same
    answer.
    """
    order = np.argsort(keys)
    ordered = keys[order]
    starts_run = np.empty(len(keys), dtype=bool)
    starts_run[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_run[1:])
    first = np.minimum.reduceat(order, np.flatnonzero(starts_run))
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = np.cumsum(starts_run) - 1
    return first, inverse


class _Call:
    """``function(*args)`` on a thread of its own, started at once; :meth:`result` joins it."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self._outcome: list[Any] = []

        def run() -> None:
            try:
                self._outcome.append((True, function(*args)))
            except BaseException as error:  # handed to the caller of result()
                self._outcome.append((False, error))

        self._thread = threading.Thread(target=run, name="loader-check", daemon=True)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join()
        ok, value = self._outcome[0]
        if not ok:
            raise value
        return value


OPPOSED_CHUNK_FACES = 1 << 13
"""Triangles per pass of :func:`_opposed_normals` (its temporaries: about 1 MiB)."""


def _opposed_normals(triangles: np.ndarray, stored: np.ndarray) -> int:
    """How many stored facet normals point against the right-hand rule of their vertices.

    ``triangles`` : ``(n, 3, 3) float``; ``stored`` : ``(n, 3) float``. Zero or
    non-finite stored normals (allowed by the format) are not counted.
    """
    count = 0
    # Small slices: this runs beside the vertex merge, on a thread whose allocations
    # come from an arena of their own (its high-water mark adds to the loader's peak).
    for lo, hi in _slices(len(triangles), OPPOSED_CHUNK_FACES):
        tri = triangles[lo:hi]
        winding = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        with np.errstate(invalid="ignore"):
            dots = np.einsum("ij,ij->i", winding, stored[lo:hi])
        count += int((np.isfinite(dots) & (dots < 0)).sum())
    return count


def _isolated_face_fraction(mesh: IndexedMesh) -> float:
    """Share of triangles that share no edge with any other triangle.

    As trimesh's ``face_adjacency`` counts it: a side shared by exactly two
    triangles joins them (degenerate triangles are already gone).
    """
    if len(mesh.faces) == 0:
        return 1.0
    touched = np.zeros(len(mesh.faces), dtype=bool)
    touched[mesh.edges[0].ravel() // 3] = True
    return float(1.0 - touched.mean())


def _open_edge_count(mesh: IndexedMesh) -> int:
    """Edges used by one triangle only (the rims of the holes)."""
    return len(mesh.edges[2])


def _no_volume(why: str):
    if why == "soup":
        return design_error(
            "Ce fichier n'est pas un solide : c'est un nuage de triangles séparés qui ne se"
            " touchent pas (« soupe de triangles ») et n'enferment aucun volume. Exportez le"
            " modèle comme un solide fermé depuis votre logiciel de CAO.",
            "This file is not a solid: it is a cloud of separate triangles that do not touch"
            " ('triangle soup') and enclose no volume. Export the model as a closed solid from"
            " your CAD software.",
        )
    return design_error(
        "Ce maillage est plat : il n'a aucune épaisseur, donc aucun volume à imprimer ou à"
        " fraiser. Donnez-lui une épaisseur (extrusion) dans votre logiciel ; pour une"
        " découpe 2D, envoyez plutôt un SVG ou un DXF.",
        "This mesh is flat: it has no thickness, so no volume to print or mill. Give it a"
        " thickness (extrude) in your software; for 2D cutting, upload an SVG or DXF"
        " instead.",
    )
