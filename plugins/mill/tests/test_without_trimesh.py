"""The 3D mill plan's own mesh facts, rotations and morphology give trimesh's and scipy's
answers to the last bit (the machine files must not change), and a 3D plan imports neither."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import trimesh
from fabserver_mill import morphology
from fabserver_mill.heightmap import tool_kernel
from fabserver_mill.strategies3d import UP_CHOICES, transform_points, up_rotation
from scipy import ndimage

from fabserver.designs import load_design
from fabserver.designs.indexed import (
    adjacency_angles,
    adjacency_convex,
    face_adjacency,
    face_normals,
    merge_rounded_vertices,
    single_edges,
)


def awkward_corners() -> np.ndarray:
    """A pyramid with a hole, a repeated corner a hair off, a face folded flat and one
    with a doubled corner: the cases where a merge or an adjacency could go wrong."""
    apex, a, b, c, d = [0, 0, 5.0], [-5, -5, 0.0], [5, -5, 0.0], [5, 5, 0.0], [-5, 5, 0.0]
    near_a = [-5 + 3e-10, -5, 0.0]  # rounds onto a at 1e-8
    faces = [
        [apex, a, b],
        [apex, b, c],
        [apex, c, d],
        [apex, d, near_a],
        [a, c, b],  # half the base: the other half is missing (an open mesh)
        [a, b, b],  # a doubled corner
        [a, c, [0, 0, 0.0]],  # zero area, on a line
        [[9, 9, 9.0], [9, 9, 9.0 + 4e-9], [10, 9, 9.0]],  # two corners merge
    ]
    return np.array(faces, dtype=float)


def corners_of(corpus, name: str) -> np.ndarray:
    return load_design((corpus / "stl" / name).read_bytes(), name).mesh.triangles


def in_order(adjacency: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Rows sorted by face pair then edge, so two listings of the same pairs line up."""
    edges = columns[0]
    order = np.lexsort((edges[:, 1], edges[:, 0], adjacency[:, 1], adjacency[:, 0]))
    return [adjacency[order]] + [c[order] for c in columns]


def check_facts(corners: np.ndarray) -> None:
    mesh = trimesh.Trimesh(corners.reshape(-1, 3), np.arange(len(corners) * 3).reshape(-1, 3))
    mesh.merge_vertices()
    vertices, faces = merge_rounded_vertices(corners.reshape(-1, 3), np.arange(len(corners) * 3))
    assert np.array_equal(vertices, mesh.vertices)
    assert np.array_equal(faces, mesh.faces)
    normals = face_normals(vertices, faces)
    assert np.array_equal(normals, mesh.face_normals)

    pairs, shared = face_adjacency(faces, len(vertices))
    ours = in_order(
        pairs,
        shared,
        adjacency_angles(normals, pairs),
        adjacency_convex(vertices, faces, normals, pairs, shared),
    )
    theirs = in_order(
        mesh.face_adjacency,
        mesh.face_adjacency_edges,
        mesh.face_adjacency_angles,
        mesh.face_adjacency_convex,
    )
    for mine, reference in zip(ours, theirs, strict=True):
        assert np.array_equal(mine, reference)

    sorted_edges = np.sort(mesh.edges, axis=1)
    single = sorted_edges[trimesh.grouping.group_rows(sorted_edges, require_count=1)]
    assert np.array_equal(
        np.unique(single_edges(faces, len(vertices)), axis=0), np.unique(single, axis=0)
    )


def test_mesh_facts_of_an_awkward_mesh_are_trimeshs():
    corners = awkward_corners()
    check_facts(corners)
    vertices, faces = merge_rounded_vertices(corners.reshape(-1, 3), np.arange(len(corners) * 3))
    assert len(vertices) == 8  # apex, a (with its near twin), b, c, d, the origin, two at 9
    assert len(single_edges(faces, len(vertices))) > 0  # the open base


@pytest.mark.parametrize(
    "name",
    [
        "#3DBenchy - Multi-part - Single - Gunwale - (3DBenchy.com).stl",
        "idler_riser.STL",
        "multibody.stl",
        "octagonal_pocket.stl",
    ],
)
def test_mesh_facts_of_corpus_parts_are_trimeshs(corpus, name):
    check_facts(corners_of(corpus, name))


def test_rotations_and_transforms_are_trimeshs():
    rng = np.random.default_rng(7)
    points = rng.normal(size=(200, 3)) * 40.0
    for direction in UP_CHOICES.values():
        matrix = up_rotation(direction)
        reference = trimesh.geometry.align_vectors(
            np.asarray(direction, dtype=float), [0.0, 0.0, 1.0]
        )
        assert np.array_equal(matrix, reference)
        assert np.allclose(matrix[:3, :3] @ direction, [0.0, 0.0, 1.0])
        assert np.array_equal(
            transform_points(points, matrix), trimesh.transform_points(points, matrix)
        )


@pytest.mark.parametrize("radius, res", [(0.5, 0.1), (1.5875, 0.2), (3.0, 0.37)])
def test_morphology_is_scipys(radius, res):
    rng = np.random.default_rng(11)
    heights = np.round(rng.random((57, 83)) * 6.0 - 3.0, 1)
    footprint, lift = tool_kernel(radius, res, "ball")
    pairs = [
        (
            morphology.dilate(heights, footprint, lift),
            ndimage.grey_dilation(heights, footprint=footprint, structure=lift, mode="nearest"),
        ),
        (
            morphology.erode(heights, footprint, lift),
            ndimage.grey_erosion(heights, footprint=footprint, structure=lift, mode="nearest"),
        ),
        (
            morphology.dilate(heights, footprint),
            ndimage.maximum_filter(heights, footprint=footprint, mode="nearest"),
        ),
        (
            morphology.erode(heights, footprint),
            ndimage.minimum_filter(heights, footprint=footprint, mode="nearest"),
        ),
    ]
    for mine, reference in pairs:
        assert np.array_equal(mine, reference)


@pytest.mark.parametrize("fill", [0.2, 0.5, 0.7])
def test_regions_are_scipys(fill):
    mask = np.random.default_rng(5).random((61, 47)) < fill
    assert np.array_equal(morphology.binary_opening(mask), ndimage.binary_opening(mask))
    labels, count = morphology.label(mask)
    reference, reference_count = ndimage.label(mask)
    assert count == reference_count > 1
    assert np.array_equal(labels, reference)
    centres = ndimage.center_of_mass(mask, reference, range(1, count + 1))
    assert morphology.centres_of_mass(mask, labels, count) == [
        (float(r), float(c)) for r, c in centres
    ]


def test_a_3d_plan_imports_neither_trimesh_nor_scipy(samples, tmp_path):
    """Their imports cost about a second of every plan's start-up."""
    code = (
        "import sys\n"
        "from fabserver.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'trimesh', 'scipy'}))\n"
    )
    design = samples / "mill-relief.stl"
    out = tmp_path / "relief.nc"
    args = ["plan", str(design), "--machine", "mill", "--material", "hdpe", "-o", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    assert out.stat().st_size > 0
    assert done.stdout.strip().splitlines()[-1] == "[]"
