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
