"""The plugin's parts checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fabserver_embroidery.column import shape_satin
from fabserver_embroidery.elements import ElementRules, drawing_elements
from fabserver_embroidery.fill import FillParams, fill_polylines
from fabserver_embroidery.hoop import choose_hoop
from fabserver_embroidery.ordering import sewing_order
from fabserver_embroidery.polyline import bean, short_stitches, subdivide
from fabserver_embroidery.scanline import monotone_regions, polygon_rows
from fabserver_embroidery.sequence import merge_short
from fabserver_embroidery.settings import Hoop
from fabserver_embroidery.threads import catalogue, delta_e2000, match_threads, srgb_to_lab

from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.errors import PlanError

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation
# notes, supplementary test data": pairs 1, 2, 3, 4 and 7 of their table.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
]


def drawing(*paths: DrawingPath) -> Drawing:
    return Drawing(tuple(paths), SourceFacts("svg", "mm"))


def disc(r: float, centre=(0.0, 0.0), n: int = 120) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)])


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_ciede2000_matches_published_pairs(lab1, lab2, expected):
    assert delta_e2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
    # Symmetric.
    assert delta_e2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=1e-4)


def test_lab_of_white_and_black():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0]]))
    assert lab[0] == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab[1] == pytest.approx([0.0, 0.0, 0.0], abs=0.01)


def test_catalogue_colours_match_themselves_and_near_ones():
    threads = catalogue("brother-pec")
    picks = [threads[i].rgb for i in (0, 10, 20, 30)]
    for m, rgb in zip(match_threads(picks, "brother-pec"), picks, strict=True):
        assert m.thread.rgb == rgb and m.delta_e == pytest.approx(0.0, abs=1e-9)
    # A slightly shifted colour still finds its thread (ΔE00 small against it).
    r, g, b = threads[10].rgb
    shifted = (min(r + 3, 255), max(g - 2, 0), b)
    m = match_threads([shifted], "brother-pec")[0]
    direct = delta_e2000(srgb_to_lab(np.array([shifted])), srgb_to_lab(np.array([m.thread.rgb])))
    assert m.delta_e == pytest.approx(float(direct[0]))
    assert m.delta_e < 3


@pytest.mark.parametrize("angle", [0.0, 0.4, np.pi / 2, 2.2])
def test_rows_measure_the_shape_area(angle):
    ring = shapely.Point(0, 0).buffer(12, 64).difference(shapely.Point(2, 1).buffer(5, 64))
    spacing = 0.4
    rows = polygon_rows(ring, angle, spacing)
    # Sum of inside segment lengths × spacing is a quadrature of the area.
    assert ((rows.x1 - rows.x0).sum() * spacing) == pytest.approx(ring.area, rel=0.01)
    # Segment ends lie on the shape's boundary.
    ends = rows.to_drawing(np.column_stack([np.r_[rows.x0, rows.x1], np.r_[rows.y, rows.y]]))
    assert shapely.distance(ring.boundary, shapely.points(ends)).max() < 1e-6


def test_a_ring_splits_into_four_regions():
    ring = shapely.Point(0, 0).buffer(10, 64).difference(shapely.Point(0, 0).buffer(4, 64))
    assert monotone_regions(polygon_rows(ring, 0.0, 0.4)).max() + 1 == 4


def test_fill_stays_in_its_shape_and_links_around_the_hole():
    ring = shapely.Point(0, 0).buffer(20, 64).difference(shapely.Point(0, 0).buffer(8, 64))
    params = FillParams(pull_compensation=0.2)
    polys = fill_polylines(ring, 0.3, params, np.array([-30.0, 0.0]))
    pts = np.vstack(polys)
    # Every needle point within the pull compensation of the shape (tiny float margin).
    assert shapely.distance(ring, shapely.points(pts)).max() <= 0.2 + 1e-6
    # Nothing inside the hole beyond the compensation.
    hole = shapely.Point(0, 0).buffer(8 - 0.2 - 0.01, 64)  # 0.01: polygonised circles
    assert not shapely.contains_xy(hole, pts[:, 0], pts[:, 1]).any()
    # The regions are linked along the edge, not by jumps: one polyline.
    assert len(polys) == 1
    # No stitch crosses the hole.
    segs = shapely.linestrings(np.stack([pts[:-1], pts[1:]], axis=1))
    assert not shapely.intersects(shapely.Point(0, 0).buffer(7.5), segs).any()


def test_subdivide_keeps_corners_and_limits_length():
    pts = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 3.0]])
    out = subdivide(pts, 2.5)
    assert np.linalg.norm(np.diff(out, axis=0), axis=1).max() <= 2.5 + 1e-12
    assert any(np.allclose(p, [10.0, 0.0]) for p in out)
    assert np.allclose(out[0], pts[0]) and np.allclose(out[-1], pts[-1])


def test_bean_sews_each_stitch_three_times():
    pts = subdivide(np.array([[0.0, 0.0], [10.0, 0.0]]), 2.5)
    out = bean(pts)
    assert len(out) - 1 == 3 * (len(pts) - 1)
    # Same path length three times over.
    run = np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()
    assert np.linalg.norm(np.diff(out, axis=0), axis=1).sum() == pytest.approx(3 * run)


def test_merge_short_leaves_no_short_stitch_and_keeps_the_ends():
    rng = np.random.default_rng(3)
    steps = rng.uniform(0.0, 0.6, size=(300, 2)) * rng.choice([-1, 1], size=(300, 2))
    pts = np.cumsum(steps, axis=0)
    out = merge_short(pts, 0.3)
    d = np.linalg.norm(np.diff(out, axis=0), axis=1)
    assert d.min() >= 0.3 - 1e-12
    assert np.allclose(out[0], pts[0]) and np.allclose(out[-1], pts[-1])
    # Every kept point is an original one.
    assert all((np.abs(pts - p).sum(axis=1) < 1e-12).any() for p in out)


def test_hoop_choice():
    hoops = (Hoop(name="small", width=100, height=100), Hoop(name="big", width=130, height=180))
    assert choose_hoop(np.array([90, 95]), hoops) == (hoops[0], False)
    assert choose_hoop(np.array([120, 170]), hoops) == (hoops[1], False)
    assert choose_hoop(np.array([170, 120]), hoops) == (hoops[1], True)
    with pytest.raises(PlanError) as err:
        choose_hoop(np.array([200, 150]), hoops)
    # Sizes in each language's way of writing numbers.
    assert "200,0 × 150,0" in err.value.message.fr and "200.0 × 150.0" in err.value.message.en
    assert "130 × 180" in err.value.message.en
    with pytest.raises(PlanError) as err:
        choose_hoop(np.array([200, 150]), (Hoop(name="odd", width=126.5, height=110),))
    assert "(126,5 × 110 mm)" in err.value.message.fr
    assert "(126.5 × 110 mm)" in err.value.message.en


def test_stitch_types_follow_shape_and_width():
    bar = np.array([[0, 0], [30, 0], [30, 4], [0, 4]], dtype=float)
    d = drawing(
        DrawingPath(disc(10), True, fill=(255, 0, 0), source="disc"),
        DrawingPath(bar + np.array([0, 30]), True, fill=(0, 0, 255), source="bar"),
        DrawingPath(np.array([[0, 50], [40, 50]]), False, stroke=(0, 0, 0), stroke_width=3),
        DrawingPath(np.array([[0, 60], [40, 60]]), False, stroke=(0, 0, 0), stroke_width=0.3),
        DrawingPath(np.array([[0, 80], [40, 80]]), False, stroke=(0, 0, 0), stroke_width=12),
    )
    elements, warnings = drawing_elements(d, ElementRules())
    assert [e.kind for e in elements] == ["fill", "column", "satin", "running", "fill"]
    assert any("12" not in w.en and "wider" in w.en for w in warnings)


def test_layering_decides_the_colour_order():
    red, blue = (220, 20, 20), (20, 20, 220)
    sq = np.array([[0, 0], [20, 0], [20, 20], [0, 20]], dtype=float)

    def order_of(d):
        elements, _ = drawing_elements(d, ElementRules())
        threads = [0 if e.colour == red else 1 for e in elements]
        return [elements[i].colour for i in sewing_order(elements, threads)]

    # Apart: one block per colour (red, red, then blue).
    apart = drawing(
        DrawingPath(sq, True, fill=red, source="a"),
        DrawingPath(sq + np.array([40, 0]), True, fill=blue, source="b"),
        DrawingPath(sq + np.array([80, 0]), True, fill=red, source="c"),
    )
    assert order_of(apart) == [red, red, blue]
    # Blue over the first red, the second red over blue: red, blue, red.
    stacked = drawing(
        DrawingPath(sq, True, fill=red, source="a"),
        DrawingPath(sq + np.array([10, 10]), True, fill=blue, source="b"),
        DrawingPath(sq + np.array([20, 20]), True, fill=red, source="c"),
    )
    assert order_of(stacked) == [red, blue, red]


def test_nothing_to_sew_is_a_clear_error(plan_drawing):
    empty = drawing(DrawingPath(disc(5), True))
    with pytest.raises(PlanError) as err:
        plan_drawing(empty)
    assert "Rien à broder" in err.value.message.fr


def test_a_curved_band_becomes_a_satin_column_across_it():
    t = np.linspace(0.0, 2.5, 60)
    centre = shapely.LineString(np.column_stack([20 * np.cos(t), 20 * np.sin(t)]))
    band = centre.buffer(1.5)
    zigzag = shape_satin(band, 0.4, 0.2, 8.0, False, 2.5, np.zeros(2))
    assert zigzag is not None
    stitches = np.stack([zigzag[:-1], zigzag[1:]], axis=1)
    lengths = np.linalg.norm(stitches[:, 1] - stitches[:, 0], axis=1)
    # Each stitch crosses the band: about its width plus the compensation on both sides.
    assert np.median(lengths) == pytest.approx(3.0 + 2 * 0.2, abs=0.15)
    # Penetrations on the outline, pushed out by the compensation at most.
    d = shapely.distance(band.boundary, shapely.points(zigzag))
    assert d.max() <= 0.2 + 1e-6
    # Stitch directions are across the centre line: their midpoints lie on it.
    mids = stitches.mean(axis=1)
    assert np.median(shapely.distance(centre, shapely.points(mids))) < 0.2


def test_a_branched_shape_is_left_to_the_fill():
    tee = shapely.box(0, 0, 20, 2).union(shapely.box(9, -10, 11, 2))
    assert shape_satin(tee, 0.4, 0.2, 8.0, False, 2.5, np.zeros(2)) is None


def test_a_narrow_ring_is_a_satin_all_round():
    ring = shapely.Point(0, 0).buffer(10, 64).difference(shapely.Point(0, 0).buffer(7.5, 64))
    zigzag = shape_satin(ring, 0.4, 0.2, 8.0, False, 2.5, np.array([20.0, 0.0]))
    assert zigzag is not None
    radius = np.linalg.norm(zigzag, axis=1)
    # Needles alternate between the two edges, each pushed out by the compensation.
    assert radius[0::2].min() == pytest.approx(radius[0::2].max(), abs=0.05)
    assert sorted([radius[0], radius[1]]) == pytest.approx([7.3, 10.2], abs=0.05)
    # It goes all the way round: every direction from the centre is met.
    angle = np.sort(np.arctan2(zigzag[:, 1], zigzag[:, 0]))
    assert np.diff(np.r_[angle, angle[0] + 2 * np.pi]).max() < 0.05


def test_short_stitches_spread_crowded_needle_points():
    n = 20
    left = np.zeros((n, 2))  # every left point on one hole (inside of a sharp turn)
    right = np.column_stack([np.linspace(-3, 3, n), np.full(n, 4.0)])
    new_left, new_right = short_stitches(left, right, min_gap=0.1, fraction=0.3)
    on_hole = np.linalg.norm(new_left, axis=1) < 1e-9
    assert on_hole.sum() <= n // 2 + 1
    moved = ~on_hole
    # Moved points went 30 % of the way across, toward their partner.
    assert np.allclose(new_left[moved], 0.3 * right[moved])
    # The spread-out rail is untouched.
    assert np.array_equal(new_right, right)


def test_the_makers_stitch_map_overrides_the_choice_by_shape(plan_drawing):
    line = np.array([[0.0, 0.0], [40.0, 0.0], [40.0, 20.0]])
    d = drawing(
        DrawingPath(disc(10, (0, 40)), True, fill=(200, 0, 0)),  # a filled disc: fill
        DrawingPath(line, False, stroke=(0, 0, 200), stroke_width=0.3),  # thin: running
    )
    by_shape = plan_drawing(d)
    assert by_shape.facts["elements"] == {"fill": 1, "running": 1}
    mapped = plan_drawing(d, stitch_map="stroke:#0000c8=satin, fill:#c80000=run")
    assert mapped.facts["elements"] == {"running": 1, "satin": 1}  # the disc's outline is run
    found = {f.key: f.operation for f in mapped.plan.operations}
    assert found == {"fill:#c80000": "run", "stroke:#0000c8": "satin"}
    dropped = plan_drawing(d, stitch_map="#0000c8=ignore")
    assert dropped.facts["elements"] == {"fill": 1}
    with pytest.raises(PlanError) as err:
        plan_drawing(d, stitch_map="#0000c8=cross")
    assert "cross" in err.value.message.en
