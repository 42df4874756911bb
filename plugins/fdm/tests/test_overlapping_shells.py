"""Meshes with several shells that overlap or repeat are printed as their union."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import shapely
import trimesh
from fabserver_fdm import FdmPlugin
from fabserver_fdm.slicer import layer_tops, slice_mesh

from fabserver.designs import load_design
from fabserver.planning import run_plan


def _stl(mesh: trimesh.Trimesh) -> bytes:
    buf = io.BytesIO()
    mesh.export(buf, file_type="stl")
    return buf.getvalue()


def _spheres(offset: float, radius: float = 10.0, second: float = 10.0) -> trimesh.Trimesh:
    a = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    b = trimesh.creation.icosphere(subdivisions=3, radius=second)
    b.apply_translation([offset, 0, radius - second])
    both = trimesh.util.concatenate([a, b])
    both.apply_translation([0, 0, radius])
    return both


def _slices(mesh: trimesh.Trimesh, tops: np.ndarray) -> np.ndarray:
    v, f = np.asarray(mesh.vertices, float), np.asarray(mesh.faces)
    return slice_mesh(v, f, tops).polygons


def _union_of_bodies(mesh: trimesh.Trimesh, tops: np.ndarray) -> np.ndarray:
    """Each body sliced alone, then united: an independent reference."""
    parts = [_slices(body, tops) for body in mesh.split(only_watertight=True)]
    return np.array([shapely.union_all([p[i] for p in parts]) for i in range(len(tops))])


@pytest.mark.parametrize(
    ("name", "mesh"),
    [
        ("overlapping", _spheres(8.0)),
        ("barely overlapping", _spheres(19.0)),
        ("one inside the other", _spheres(1.0, second=4.0)),
    ],
)
def test_overlapping_bodies_slice_as_their_union(name, mesh):
    tops = layer_tops(float(mesh.bounds[1, 2]), 0.3, 0.2)
    sliced = _slices(mesh, tops)
    expected = _union_of_bodies(mesh, tops)
    np.testing.assert_allclose(
        shapely.area(sliced), shapely.area(expected), rtol=0.01, atol=0.5, err_msg=name
    )
    assert all(shapely.is_valid(sliced))


def test_a_duplicated_shell_slices_as_one_body():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10)
    sphere.apply_translation([0, 0, 10])
    twice = trimesh.util.concatenate([sphere, sphere.copy()])
    tops = layer_tops(20.0, 0.3, 0.2)
    np.testing.assert_allclose(
        shapely.area(_slices(twice, tops)), shapely.area(_slices(sphere, tops)), rtol=1e-3
    )


def test_a_hollow_body_keeps_its_cavity():
    outer = trimesh.creation.icosphere(subdivisions=3, radius=10)
    cavity = trimesh.creation.icosphere(subdivisions=3, radius=4)
    cavity.invert()  # facing inwards: a void, not a second body
    hollow = trimesh.util.concatenate([outer, cavity])
    hollow.apply_translation([0, 0, 10])
    tops = layer_tops(20.0, 0.3, 0.2)
    middle = _slices(hollow, tops)[len(tops) // 2]
    assert middle.geom_type == "Polygon" and len(middle.interiors) == 1


def _filament(design, profiles) -> float:
    result = run_plan(
        FdmPlugin(),
        design,
        profiles.machine("printer-1"),
        profiles.material("pla-1.75"),
        {},
        profiles.policy,
    )
    assert result.estimate.machine_time_s > 0
    return result.estimate.materials[0].quantity


def test_two_overlapping_spheres_plan_as_their_union(profiles):
    """Filament follows the union (about 1.5 times one sphere here), where cutting the
    overlap out would use about half of one sphere's."""
    one = trimesh.creation.icosphere(subdivisions=3, radius=10)
    one.apply_translation([0, 0, 10])
    single = _filament(load_design(_stl(one), "sphere.stl"), profiles)
    both = _filament(load_design(_stl(_spheres(8.0)), "two-spheres.stl"), profiles)
    assert 1.2 < both / single < 1.8


def test_plan_command_on_overlapping_spheres_prints_no_traceback(tmp_path):
    stl = tmp_path / "two-spheres.stl"
    stl.write_bytes(_stl(_spheres(8.0)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fabserver.cli",
            "--lang",
            "en",
            "plan",
            str(stl),
            "--machine",
            "printer-1",
            "--material",
            "pla-1.75",
            "-o",
            str(tmp_path / "o.gcode"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "o.gcode").stat().st_size > 0


def test_a_million_triangle_file_slices():
    sphere = trimesh.creation.icosphere(subdivisions=8, radius=30)  # 1 310 720 triangles
    sphere.apply_translation([0, 0, 30])
    design = load_design(_stl(sphere), "fine-sphere.stl")
    mesh = design.mesh
    assert len(mesh.faces) >= 1_000_000
    tops = layer_tops(60.0, 0.3, 0.2)
    polygons = _slices(mesh, tops)
    mid = tops - 0.1
    r2 = 900 - (mid[1:] - 30) ** 2
    inside = r2 > 25
    np.testing.assert_allclose(shapely.area(polygons[1:])[inside], np.pi * r2[inside], rtol=0.01)
