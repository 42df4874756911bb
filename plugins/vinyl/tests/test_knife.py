"""Drag-knife compensation, checked by dragging a simulated blade along the holder path."""

from __future__ import annotations

import numpy as np
import pytest
from fabserver_vinyl.knife import Knife, holder_path, swivel_count, with_overcut
from scipy.spatial import cKDTree

KNIFE = Knife(offset=0.25, swivel_angle=25.0, overcut=1.0)
# What the simulated blade may stray from the drawing: arc chords (0.01 mm), the
# blade's own rounding of gentle turns (0.006 mm at 25°) and the 0.02 mm replay step.
TOLERANCE = 0.03


def _star(points: int = 5, outer: float = 20.0, inner: float = 7.0) -> np.ndarray:
    angles = np.pi / 2 + np.arange(2 * points) * np.pi / points
    radii = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])


SHAPES = {
    "square": (np.array([[0, 0], [30, 0], [30, 30], [0, 30]], float), True),
    "star": (_star(), True),
    "sliver": (np.array([[0, 0], [40, 0], [0, 7]], float), True),  # a 10° point
    "circle": (
        np.column_stack(
            [
                15 * np.cos(np.linspace(0, 2 * np.pi, 96, endpoint=False)),
                15 * np.sin(np.linspace(0, 2 * np.pi, 96, endpoint=False)),
            ]
        ),
        True,
    ),
    "zigzag": (np.array([[0, 0], [10, 5], [20, 0], [30, 5], [30, -10], [0, -10]], float), False),
}


def test_a_straight_cut_moves_the_holder_forward_by_the_offset():
    holder, heading = holder_path(np.array([[0.0, 0.0], [10.0, 0.0]]), KNIFE, np.array([1.0, 0.0]))
    np.testing.assert_allclose(holder, [[0.25, 0.0], [10.25, 0.0]])
    np.testing.assert_allclose(heading, [1.0, 0.0])


def test_closed_paths_are_cut_round_and_on_by_the_overcut():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    cut = with_overcut(square, True, 1.0)
    length = np.linalg.norm(np.diff(cut, axis=0), axis=1).sum()
    assert length == pytest.approx(41.0)
    np.testing.assert_allclose(cut[-1], [1.0, 0.0])
    np.testing.assert_allclose(with_overcut(square, False, 1.0), square)


def test_a_sharp_corner_swivels_on_a_circle_around_the_corner():
    corner = np.array([10.0, 0.0])
    blade = np.array([[0.0, 0.0], corner, [10.0, 10.0]])
    holder, _ = holder_path(blade, KNIFE, np.array([1.0, 0.0]))
    # Between arriving (corner + r x) and leaving (corner + r y) every point is on the arc.
    arrive = int(
        np.flatnonzero(np.all(np.isclose(holder, corner + np.array([0.25, 0.0])), axis=1))[0]
    )
    leave = int(
        np.flatnonzero(np.all(np.isclose(holder, corner + np.array([0.0, 0.25])), axis=1))[0]
    )
    assert leave - arrive >= 2
    radii = np.linalg.norm(holder[arrive : leave + 1] - corner, axis=1)
    np.testing.assert_allclose(radii, 0.25)
    assert swivel_count(blade, KNIFE, np.array([1.0, 0.0])) == 1


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_dragged_blade_cuts_the_drawing(name, tools):
    points, closed = SHAPES[name]
    blade = with_overcut(points, closed, KNIFE.overcut)
    holder, _ = holder_path(blade, KNIFE, np.array([1.0, 0.0]))
    (trace,) = tools.blade_traces([holder], KNIFE.offset)
    reference = tools.resample(blade, 0.01)
    assert tools.hausdorff(trace, reference) <= TOLERANCE


@pytest.mark.parametrize("name", ["square", "star", "sliver", "zigzag"])
def test_corners_come_out_sharp_and_would_not_without_compensation(name, tools):
    """The raw drawing used as holder path misses corners: the checks here can fail."""
    points, closed = SHAPES[name]
    blade = with_overcut(points, closed, KNIFE.overcut)
    corners = points[1:]  # the first vertex is where the cut starts, not a corner cut through
    holder, _ = holder_path(blade, KNIFE, np.array([1.0, 0.0]))
    (compensated, raw) = tools.blade_traces([holder, blade], KNIFE.offset)
    assert cKDTree(compensated).query(corners)[0].max() <= TOLERANCE
    assert cKDTree(raw).query(corners)[0].max() > 3 * TOLERANCE


def test_no_offset_means_the_holder_is_the_blade():
    knife = Knife(offset=0.0, swivel_angle=25.0, overcut=0.0)
    points = SHAPES["zigzag"][0]
    holder, _ = holder_path(points, knife, np.array([1.0, 0.0]))
    np.testing.assert_allclose(holder, points)


def test_coordinate_noise_does_not_make_the_blade_swivel():
    """A straight cut whose points wobble by 3 µm has no corner to swivel on."""
    x = np.linspace(0, 10, 2001)
    wobble = np.where(np.arange(x.size) % 2 == 0, 0.0, 0.003)
    assert swivel_count(np.column_stack([x, wobble]), KNIFE, np.array([1.0, 0.0])) == 0


def test_densely_sampled_curves_keep_their_shape(tools):
    """Points 0.005 mm apart on a 1 mm circle are merged, never cut across."""
    t = np.linspace(0, 2 * np.pi, int(2 * np.pi / 0.005), endpoint=False)
    circle = np.column_stack([np.cos(t), np.sin(t)])
    blade = with_overcut(circle, True, KNIFE.overcut)
    holder, _ = holder_path(blade, KNIFE, np.array([0.0, 1.0]))
    (trace,) = tools.blade_traces([holder], KNIFE.offset, heading=(0.0, 1.0))
    assert tools.hausdorff(trace, tools.resample(blade, 0.01)) <= TOLERANCE
