"""STL / 3MF / OBJ loading: corpus facts, hand-made meshes, repairs, unit guesses."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import trimesh

from fabserver.designs import Mesh, load_design
from fabserver.designs.loader import detect_format
from fabserver.errors import DesignError
from fabserver.testing import require_module

# name: (format, raw triangles, bbox min, bbox max, watertight, bodies), from SOURCES.md
CORPUS_STL = {
    "20mm-xyz-cube.stl": ("stl-binary", 260, (-47.952, -4.908, -30.981), (-27.952, 15.092, -10.981), True, 1),
    "20mmbox-LF.stl": ("stl-ascii", 12, (0, 0, 0), (20, 20, 20), True, 1),
    "20mmbox-nonstandard.stl": ("stl-ascii", 12, (0, 0, 0), (20, 20, 20), True, 1),
    "1002_tray_bottom.STL": ("stl-ascii", 4520, (0, 0, -355.6), (355.6, 3.175, 0), True, 1),
    "plate_holes.STL": ("stl-binary", 1252, (0, 0, 0), (203.2, 304.8, 12.7), True, 1),
    "idler_riser.STL": ("stl-binary", 1572, (-0.078, 0, 0), (2.578, 2.953, 0.625), True, 1),
    "octagonal_pocket.stl": ("stl-binary", 3262, (0, 0, 0), (0.229, 0.165, 0.016), True, 1),
    "M3x10_screw.stl": ("stl-binary", 15532, (-2.75, -2.75, 0), (2.75, 2.75, 13), True, 1),
    "#3DBenchy - Multi-part - Single - Gunwale - (3DBenchy.com).stl": (
        "stl-binary", 55484, (-29.178, -15.504, 8.816), (30.822, 15.496, 27.350), True, 1,
    ),
    "counter.unitsmm.STL": ("stl-binary", 83750, (-111.490, 5.779, 255.860), (193.310, 310.188, 281.698), True, 6),
    "multibody.stl": ("stl-ascii", 32, (-0.511, -0.719, -0.052), (0.125, 0.370, 0.288), True, 2),
    "teapot.stl": ("stl-binary", 894, (-28.859, -19.654, 0.870), (34.311, 19.654, 30.351), False, None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CORPUS_STL))
def test_corpus_stl_facts(corpus, name):
    fmt, triangles, lo, hi, watertight, bodies = CORPUS_STL[name]
    design = load_design((corpus / "stl" / name).read_bytes(), name)
    assert isinstance(design, Mesh)
    assert design.facts.format == fmt
    assert design.facts.details["triangles_in_file"] == triangles
    np.testing.assert_allclose(design.bounds, [lo, hi], atol=1.5e-3)
    assert design.watertight is watertight
    if bodies is not None:
        assert design.facts.details["bodies"] == bodies
    if watertight:
        assert design.volume_mm3 > 0


@pytest.mark.parametrize("name", ["M3x10_screw.stl", "counter.unitsmm.STL", "teapot.stl"])
def test_binary_stl_matches_trimesh(corpus, name):
    """Our numpy view of the records gives the same geometry as trimesh's own reader."""
    path = corpus / "stl" / name
    ours = load_design(path.read_bytes(), name)
    reference = trimesh.load(path)
    np.testing.assert_allclose(ours.bounds, reference.bounds, atol=1e-6)
    assert ours.trimesh.area == pytest.approx(reference.area, rel=1e-9)
    if reference.is_watertight:
        assert ours.volume_mm3 == pytest.approx(abs(reference.volume), rel=1e-9)


def test_binary_header_starting_with_solid_is_binary(corpus):
    data = (corpus / "stl" / "plate_holes.STL").read_bytes()
    assert data.startswith(b"solid")
    assert detect_format(data) == "stl-binary"


def test_ascii_and_binary_of_the_same_mesh_agree(samples, tmp_path):
    binary = (samples / "design-bracket.stl").read_bytes()
    mesh = trimesh.load(samples / "design-bracket.stl")
    ascii_bytes = trimesh.exchange.stl.export_stl_ascii(mesh).encode()
    a = load_design(ascii_bytes, "bracket-ascii.stl")
    b = load_design(binary, "bracket.stl")
    assert a.facts.format == "stl-ascii" and b.facts.format == "stl-binary"
    np.testing.assert_allclose(a.bounds, b.bounds, atol=1e-5)
    assert a.volume_mm3 == pytest.approx(b.volume_mm3, rel=1e-6)


def test_sample_bracket_volume_by_hand(samples):
    """40×30×5 base + 5×30×15 upright − a 32-sided Ø6 hole through the 5 mm base."""
    design = load_design((samples / "design-bracket.stl").read_bytes())
    hole = 0.5 * 32 * 3.0**2 * np.sin(2 * np.pi / 32) * 5
    assert design.volume_mm3 == pytest.approx(40 * 30 * 5 + 5 * 30 * 15 - hole, rel=1e-6)
    np.testing.assert_allclose(design.bounds, [[0, 0, 0], [40, 30, 20]], atol=1e-6)
    assert design.watertight and not design.warnings


def test_nonstandard_ascii_normals_and_junk(corpus):
    data = (corpus / "stl" / "20mmbox-nonstandard.stl").read_bytes()
    assert b"weirdvalue" in data
    design = load_design(data)
    assert design.volume_mm3 == pytest.approx(8000.0)


def test_multisolid_ascii_each_body_outward(corpus):
    design = load_design((corpus / "stl" / "multibody.stl").read_bytes())
    assert design.facts.details["solids"] == 2
    volumes = [body.volume for body in design.trimesh.split(only_watertight=False)]
    assert len(volumes) == 2 and all(v > 0 for v in volumes)
    assert design.mesh.is_winding_consistent


@pytest.mark.parametrize(
    ("name", "unit", "scale"),
    [("idler_riser.STL", "in", 25.4), ("octagonal_pocket.stl", "m", 1000.0)],
)
def test_unit_guess_warning(corpus, name, unit, scale):
    design = load_design((corpus / "stl" / name).read_bytes())
    assert design.facts.details["unit_guess"] == unit
    assert design.facts.details["unit_guess_scale"] == scale
    (warning,) = [w for w in design.warnings if "tiny" in w.en]
    assert f"×{scale:g}" in warning.en and "minuscule" in warning.fr
    # the numbers themselves stay as in the file: STL has no unit to honour
    assert design.facts.scale_to_mm == 1.0


def test_normal_size_part_has_no_unit_warning(corpus):
    design = load_design((corpus / "stl" / "M3x10_screw.stl").read_bytes())
    assert "unit_guess" not in design.facts.details
    assert not design.warnings


def test_netfabb_header_units_recorded(corpus):
    name = "#3DBenchy - Multi-part - Single - Gunwale - (3DBenchy.com).stl"
    assert load_design((corpus / "stl" / name).read_bytes()).facts.units == "mm"


def test_soup_is_not_a_solid(corpus):
    with pytest.raises(DesignError) as info:
        load_design((corpus / "stl" / "soup.stl").read_bytes(), "soup.stl")
    assert "not a solid" in info.value.message.en
    assert "pas un solide" in info.value.message.fr


def _binary_stl(triangles: np.ndarray, normals: np.ndarray | None = None) -> bytes:
    triangles = np.asarray(triangles, dtype="<f4")
    records = np.zeros(len(triangles), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records["v"] = triangles
    if normals is not None:
        records["n"] = normals
    return b"\0" * 80 + struct.pack("<I", len(triangles)) + records.tobytes()


def test_inside_out_cube_is_turned_and_wrong_normals_reported():
    box = trimesh.creation.box(extents=[10, 20, 30])
    inverted = box.triangles[:, ::-1]  # reversed winding: normals point in
    data = _binary_stl(inverted, normals=box.face_normals)  # stored normals point out
    design = load_design(data)
    assert design.volume_mm3 == pytest.approx(6000.0)
    assert design.mesh.volume > 0
    assert design.facts.details["stored_normals_opposed"] == 12
    repairs = " ".join(r.en for r in design.facts.repairs)
    assert "inside out" in repairs and "12 facet normal" in repairs


def test_inconsistent_winding_and_small_hole_repaired():
    box = trimesh.creation.box(extents=[10, 10, 10])
    triangles = box.triangles.copy()
    triangles[3] = triangles[3][::-1]  # one flipped facet
    data = _binary_stl(triangles[:-1])  # and one missing: a triangular hole
    design = load_design(data)
    assert design.watertight
    assert design.volume_mm3 == pytest.approx(1000.0)
    repairs = " ".join(r.en for r in design.facts.repairs)
    assert "1 small hole" in repairs and "Orientation of 1 triangle" in repairs


def test_small_hole_in_a_consistently_wound_mesh_filled():
    box = trimesh.creation.box(extents=[10, 10, 10])
    design = load_design(_binary_stl(box.triangles[:-1]))
    assert design.watertight and design.volume_mm3 == pytest.approx(1000.0)
    assert "1 small hole" in " ".join(r.en for r in design.facts.repairs)


def test_flat_rim_left_as_trimesh_leaves_it():
    """A T-junction (a corner on the middle of a neighbour's side) opens three edges on
    one line; trimesh's hole filling adds nothing there, and the mesh is kept as read."""
    from fabserver.designs.indexed import IndexedMesh
    from fabserver.designs.stl import _trimesh_fills_holes, merge_vertices

    box = trimesh.creation.box(extents=[10, 10, 10])
    a, b, c = box.triangles[0]
    middle = (a + b) / 2
    triangles = np.concatenate([box.triangles[1:], [[a, middle, c], [middle, b, c]]])
    design = load_design(_binary_stl(triangles))
    assert not design.watertight and design.facts.details["open_edges"] == 3
    assert not any("hole" in r.en for r in design.facts.repairs)
    mesh = IndexedMesh(*merge_vertices(triangles))
    assert not _trimesh_fills_holes(mesh)
    work = mesh.to_trimesh()
    trimesh.repair.fill_holes(work)
    assert len(work.faces) == len(mesh.faces)  # trimesh agrees: nothing to fill
    assert _trimesh_fills_holes(IndexedMesh(*merge_vertices(box.triangles[:-1])))


def test_degenerate_and_duplicate_triangles_dropped():
    box = trimesh.creation.box(extents=[10, 10, 10])
    degenerate = np.array([[[0, 0, 0], [1, 1, 1], [2, 2, 2]]], dtype=float)
    triangles = np.concatenate([box.triangles, box.triangles[:2], degenerate])
    design = load_design(_binary_stl(triangles))
    assert len(design.mesh.faces) == 12 and design.watertight
    assert design.facts.details["triangles_in_file"] == 15


def test_flat_mesh_is_refused():
    square = np.array([[[0, 0, 0], [10, 0, 0], [10, 10, 0]], [[0, 0, 0], [10, 10, 0], [0, 10, 0]]])
    with pytest.raises(DesignError) as info:
        load_design(_binary_stl(square))
    assert "flat" in info.value.message.en and "plat" in info.value.message.fr


def test_3mf_benchy_matches_stl(corpus):
    require_module("lxml", "trimesh reads 3MF through lxml")
    three_mf = load_design((corpus / "stl" / "3DBenchy.3mf").read_bytes(), "3DBenchy.3mf")
    stl = load_design((corpus / "stl" / "3DBenchy.stl").read_bytes(), "3DBenchy.stl")
    assert three_mf.facts.format == "3mf" and three_mf.facts.units == "mm"
    assert three_mf.facts.details["triangles_in_file"] == 225154
    np.testing.assert_allclose(three_mf.bounds, stl.bounds, atol=1e-3)
    np.testing.assert_allclose(three_mf.size, [60.0, 31.0, 48.0], atol=5e-3)


def test_obj_read_through_trimesh():
    box = trimesh.creation.box(extents=[12, 8, 4])
    data = trimesh.exchange.obj.export_obj(box).encode()
    design = load_design(data, "box.obj")
    assert design.facts.format == "obj"
    assert design.volume_mm3 == pytest.approx(12 * 8 * 4)


@pytest.mark.parametrize(("declared", "scale"), [(b"UNITS=MM", 1.0), (b"UNITS=in", 25.4)])
def test_header_units_honoured(declared, scale):
    box = trimesh.creation.box(extents=[1, 2, 3])
    data = bytearray(_binary_stl(box.triangles))
    data[: len(declared) + 6] = b"cad   " + declared
    design = load_design(bytes(data))
    assert design.facts.scale_to_mm == scale
    np.testing.assert_allclose(design.size, np.array([1, 2, 3]) * scale, atol=1e-5)


def test_zero_count_in_header_reads_the_records():
    box = trimesh.creation.box(extents=[4, 5, 6])
    data = bytearray(_binary_stl(box.triangles))
    data[80:84] = bytes(4)  # a streaming exporter that never wrote the count back
    design = load_design(bytes(data))
    assert design.volume_mm3 == pytest.approx(120.0)
    assert any("declared 0 triangles" in r.en for r in design.facts.repairs)


def test_binary_stl_written_by_the_core_reads_back_as_the_same_mesh(samples):
    """The quote page's 3D view is served this file: it must be the mesh that was read."""
    from fabserver.designs import load_design
    from fabserver.designs.stl import binary_stl

    design = load_design((samples / "fdm-bracket.stl").read_bytes(), "fdm-bracket.stl")
    again = load_design(binary_stl(design.triangles), "again.stl")
    np.testing.assert_allclose(again.bounds, design.bounds, atol=1e-4)
    assert again.face_count == design.face_count
    assert again.volume_mm3 == pytest.approx(design.volume_mm3, rel=1e-5) and again.watertight


def test_design_kind_from_the_first_bytes(samples):
    from fabserver.designs.loader import design_kind

    assert design_kind((samples / "fdm-step.stl").read_bytes()) == "mesh"
    assert design_kind((samples / "laser-keyring.svg").read_bytes()) == "drawing"
    assert design_kind((samples / "design-plate-inches.dxf").read_bytes()) == "drawing"
    assert design_kind(b"G28\nG1 X10 Y10 E1 F1200\nG1 X20 Y10 E2\n" * 10) == "gcode"
    assert design_kind(b"\x1f\x8b\x08\x00rest") is None  # compressed: known once unpacked
    with pytest.raises(DesignError):
        design_kind(b"   \n")


@pytest.mark.parametrize("hashes", ["real", "colliding"])
def test_merged_vertices_are_those_of_the_row_sort(monkeypatch, hashes):
    """The hash merge gives np.unique's rows; when hashes collide (forced here: three
    hash values for every cell) the collision is found and the row sort answers."""
    from fabserver.designs import stl

    rng = np.random.default_rng(5)
    points = rng.normal(size=(60, 3)).astype(np.float32)
    triangles = points[rng.integers(0, 60, size=(200, 3))]
    triangles[::7, 0] += np.float32(1e-9)  # within the grid: the same vertex, other bits
    if hashes == "colliding":
        monkeypatch.setattr(stl, "_cell_hashes", lambda cells: cells[:, 0] % np.uint64(3))
    vertices, faces = stl.merge_vertices(triangles)
    corners = triangles.reshape(-1, 3)
    cells = stl._grid_cells(corners)
    assert len(vertices) == len(np.unique(cells, axis=0))  # one vertex per cell
    np.testing.assert_array_equal(stl._grid_cells(vertices)[faces.ravel()], cells)
    first_corner = np.unique(faces.ravel(), return_index=True)[1]
    np.testing.assert_array_equal(vertices, corners[first_corner])  # each cell's first


@pytest.mark.parametrize(
    "keys",
    [
        np.array([9], dtype=np.uint64),
        # keys sharing their high bits (all but the lowest three): sorted again whole
        np.array([5, 4, 5, 7, 4], dtype=np.uint64),
        np.random.default_rng(5)
        .integers(0, 2**63, 300, dtype=np.int64)
        .view(np.uint64)[np.random.default_rng(6).integers(0, 300, 2000)],
    ],
)
def test_first_corners_and_groups_are_np_unique_s(keys):
    from fabserver.designs.stl import _first_and_inverse

    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    ours = _first_and_inverse(keys)
    np.testing.assert_array_equal(ours[0], first)
    np.testing.assert_array_equal(ours[1], inverse)
