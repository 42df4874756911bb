"""The loader's own mesh facts, 3MF reader and graph components agree with trimesh and scipy."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
import trimesh

from fabserver.designs import load_design
from fabserver.designs.indexed import (
    IndexedMesh,
    connected_components,
    edge_pairs,
    fix_inversion,
    nondegenerate,
    nondegenerate_faces,
    sort_on_two_cores,
    sorted_unique,
    unique_faces,
    unique_faces_from_edges,
)
from fabserver.designs.threemf import read_3mf
from fabserver.graphs import connected_components as weak_components
from fabserver.graphs import coo_matrix
from fabserver.testing import require_module

MESHES = ["M3x10_screw.stl", "multibody.stl", "teapot.stl", "counter.unitsmm.STL"]


def _two_bodies_one_inside_out() -> trimesh.Trimesh:
    outward = trimesh.creation.box((10, 10, 10))
    inverted = trimesh.creation.icosphere(subdivisions=2, radius=3)
    inverted.apply_translation((20, 0, 0))
    inverted.invert()
    return trimesh.util.concatenate([outward, inverted])


@pytest.mark.parametrize("name", MESHES)
def test_facts_match_trimesh(corpus, name):
    reference = trimesh.load(corpus / "stl" / name, process=True, force="mesh")
    ours = IndexedMesh(reference.vertices, reference.faces)
    assert ours.is_watertight == reference.is_watertight
    assert ours.is_winding_consistent == reference.is_winding_consistent
    assert ours.body_count == reference.body_count
    assert ours.volume == pytest.approx(reference.volume, rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(ours.bounds, reference.bounds)


def test_open_and_badly_wound_meshes_are_seen():
    box = trimesh.creation.box((1, 1, 1))
    opened = IndexedMesh(box.vertices, box.faces[1:])
    assert not opened.is_watertight
    flipped = box.faces.copy()
    flipped[0] = flipped[0][::-1]
    badly_wound = IndexedMesh(box.vertices, flipped)
    assert badly_wound.is_watertight and not badly_wound.is_winding_consistent


def test_inside_out_body_turned_like_trimesh():
    mesh = _two_bodies_one_inside_out()
    ours = fix_inversion(IndexedMesh(mesh.vertices, mesh.faces))
    reference = mesh.copy()
    trimesh.repair.fix_inversion(reference, multibody=True)
    np.testing.assert_array_equal(ours.faces, reference.faces)
    assert ours.volume > 0
    # the edge table carried over from before the flip is the one the flipped faces give
    carried = ours.edges
    fresh = edge_pairs(ours.faces, len(ours.vertices))
    assert {tuple(p) for p in np.sort(carried[0], axis=1)} == {
        tuple(p) for p in np.sort(fresh[0], axis=1)
    }
    assert ours.is_winding_consistent and ours.is_watertight
    already_right = IndexedMesh(reference.vertices, reference.faces)
    assert fix_inversion(already_right) is already_right


def test_degenerate_and_duplicate_faces_like_trimesh():
    box = trimesh.creation.box((2, 2, 2))
    vertices = np.vstack([box.vertices, [[0, 0, 0], [1e-10, 0, 0], [5, 5, 5]]])
    n = len(box.vertices)
    faces = np.vstack([box.faces, box.faces[[3]][:, [1, 2, 0]], [[n, n + 1, n + 2], [0, 0, 1]]])
    reference = trimesh.Trimesh(vertices, faces, process=False, validate=False)
    kept = nondegenerate(vertices[faces])
    np.testing.assert_array_equal(kept, reference.nondegenerate_faces())
    np.testing.assert_array_equal(nondegenerate_faces(vertices, faces), kept)
    assert not kept[-1] and not kept[-2]
    np.testing.assert_array_equal(unique_faces(faces, len(vertices)), reference.unique_faces())


@pytest.mark.parametrize(
    "repeated",
    [
        [],  # none: the common case
        [3],  # one face again, corners turned
        [3, 7],  # two faces again
        [3, 3],  # one face three times: an edge of three sides, the sort decides
    ],
)
@pytest.mark.parametrize("opened", [False, True])
def test_repeated_faces_told_from_the_edges_as_by_the_sort(repeated, opened):
    box = trimesh.creation.box((2, 2, 2))
    faces = box.faces[1:] if opened else box.faces
    again = faces[repeated][:, [1, 2, 0]]
    again[::2] = again[::2, ::-1]  # every other copy reversed: the same face
    faces = np.vstack([faces[:5], again, faces[5:]])
    edges = edge_pairs(faces, len(box.vertices))
    expected = unique_faces(faces, len(box.vertices))
    np.testing.assert_array_equal(
        unique_faces_from_edges(faces, len(box.vertices), edges), expected
    )
    assert int((~expected).sum()) == len(repeated)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_sort_on_two_cores_is_numpys_sort(dtype):
    rng = np.random.default_rng(3)
    for n in (0, 5, 1 << 17, (1 << 18) + 3):  # below and above the split
        values = rng.integers(0, 1000 if n > 5 else 3, n).astype(dtype)  # many repeats
        expected = np.sort(values)
        sort_on_two_cores(values)
        np.testing.assert_array_equal(values, expected)


def test_edge_pairs_directions_as_the_sides_run():
    # Random faces over few vertices: edges of two sides either way, of more sides, and
    # sides from a vertex to itself (faces with a repeated corner).
    rng = np.random.default_rng(11)
    faces = np.vstack([rng.integers(0, 40, size=(400, 3)), [[50, 50, 51], [50, 50, 52]]])
    pairs, opposed, single, n_sides = edge_pairs(faces, 53)
    start, end = faces.ravel(), faces[:, [1, 2, 0]].ravel()
    assert np.array_equal(opposed, start[pairs[:, 0]] == end[pairs[:, 1]])
    assert (~opposed).any() and opposed.any()
    assert (start[pairs[:, 0]] == end[pairs[:, 0]]).any()  # a side to itself is paired
    keys = [tuple(sorted(k)) for k in zip(start, end, strict=True)]
    for a, b in pairs:
        assert keys[a] == keys[b] and keys.count(keys[a]) == 2
    assert all(keys.count(keys[i]) == 1 for i in single)
    assert n_sides == faces.size


def test_components_match_scipy():
    sparse = require_module("scipy.sparse", "scipy is the reference for components")
    csgraph = require_module("scipy.sparse.csgraph", "scipy is the reference for components")
    rng = np.random.default_rng(7)
    for n in (0, 1, 10, 500, 5000):
        edges = rng.integers(0, max(n, 1), size=(n // 2, 2)) if n else np.zeros((0, 2), int)
        ones = np.ones(len(edges))
        count, labels = weak_components(
            coo_matrix((ones, (edges[:, 0], edges[:, 1])), shape=(n, n)), directed=True
        )
        graph = sparse.coo_matrix((ones, (edges[:, 0], edges[:, 1])), shape=(n, n))
        ref_count, ref_labels = csgraph.connected_components(graph, connection="weak")
        assert count == ref_count
        np.testing.assert_array_equal(labels, ref_labels)
    # one long chain visited in scrambled order still ends in one component
    order = rng.permutation(10_000)
    roots = connected_components(10_000, order[:-1], order[1:])
    assert (roots == 0).all()


def test_3mf_benchy_matches_trimesh_reader(corpus):
    require_module("lxml", "trimesh's 3MF reader, the reference, needs lxml")
    data = (corpus / "stl" / "3DBenchy.3mf").read_bytes()
    model = read_3mf(data)
    scene = trimesh.load(io.BytesIO(data), file_type="3mf", process=False, force="scene")
    np.testing.assert_array_equal(
        model.triangles, np.concatenate([g.triangles for g in scene.dump()])
    )
    assert model.unit == "millimeter"


def _model_3mf(model: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("3D/3dmodel.model", model)
    return buffer.getvalue()


TETRA = """<vertices>{vertices}</vertices><triangles>{triangles}</triangles>"""


def _tetra(quote: str = '"') -> str:
    q = quote
    points = [(0, 0, 0), (10, 0, 0), (0, 10, 0), (0, 0, 10)]
    vertices = "".join(f"<vertex x={q}{x}{q} y={q}{y}{q} z={q}{z}{q}/>" for x, y, z in points)
    corners = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    triangles = "".join(
        f"<triangle v1={q}{a}{q} v2={q}{b}{q} v3={q}{c}{q}/>" for a, b, c in corners
    )
    return TETRA.format(vertices=vertices, triangles=triangles)


@pytest.mark.parametrize("quote", ['"', "'"])
def test_3mf_components_transforms_and_units(quote):
    model = f"""<?xml version="1.0"?>
<model unit="centimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">
 <resources>
  <object id="1" type="model"><mesh>{_tetra(quote)}</mesh></object>
  <object id="2" type="model"><components>
   <component objectid="1" transform="1 0 0 0 1 0 0 0 1 100 0 0"/>
  </components></object>
 </resources>
 <build><item objectid="1"/><item objectid="2" transform="1 0 0 0 1 0 0 0 1 0 50 0"/></build>
</model>"""
    read = read_3mf(_model_3mf(model))
    assert read.unit == "centimeter" and read.objects == 2
    assert read.triangles.shape == (8, 3, 3)
    np.testing.assert_allclose(read.triangles[4:] - read.triangles[:4], [[[100, 50, 0]] * 3] * 4)
    design = load_design(_model_3mf(model), "parts.3mf")
    assert design.facts.units == "cm" and design.facts.scale_to_mm == 10.0
    np.testing.assert_allclose(design.bounds, [[0, 0, 0], [1100, 600, 100]])


def test_3mf_pointing_at_a_missing_vertex_is_refused():
    model = f"""<model xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">
 <resources><object id="1"><mesh>{_tetra().replace('v3="3"', 'v3="9"')}</mesh></object></resources>
 <build><item objectid="1"/></build></model>"""
    with pytest.raises(Exception, match="3MF"):
        load_design(_model_3mf(model), "bad.3mf")


def _heavy_imports_of_a_plan(sample) -> tuple[list[str], int]:
    """The heavy libraries a plan of ``sample`` imports, and its gap-fill moves."""
    script = f"""
import sys
from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.registry import load_registry
profiles = load_profiles()
design = load_design(open({str(sample)!r}, "rb").read(), "part.stl")
plugin = load_registry(only="fdm").get("fdm")
result = run_plan(plugin, design, profiles.machine("printer-1"), profiles.material("pla-1.75"),
                  {{}}, profiles.policy)
gap_fill = int(result.plan.toolpath.role_mask("gap_fill").sum())
print(sorted(m for m in ("scipy", "networkx", "lxml", "trimesh") if m in sys.modules), gap_fill)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    modules, gap_fill = done.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    return ast.literal_eval(modules), int(gap_fill)


def test_planning_an_stl_print_imports_no_heavy_library(samples):
    assert _heavy_imports_of_a_plan(samples / "web-block.stl")[0] == []


def test_gap_fill_imports_no_heavy_library_either(samples):
    """The bracket's thin walls get gap fill, whose medial axis comes from GEOS's
    triangulation: a print brings none of scipy, networkx, lxml or trimesh."""
    modules, gap_fill = _heavy_imports_of_a_plan(samples / "fdm-bracket.stl")
    assert gap_fill > 0 and modules == []


def test_indexed_merge_is_the_merge_of_the_corners():
    """A 3MF's shared vertices merge to exactly what its triangles' corners would:
    same vertices (first corner of each group, in hash order), same faces, unused
    vertices left out, points within the merge grid joined, -0.0 kept as read."""
    from fabserver.designs.stl import merge_indexed_vertices, merge_vertices

    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 60))
        vertices = rng.integers(-3, 3, size=(n, 3)) * rng.choice([1.0, 0.5, 1e-9, 3e-9])
        if trial % 3 == 0:  # exporter noise around the grid
            vertices = vertices + rng.normal(0, 1e-9, size=vertices.shape)
        vertices[int(rng.integers(0, n))] = -0.0
        faces = rng.integers(0, n, size=(int(rng.integers(1, 40)), 3))
        by_corners = merge_vertices(vertices[faces])
        by_vertices = merge_indexed_vertices(vertices, faces)
        for expected, got in zip(by_corners, by_vertices, strict=True):
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == expected.dtype
        np.testing.assert_array_equal(np.signbit(by_vertices[0]), np.signbit(by_corners[0]))


def _vertex_block(rows: list[str]) -> bytes:
    vertices = "".join(f"<vertex {row}/>" for row in rows)
    triangles = '<triangle v1="0" v2="1" v3="2"/>'
    return f"<vertices>{vertices}</vertices><triangles>{triangles}</triangles>".encode()


@pytest.mark.parametrize(
    "rows",
    [
        ['x="0" y="-0" z="1.5"', 'x="1e-3" y="-2.25E2" z=" 3 "', 'x="4" y="5" z="6"'],
        ['z="1" y="2" x="3"', 'z="4" y="5" x="6"', 'z="7" y="8" x="9"'],  # another order
        ['x="1" y="2" z="3" p="9"', 'x="4" y="5" z="6" p="9"', 'x="7" y="8" z="9" p="9"'],
        ["x='1' y='2' z='3'", "x='4' y='5' z='6'", "x='7' y='8' z='9'"],
        ['m:x="1" y="2" z="3"', 'x="4" y="5" z="6"', 'x="7" y="8" z="9"'],
    ],
)
def test_3mf_values_read_in_bulk_as_element_by_element(rows):
    """The bulk reading of the quoted values gives what ElementTree reads, or steps
    aside for it (attributes in another order, more of them, other quotes)."""
    from fabserver.designs.threemf import _mesh_arrays, _mesh_arrays_by_element

    block = _vertex_block(rows)
    if b"m:x" in block:  # not "x": left to ElementTree, which finds the prefix unbound
        with pytest.raises(ElementTree.ParseError):
            _mesh_arrays(block, 0, len(block))
        return
    vertices, faces = _mesh_arrays(block, 0, len(block))
    expected_vertices, expected_faces = _mesh_arrays_by_element(block)
    np.testing.assert_array_equal(vertices, expected_vertices)
    np.testing.assert_array_equal(np.signbit(vertices), np.signbit(expected_vertices))
    np.testing.assert_array_equal(faces, expected_faces)


def test_3mf_plain_decimals_read_as_float_reads_them():
    """The hand-written decimal reading gives, bit for bit, the doubles Python's float()
    gives, or steps aside (exponents, too many digits, stray signs) for numpy's parser."""
    from fabserver.designs.threemf import _quoted_numbers

    rng = np.random.default_rng(3)
    values = ["0", "-0", "-0.000", "007.50", ".5", "-.5", "5.", "+3.25", "123456789012345"]
    for _ in range(3000):
        whole = str(int(rng.integers(0, 10 ** int(rng.integers(1, 8)))))
        fraction = "".join(rng.choice(list("0123456789"), size=int(rng.integers(0, 8))))
        sign = str(rng.choice(["", "-", "+"]))
        values.append(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}")
    values += values[:2] * 2  # a whole number of vertices
    values = values[: len(values) // 3 * 3]
    text = "".join(
        f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in zip(*[iter(values)] * 3, strict=True)
    ).encode()
    read = _quoted_numbers(b"<vertices>" + text, (b"x", b"y", b"z"), np.float64)
    expected = np.array([float(v) for v in values])
    np.testing.assert_array_equal(read, expected)
    np.testing.assert_array_equal(np.signbit(read), np.signbit(expected))
    for unusual in ("1e-3", "1234567890.1234567", "1-2", "--1", "1.2.3", " 4", "nan"):
        odd = f'<vertex x="{unusual}" y="1" z="2"/>'.encode()
        got = _quoted_numbers(b"<vertices>" + odd, (b"x", b"y", b"z"), np.float64)
        if got is not None:  # numpy's parser read it: as float() does
            np.testing.assert_array_equal(got, [float(unusual), 1.0, 2.0])


def test_3mf_read_in_slices_as_in_one(monkeypatch):
    """Slices of the markup end with an element: any slice size reads the same mesh."""
    from fabserver.designs import threemf

    model = f"""<model xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">
 <resources><object id="1"><mesh>
  {_tetra()}
  </mesh></object></resources>
 <build><item objectid="1"/></build></model>"""
    whole = threemf.read_3mf(_model_3mf(model))
    monkeypatch.setattr(
        threemf, "_mesh_arrays_by_element", lambda block: pytest.fail("read element by element")
    )
    for size in (1, 7, 40, 100):
        monkeypatch.setattr(threemf, "CHUNK_BYTES", size)
        sliced = threemf.read_3mf(_model_3mf(model))
        np.testing.assert_array_equal(sliced.vertices, whole.vertices)
        np.testing.assert_array_equal(sliced.faces, whole.faces)
    assert whole.faces.shape == (4, 3) and whole.vertices.shape == (4, 3)


def test_sorted_unique_gives_np_unique_s_values():
    """The same values as ``np.unique`` (sorted, once each, flattened), dtype included."""
    rng = np.random.default_rng(3)
    cases = [
        rng.integers(0, 50, 400),
        rng.integers(-5, 5, (20, 3)),
        rng.random(30).round(1),
        np.zeros(0, dtype=np.int64),
        np.array([7]),
    ]
    for values in cases:
        got, expected = sorted_unique(values), np.unique(values)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
