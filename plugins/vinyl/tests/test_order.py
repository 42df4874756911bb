"""Cut order: inside before outside, the roll fed one way, short travels."""

from __future__ import annotations

import numpy as np
import shapely
from fabserver_vinyl.order import nesting

from fabserver.designs import DrawingPath, load_design


def _square(x: float, y: float, size: float) -> np.ndarray:
    return np.array([[x, y], [x + size, y], [x + size, y + size], [x, y + size]], float)


def test_nesting_counts_enclosing_paths_and_finds_the_outermost():
    paths = [
        DrawingPath(_square(0, 0, 50), True),
        DrawingPath(_square(10, 10, 30), True),  # a hole in the first
        DrawingPath(_square(20, 20, 10), True),  # an island in the hole
        DrawingPath(_square(60, 0, 20), True),  # apart
        DrawingPath(np.array([[22, 25], [28, 25]]), False),  # a line on the island
    ]
    depth, outermost = nesting(paths)
    assert depth.tolist() == [0, 1, 2, 0, 3]
    assert outermost.tolist() == [0, 0, 0, 3, 0]


def test_inner_paths_are_cut_before_the_paths_around_them(samples, profiles, tools):
    design = load_design((samples / "vinyl-sticker.svg").read_bytes(), "vinyl-sticker.svg")
    _, job, _ = tools.plan_job(design, profiles, weeding_lines=True)
    shapes = [shapely.Polygon(s) if len(s) >= 4 else shapely.LineString(s) for s in job.strokes]
    lines = [shapely.LineString(s) for s in job.strokes]
    later_inside_earlier = [
        (i, j)
        for i, outer in enumerate(shapes)
        for j in range(i + 1, len(shapes))
        if outer.area > 0 and outer.contains(lines[j])
    ]
    assert later_inside_earlier == []
    # The weeding border encloses everything (weeding lines end on it; their holder
    # path overshoots by the blade offset, hence 1 mm of slack): it is cut last.
    border = shapes[-1].buffer(tools.UNITS_PER_MM)
    assert all(border.contains(line) for line in lines[:-1])


def test_the_roll_is_fed_one_way_band_after_band(profiles, tools):
    """Squares scattered along 1 m of roll, given in random order."""
    rng = np.random.default_rng(7)
    spots = np.column_stack([rng.uniform(0, 1000, 60), rng.uniform(0, 400, 60)])
    design = tools.drawing(*[(_square(x, y, 10), True) for x, y in spots])
    _, job, _ = tools.plan_job(design, profiles, weeding_border=False)
    band = profiles.machine("vinyl").settings["feed_band"]
    starts = np.array([s[0] for s in job.strokes]) / tools.UNITS_PER_MM  # feed axis is x
    backing_up = np.maximum.accumulate(starts[:, 0]) - starts[:, 0]
    assert backing_up.max() <= band + 10 + 1  # within a band (and a square's size)
    # Shorter travels than cutting in the file's order (measured between the same squares).
    placed = spots - spots.min(axis=0)
    file_order = np.linalg.norm(np.diff(placed, axis=0), axis=1).sum()
    ends = np.array([s[-1] for s in job.strokes]) / tools.UNITS_PER_MM
    ours = np.linalg.norm(starts[1:] - ends[:-1], axis=1).sum()
    assert ours < 0.5 * file_order
