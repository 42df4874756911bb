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
    result, job, _ = tools.plan_job(sticker, profiles, weeding_margin=margin)
    border = _blade_cuts(job, tools)[-1]  # outermost: cut last
    outlines = np.vstack(tools.placed_outlines(sticker, result.plan.facts, SPACING, margin))
    low, high = outlines.min(axis=0) - margin, outlines.max(axis=0) + margin
    np.testing.assert_allclose(low, SPACING)  # the layout rule: the footprint's corner
    assert np.abs(border.min(axis=0) - low).max() <= 0.05
    assert np.abs(border.max(axis=0) - high).max() <= 0.05
    ring = shapely.LinearRing([low, [high[0], low[1]], high, [low[0], high[1]]])
    assert max(ring.distance(shapely.Point(p)) for p in border[::10]) <= 0.05


def test_weeding_lines_fill_each_gap_and_never_touch_the_design(sticker, profiles, tools):
    margin = 3.0
    result, job, _ = tools.plan_job(sticker, profiles, weeding_lines=True, weeding_margin=margin)
    facts = result.plan.facts
    outlines = tools.placed_outlines(sticker, facts, SPACING, margin)
    design = shapely.union_all([shapely.Polygon(o) for o in outlines])
    # The sticker's long side is its x; on the roll it lies along plotter y when turned.
    along = 1 if facts["turned"] else 0
    box = sticker.size[1] + 2 * margin
    cuts = _blade_cuts(job, tools)
    lines = [c for c in cuts if np.ptp(c[:, along]) < 0.05 and np.ptp(c[:, 1 - along]) > box - 0.1]
    # F | A | B | star(+dot): three gaps, half-way across each (F ends at x = 16,
    # A spans 18–36, B 38–54.5, the star starts at 56.5 in the sample's frame).
    assert len(lines) == 3
    places = sorted(float(line[0, along]) for line in lines)
    expected = np.array([17.0, 37.0, 55.5]) - sticker.bounds[0, 0] + SPACING + margin
    np.testing.assert_allclose(places, expected, atol=0.05)
    assert all(design.distance(shapely.LineString(line)) >= 0.5 - 0.05 for line in lines)
