"""Rear seams found for all loops at once are the ones found loop by loop."""

from __future__ import annotations

import numpy as np
import shapely
from fabserver_fdm.ordering import SeamPlacer


def _loops() -> tuple[np.ndarray, list[np.ndarray]]:
    """Two objects apart on the bed, each a few layers of loops (a square and a ring)."""
    square = shapely.box(0, 0, 20, 20)
    ring = shapely.Point(60, 10).buffer(8).difference(shapely.Point(60, 10).buffer(4))
    slices = np.array([shapely.union(square, ring)] * 3)
    loops = []
    for geom in slices:
        for poly in shapely.get_parts(geom):
            for r in [poly.exterior, *poly.interiors]:
                loops.append(np.asarray(r.coords)[:, :2])
    return slices, loops


def test_rear_seams_at_once_match_one_by_one():
    slices, loops = _loops()
    placer = SeamPlacer("rear", slices)
    at_once = placer.rear_seams(loops)
    one_by_one = np.array([placer.seam(loop, np.zeros(2), 0) for loop in loops])
    assert at_once is not None and np.array_equal(at_once, one_by_one)
    # Each seam is a vertex of its loop, at the back (largest y) of the square.
    assert all((loop == seam).all(axis=1).any() for loop, seam in zip(loops, at_once, strict=True))
    assert at_once[0][1] == 20.0


def test_other_modes_place_seams_one_by_one():
    slices, loops = _loops()
    assert SeamPlacer("aligned", slices).rear_seams(loops) is None
    assert SeamPlacer("nearest", slices).rear_seams(loops) is None


def test_rear_point_is_that_of_the_footprint():
    """One object (each layer's hull overlaps the next) or several (apart from layer to
    layer): the seams face the back of the footprint's part the loop belongs to."""
    square, far = shapely.box(0, 0, 20, 20), shapely.box(50, 0, 60, 30)
    tower = np.array([square, shapely.box(2, 2, 18, 25), shapely.box(5, -4, 10, 8)])
    placer = SeamPlacer("rear", tower)
    # Bounds x 0..20, y -4..25: the point lies behind the middle, three radii back.
    radius = 0.5 * np.hypot(20.0, 29.0)
    assert placer.rear.tolist() == [[10.0, 25.0 + 3.0 * radius]]
    apart = SeamPlacer("rear", np.array([square, square, far, far]))
    assert len(apart.rear) == 2
    loops = [np.asarray(g.exterior.coords) for g in (square, far)]
    seams = apart.rear_seams(loops)
    assert seams is not None
    assert seams[0][1] == 20.0 and seams[1][1] == 30.0
    assert np.array_equal(seams[1], apart.seam(loops[1], np.zeros(2), 2))


def test_layers_touching_at_an_edge_or_a_corner_make_the_union_s_objects():
    """Hulls sharing no inside are left to the union: one object across an edge, two at a corner."""
    square = shapely.box(0, 0, 10, 10)
    by_edge = SeamPlacer("rear", np.array([square, shapely.box(10, 0, 20, 10)]))
    by_corner = SeamPlacer("rear", np.array([square, shapely.box(10, 10, 20, 20)]))
    assert len(by_edge.rear) == 1 and by_edge.rear[0][0] == 10.0
    assert len(by_corner.rear) == 2
