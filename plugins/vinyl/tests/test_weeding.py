"""Weeding aids: a border around each copy, lines in the gaps between parts."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fabserver.designs import load_design

OFFSET = 0.25
SPACING = 5.0


@pytest.fixture
def sticker(samples):
    return load_design((samples / "vinyl-sticker.svg").read_bytes(), "vinyl-sticker.svg")


def _blade_cuts(job, tools) -> list[np.ndarray]:
    return tools.blade_traces([s / tools.UNITS_PER_MM for s in job.strokes], OFFSET)


@pytest.mark.parametrize("margin", [3.0, 10.0])
def test_the_border_is_a_rectangle_margin_mm_around_the_design(margin, sticker, profiles, tools):
    _, job, _ = tools.plan_job(sticker, profiles, weeding_margin=margin)
    border = _blade_cuts(job, tools)[-1]  # outermost: cut last
    size = sticker.size
    # The layout puts the copy's footprint (design + margin) SPACING from the origin.
    low = np.array([SPACING, SPACING])
    high = low + size + 2 * margin
    corners = np.array([low, [high[0], low[1]], high, [low[0], high[1]]])
    assert np.abs(border.min(axis=0) - low).max() <= 0.05
    assert np.abs(border.max(axis=0) - high).max() <= 0.05
    ring = shapely.LinearRing(corners)
    assert max(ring.distance(shapely.Point(p)) for p in border[::10]) <= 0.05


def test_weeding_lines_fill_each_gap_and_never_touch_the_design(sticker, profiles, tools):
    margin = 3.0
    _, job, _ = tools.plan_job(sticker, profiles, weeding_lines=True, weeding_margin=margin)
    shift = SPACING + margin - sticker.bounds[0]  # design → plotter frame, by the layout rule
    design = shapely.union_all(
        [shapely.Polygon(p.points + shift) for p in sticker.paths if p.closed]
    )
    cuts = _blade_cuts(job, tools)
    box_height = sticker.size[1] + 2 * margin
    # Straight cuts across the whole box are the weeding lines.
    lines = [c for c in cuts if np.ptp(c[:, 0]) < 0.05 and np.ptp(c[:, 1]) > box_height - 0.1]
    # F | A | B | star(+dot): three gaps along the sticker's long side.
    assert len(lines) == 3
    # Half-way across each gap of the sample (F ends at x = 16, A spans 18–36, B 38–54.5,
    # the star starts at 56.5).
    xs = sorted(float(line[0, 0]) for line in lines)
    np.testing.assert_allclose(xs, np.array([17.0, 37.0, 55.5]) + shift[0], atol=0.05)
    assert all(design.distance(shapely.LineString(line)) >= 0.5 - 0.05 for line in lines)
