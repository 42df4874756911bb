"""The slicer, regions and infill against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import trimesh
from fabserver_fdm import regions as region_rules
from fabserver_fdm import slicer
from fabserver_fdm.flow import Flow
from fabserver_fdm.infill import hatch
from fabserver_fdm.layers import layer_flows
from fabserver_fdm.regions import build_regions
from fabserver_fdm.settings import OPTIONS, PrintSettings
from fabserver_fdm.slicer import (
    _corner_layers,
    _crossed_edge_ids,
    _edge_faces,
    _face_layers,
    _segments,
    layer_tops,
    slice_mesh,
)

from fabserver.designs import load_design
from fabserver.designs.indexed import vertex_axes


def _slice(mesh: trimesh.Trimesh, first=0.2, layer=0.2):
    mesh = mesh.copy()
    mesh.apply_translation([0, 0, -mesh.bounds[0, 2]])
    tops = layer_tops(float(mesh.bounds[1, 2]), first, layer)
    return mesh, slice_mesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), tops)


def _trimesh_area(mesh: trimesh.Trimesh, z: float) -> float:
    """Cross-section area from trimesh's own (independent) plane section."""
    section = mesh.section(plane_origin=[0, 0, z], plane_normal=[0, 0, 1])
    if section is None:
        return 0.0
    planar, _ = section.to_2D(to_2D=np.eye(4))
    return float(sum(p.area for p in planar.polygons_full))


def test_layer_tops_first_then_regular():
    tops = layer_tops(1.0, 0.3, 0.2)
    np.testing.assert_allclose(tops, [0.3, 0.5, 0.7, 0.9, 1.1])


def test_box_with_a_hole_gives_a_polygon_with_a_hole():
    outer = trimesh.creation.box([20, 20, 4])
    hole = trimesh.creation.cylinder(radius=4, height=6, sections=64)
    ring = trimesh.boolean.difference([outer, hole], engine="manifold")
    _, res = _slice(ring)
    assert res.open_chains == 0
    geom = res.polygons[5]
    assert geom.geom_type == "Polygon"
    assert len(geom.interiors) == 1
    expected = 400 - np.pi * 16 * np.cos(np.pi / 64) * np.sin(np.pi / 64) * 64 / np.pi
    assert geom.area == pytest.approx(expected, rel=1e-3)


def test_every_layer_of_a_sphere_matches_the_analytic_circle():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=10)
    _mesh, res = _slice(sphere)
    mid = res.top_z - res.height / 2
    r2 = 100 - (mid - 10) ** 2
    areas = shapely.area(res.polygons)
    inside = r2 > 4  # away from the poles, where facets are coarse
    np.testing.assert_allclose(areas[inside], np.pi * r2[inside], rtol=0.01)


@pytest.mark.parametrize("name", ["3DBenchy.stl", "M3x10_screw.stl", "teapot.stl"])
def test_layers_match_trimesh_sections(corpus, name):
    mesh, res = _slice(trimesh.load(corpus / "stl" / name))
    mid = res.top_z - res.height / 2
    for k in np.linspace(2, len(mid) - 3, 6).astype(int):
        reference = _trimesh_area(mesh, mid[k])
        if name == "teapot.stl":
            # Open shells: trimesh drops open outlines, we close small gaps; compare loosely.
            assert shapely.area(res.polygons[k]) >= 0.5 * reference
        else:
            assert shapely.area(res.polygons[k]) == pytest.approx(reference, rel=0.01, abs=0.05)


@pytest.mark.parametrize("name", ["M3x10_screw.stl", "multibody.stl", "teapot.stl"])
def test_slicing_in_bands_of_layers_gives_the_layers_of_one_pass(corpus, monkeypatch, name):
    # Closed, several bodies, open shells (open chains): bands of a few crossings (a
    # layer or two each) against one band of every layer.
    mesh = load_design((corpus / "stl" / name).read_bytes(), name).mesh
    vertices = mesh.vertices - [0, 0, mesh.bounds[0, 2]]
    tops = layer_tops(float(vertices[:, 2].max()), 0.2, 0.2)
    faces = mesh.faces
    monkeypatch.setattr(slicer, "BAND_SEGMENTS", 10**9)
    whole = slice_mesh(vertices, faces, tops)
    monkeypatch.setattr(slicer, "BAND_SEGMENTS", 8)
    corner_between = slicer._corner_layers(vertices, faces, tops - 0.1)
    bands = slicer._bands(*slicer._face_layers(corner_between), len(tops))
    assert len(bands) >= min(len(tops), 10)
    banded = slice_mesh(vertices, faces, tops)
    assert banded.open_chains == whole.open_chains
    assert shapely.equals_identical(banded.polygons, whole.polygons).all()
    assert shapely.area(whole.polygons).sum() > 0


@pytest.mark.parametrize(
    "tops",
    [
        layer_tops(48, 0.3, 0.2),  # a thicker first layer
        layer_tops(5, 0.12, 0.28),
        np.array([0.2]),  # one layer
        np.cumsum(np.random.default_rng(2).random(50) + 0.01),  # uneven: the search decides
    ],
)
def test_planes_below_each_height_as_a_binary_search(tops):
    slice_z = tops - np.diff(np.concatenate([[0.0], tops])) / 2
    rng = np.random.default_rng(1)
    z = np.concatenate(
        [
            rng.random(20_000) * (tops[-1] + 2) - 1,  # below, between and above the planes
            slice_z,  # on a plane, and a hair either side of it
            np.nextafter(slice_z, -np.inf),
            np.nextafter(slice_z, np.inf),
        ]
    )
    np.testing.assert_array_equal(
        slicer._planes_below(slice_z, z), np.searchsorted(slice_z, z, side="left")
    )


def test_a_loop_narrower_than_the_resolution_is_sliced_as_it_is(corpus):
    # multibody.stl as trimesh merges it: 1 mm across, with loops of 3e-5 mm² a few
    # micrometres wide that simplify to lines (GEOS's answer for a ring too thin).
    mesh = trimesh.load(corpus / "stl" / "multibody.stl", process=True, force="mesh")
    vertices = np.asarray(mesh.vertices) - [0, 0, mesh.bounds[0, 2]]
    tops = layer_tops(float(vertices[:, 2].max()), 0.2, 0.2)
    result = slice_mesh(vertices, np.asarray(mesh.faces), tops)
    assert shapely.is_valid(result.polygons).all()
    assert shapely.area(result.polygons[0]) > 0


def _successors_by_search(layer, start_edge, end_edge):
    """Each segment's successor as a plain search: the first segment of its layer starting
    on the edge it ends on."""
    successor = np.full(len(layer), -1)
    for i in range(len(layer)):
        hits = np.flatnonzero((layer == layer[i]) & (start_edge == end_edge[i]))
        if hits.size:
            successor[i] = hits[0]
    return successor


@pytest.mark.parametrize("shape", ["closed", "open", "shared_edge"])
def test_segment_successors_match_a_plain_search(shape):
    # Closed: every edge has two faces (found by index arithmetic); open: a missing
    # side leaves edges of one face; two boxes along one edge: an edge of four faces.
    box = trimesh.creation.box([10, 10, 3])
    if shape == "open":
        box = trimesh.Trimesh(box.vertices, box.faces[box.face_normals[:, 0] < 0.5], process=False)
    elif shape == "shared_edge":
        other = box.copy()
        other.apply_translation([10, 10, 0])
        box = trimesh.util.concatenate([box, other])
        box.merge_vertices()
    box.apply_translation([0, 0, -box.bounds[0, 2]])
    tops = layer_tops(float(box.bounds[1, 2]), 0.2, 0.2)
    slice_z = tops - 0.1
    vertices, faces = np.asarray(box.vertices), np.asarray(box.faces)
    corner_between = _corner_layers(vertices, faces, slice_z)
    edges = _crossed_edge_ids(vertices, faces, corner_between)
    lo, hi = _face_layers(corner_between)
    every_layer = (lo, hi, (0, len(slice_z)), _edge_faces(edges), corner_between)
    layer, _, _, start_edge, end_edge, successor, _ = _segments(
        vertex_axes(vertices), faces, edges, slice_z, every_layer
    )
    assert len(layer) > 0
    np.testing.assert_array_equal(successor, _successors_by_search(layer, start_edge, end_edge))


def test_flow_matches_prusaslicer_formulas():
    f = Flow(0.45, 0.2)
    assert f.area == pytest.approx((0.45 - 0.2) * 0.2 + np.pi * 0.01)
    assert f.spacing == pytest.approx(0.45 - 0.2 * (1 - np.pi / 4))
    bridge = Flow(0.4, 0.2, bridge=True)
    assert bridge.area == pytest.approx(np.pi * 0.04)


def test_hatch_covers_the_region_at_its_spacing():
    square = shapely.box(0, 0, 10, 10)
    lines = hatch(np.array([square]), np.array([0.5]), np.array([0.0]))[0]
    # 10 mm / 0.5 mm: lines at y = 0.5 … 9.5 (and the edges), each 10 mm long.
    parts = shapely.get_parts(lines)
    ys = sorted({round(p.coords[0][1], 6) for p in parts})
    assert np.allclose(np.diff(ys), 0.5)
    assert lines.length == pytest.approx(10 * len(parts))


def test_hatch_matches_a_geos_overlay_on_regions_with_holes():
    """Scanline clipping against shapely's intersection of the full lines with the region."""
    rng = np.random.default_rng(7)
    regions, spacing, angle = [], [], []
    for _ in range(12):
        blob = shapely.union_all(
            [shapely.Point(rng.uniform(-8, 8, 2)).buffer(rng.uniform(2, 6)) for _ in range(4)]
        )
        hole = shapely.Point(rng.uniform(-3, 3, 2)).buffer(rng.uniform(0.5, 2))
        regions.append(shapely.difference(blob, hole))
        spacing.append(rng.uniform(0.4, 3.0))
        angle.append(rng.uniform(0, 180))
    regions, spacing, angle = np.array(regions), np.array(spacing), np.array(angle)
    clipped = hatch(regions, spacing, angle)
    for region, sp, a, lines in zip(regions, spacing, angle, clipped, strict=True):
        u = np.array([np.cos(np.radians(a)), np.sin(np.radians(a))])
        v = np.array([-u[1], u[0]])
        k = np.arange(-30 / sp, 30 / sp).round()
        full = shapely.multilinestrings([[k_ * sp * v - 40 * u, k_ * sp * v + 40 * u] for k_ in k])
        reference = shapely.intersection(full, region)
        assert lines.length == pytest.approx(reference.length, rel=1e-9)
        assert shapely.hausdorff_distance(lines, reference) < 1e-6
        # Every piece lies on the region, at a multiple of the spacing across the lines.
        across = shapely.get_coordinates(lines) @ v / sp
        assert np.allclose(across, np.round(across), atol=1e-9)


def _regions(mesh, **opts):
    from fabserver.profiles import load_profiles

    profiles = load_profiles()
    values = {o.name: o.default for o in OPTIONS} | opts
    s = PrintSettings.resolve(profiles.machine("printer-1"), profiles.material("pla-1.75"), values)
    mesh, res = _slice(mesh)
    regions = build_regions(
        res.polygons,
        layer_flows(s, 0.2, True),
        layer_flows(s, 0.2, False),
        s.perimeters,
        s.top_solid_layers,
        s.bottom_solid_layers,
        s.printer.infill_overlap,
    )
    return res, regions


def test_step_gets_solid_top_layers_on_the_step(samples):
    """Two stacked boxes: the lower box's top, around the upper one, is solid for 4 layers."""
    mesh = trimesh.load(samples / "fdm-step.stl")
    res, regions = _regions(mesh)
    z = res.top_z
    solid = shapely.area(regions.solid) + shapely.area(regions.top) + shapely.area(regions.bridge)
    infill = shapely.area(regions.infill_area)
    step = np.flatnonzero(np.isclose(z, 10.0))[0]  # last layer of the lower box
    ring = shapely.difference(shapely.box(-15, -15, 15, 15), shapely.box(-6, -6, 6, 6))
    centre = shapely.box(-5.5, -5.5, 5.5, 5.5)
    # The 4 layers up to the step are solid on the ring around the upper box, and
    # stay sparse under it (the upper box covers them).
    for k in range(step - 3, step + 1):
        solid_k = shapely.union_all([regions.solid[k], regions.top[k], regions.bridge[k]])
        ring_infill = shapely.intersection(regions.infill_area[k], ring).area
        assert shapely.intersection(solid_k, ring).area == pytest.approx(ring_infill, rel=0.02)
        assert shapely.intersection(solid_k, centre).area < 1.0
        assert shapely.intersection(regions.sparse[k], centre).area > 0.9 * centre.area
    # Below them, only sparse infill inside the lower box.
    middle = np.flatnonzero(np.isclose(z, 5.0))[0]
    assert solid[middle] < 0.01 * infill[middle]
    assert shapely.area(regions.sparse[middle]) > 0.9 * infill[middle]
    # The exposed ring is a top surface, the part under the upper box is not.
    assert shapely.area(shapely.intersection(regions.top[step], ring)) > 0.8 * shapely.area(
        shapely.intersection(regions.infill_area[step], ring)
    )
    assert shapely.area(shapely.intersection(regions.top[step], shapely.box(-5, -5, 5, 5))) < 1.0
    # In the upper box, right above the step: sparse again after the bottom layers.
    upper_mid = np.flatnonzero(np.isclose(z, 15.0))[0]
    assert shapely.area(regions.sparse[upper_mid]) > 0.5 * infill[upper_mid]


def _plain_skins(infill_area, slices, count, direction):
    """Each layer's infill area less the intersection of its ``count`` neighbours, one
    layer at a time: what :func:`regions._uncovered` must give."""
    n = len(slices)
    out = []
    for k in range(n):
        common = None
        for j in range(1, count + 1):
            m = k + j * direction
            layer = slices[m] if 0 <= m < n else shapely.Polygon()
            common = layer if common is None else shapely.intersection(common, layer)
        out.append(shapely.difference(infill_area[k], common))
    return np.array(out, dtype=object)


@pytest.mark.parametrize("name", ["fdm-step.stl", "fdm-bridge.stl", "3DBenchy.stl"])
def test_solid_skins_are_the_infill_less_what_every_neighbour_covers(samples, request, name):
    # The skins are intersected only on layers some neighbour leaves uncovered: the
    # others must have none, and those layers the same skin as the plain formula.
    if name.startswith("fdm-"):
        path = samples / name
    else:
        path = request.getfixturevalue("corpus") / "stl" / name
    res, regions = _regions(trimesh.load(path))
    windows = {}
    for count, direction in ((4, 1), (3, -1)):
        skins = region_rules._uncovered(
            regions.infill_area, res.polygons, count, direction, windows
        )
        plain = _plain_skins(regions.infill_area, res.polygons, count, direction)
        assert (~shapely.is_empty(skins)).sum() > 0
        np.testing.assert_array_equal(shapely.is_empty(skins), shapely.is_empty(plain))
        # (The plain formula intersects in another order: the same skins to rounding.)
        apart = shapely.area(shapely.symmetric_difference(skins, plain))
        assert apart.max() < 1e-6, f"layer {apart.argmax()}: {apart.max()} mm² apart"


def test_overhanging_shelf_gets_a_bridge_and_solid_bottom(samples):
    mesh = trimesh.load(samples / "fdm-bracket.stl")
    res, regions = _regions(mesh)
    shelf_bottom = np.flatnonzero(np.isclose(res.top_z, 13.2))[0]
    # The shelf overhangs x in [-8, 4]: its first layer bridges over air.
    assert shapely.area(regions.bridge[shelf_bottom]) > 50.0


def test_thin_fin_is_measured_as_thin_wall(samples):
    mesh = trimesh.load(samples / "fdm-bracket.stl")
    res, regions = _regions(mesh)
    fin_layer = np.flatnonzero(np.isclose(res.top_z, 5.0))[0]
    # 0.3 mm × 8 mm fin, narrower than one 0.45 mm external perimeter.
    assert regions.thin_area[fin_layer] == pytest.approx(0.3 * 8, rel=0.2)


def test_gyroid_keeps_its_density_at_every_height():
    """About the line length per area of straight lines at that spacing (the plastic of the
    asked density, as PrusaSlicer's gyroid) through a whole period, inside the region."""
    from fabserver_fdm.infill import GYROID_DENSITY_ADJUST, gyroid

    n = 24
    square = shapely.box(0, 0, 20, 20)
    spacing = 2.0
    period = 2 * np.pi * spacing / GYROID_DENSITY_ADJUST  # 2π gyroid units
    z = np.linspace(0, period, n)
    lines = gyroid(np.array([square] * n), np.full(n, spacing), z, 45.0)
    lengths = shapely.length(lines)
    straight = square.area / spacing  # parallel lines at that spacing
    assert lengths.min() > 0.85 * straight
    assert lengths.max() < 1.15 * straight
    assert 0.9 * straight < lengths.mean() < 1.0 * straight
    assert shapely.covered_by(lines, shapely.buffer(square, 1e-6)).all()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_parallel_geometry_works_after_fork():
    """A queue worker forked after the plugin was used still gets a working thread pool."""
    import os

    from fabserver_fdm.geos import buffer

    squares = np.array([shapely.box(0, 0, 1, 1)] * 100)
    expected = shapely.area(shapely.buffer(squares, 0.1))
    np.testing.assert_allclose(shapely.area(buffer(squares, 0.1)), expected)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether the parallel result is right
        ok = np.allclose(shapely.area(buffer(squares, 0.1)), expected)
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1" and status == 0
