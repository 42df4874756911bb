"""The greedy nearest-first order of paths, on numpy arrays and on Python floats alike."""

from __future__ import annotations

import numpy as np
import pytest
from fabserver_fdm.ordering import SMALL_ORDER, _nearest_order_small, nearest_order


@pytest.mark.parametrize("reversible", [True, False])
def test_numpy_walk_gives_the_python_walk_ties_included(reversible):
    """Ends on a coarse grid tie often: the lower path, then its start, wins each time."""
    rng = np.random.default_rng(3)
    for n in (SMALL_ORDER + 1, 40, 150):
        for grid in (True, False):
            if grid:
                starts = rng.integers(0, 6, (n, 2)).astype(float)
                ends = rng.integers(0, 6, (n, 2)).astype(float)
            else:
                starts = rng.random((n, 2)) * 50.0
                ends = starts + rng.random((n, 2)) * 5.0
            position = np.array([2.0, 3.0])
            order, flipped = nearest_order(starts, ends, position, reversible)
            want_order, want_flipped = _nearest_order_small(starts, ends, position, reversible)
            np.testing.assert_array_equal(order, want_order)
            np.testing.assert_array_equal(flipped, want_flipped)
            assert sorted(order.tolist()) == list(range(n))


def test_one_path_is_entered_by_its_nearer_end_its_start_on_a_tie():
    start, end = np.array([[0.0, 0.0]]), np.array([[10.0, 0.0]])
    assert nearest_order(start, end, np.array([9.0, 0.0]))[1].tolist() == [True]
    assert nearest_order(start, end, np.array([5.0, 1.0]))[1].tolist() == [False]  # a tie
    assert nearest_order(start, end, np.array([9.0, 0.0]), reversible=False)[1].tolist() == [False]
    order, flipped = nearest_order(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(2))
    assert order.dtype == np.int64 and flipped.dtype == bool and len(order) == len(flipped) == 0
