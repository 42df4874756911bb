"""2.5D geometry checked against shapely on the finished toolpath: offsets, pockets, depths, tabs."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import shapely
from fabserver_mill.plan2d import JobOptions2D, plan_drawing
from shapely.geometry import LineString, Polygon

from fabserver.toolpath import MoveKind

R = 3.175 / 2  # the profile's default cutting tool (flat-3.175)


def placed(points: np.ndarray, result) -> np.ndarray:
    """Design coordinates → stock coordinates, as the plan placed them."""
    return points + np.asarray(result.plan.facts["origin_mm"])


def role_points(tp, role: str) -> np.ndarray:
    return tp.xyz[tp.role_mask(role)]


def segments_at(tp, role: str, z: float) -> list[LineString]:
    """Moves of ``role`` that run at height ``z`` from start to end."""
    mask = tp.role_mask(role) & np.isclose(tp.xyz[:, 2], z) & np.isclose(tp.starts[:, 2], z)
    a, b = tp.starts[mask, :2], tp.xyz[mask, :2]
    keep = np.linalg.norm(b - a, axis=1) > 1e-9
    return [LineString([p, q]) for p, q in zip(a[keep], b[keep], strict=True)]


def test_outside_profile_keeps_exactly_the_tool_radius(plan_with, make):
    # A concave part (notch wider than the tool) and a round part.
    outline = np.array([[0, 0], [40, 0], [40, 30], [25, 30], [25, 15], [15, 15], [15, 30], [0, 30]])
    disc = make.circle(70, 15, 12)
    result = plan_with(make.drawing((outline, make.BLACK, True), (disc, make.BLACK, True)), tabs=0)
    tp = result.plan.toolpath
    parts = [Polygon(placed(outline, result)), Polygon(placed(disc, result))]
    pts = role_points(tp, "profile")
    xy = shapely.points(pts[:, :2])
    dist = np.min([shapely.distance(xy, p.exterior) for p in parts], axis=0)
    assert np.abs(dist - R).max() <= 0.01
    assert not shapely.contains(shapely.union_all(parts), xy).any()  # always outside the parts


def test_inside_profile_keeps_the_radius_inside_the_hole(plan_with, make):
    plate = make.rect(0, 0, 50, 40)
    hole = make.circle(25, 20, 6)
    slot = make.rect(8, 8, 20, 14)
    result = plan_with(
        make.drawing((plate, make.BLACK, True), (hole, make.BLUE, True), (slot, make.BLUE, True)),
        tabs=0,
    )
    tp = result.plan.toolpath
    holes = [Polygon(placed(hole, result)), Polygon(placed(slot, result))]
    plate_poly = Polygon(placed(plate, result))
    pts = role_points(tp, "profile")[:, :2]
    inside = shapely.contains(shapely.union_all(holes), shapely.points(pts))
    hole_pts = shapely.points(pts[inside])
    dist = np.min([shapely.distance(hole_pts, h.exterior) for h in holes], axis=0)
    assert np.abs(dist - R).max() <= 0.01
    # Every other profile point belongs to the plate's outline, r outside it.
    rest = shapely.distance(shapely.points(pts[~inside]), plate_poly.exterior)
    assert np.abs(rest - R).max() <= 0.01


def test_pocket_clears_everything_the_tool_fits_and_reports_the_rest(
    plan_with, make, hdpe_settings
):
    # A pocket with a round island and a 2 mm slot the 3.175 mm tool cannot enter.
    outer = shapely.union_all(
        [Polygon(make.rect(0, 0, 40, 30)), Polygon(make.rect(40, 14, 55, 16))]
    )
    island = make.circle(14, 15, 4)
    design = make.drawing(
        (np.asarray(outer.exterior.coords)[:-1], make.RED, True), (island, make.RED, True)
    )
    depth = 3.0
    result = plan_with(design, pocket_depth=depth)
    tp = result.plan.toolpath
    offset = np.asarray(result.plan.facts["origin_mm"])
    region = shapely.transform(outer.difference(Polygon(island)), lambda p: p + offset)

    swept = shapely.union_all(shapely.buffer(segments_at(tp, "pocket", -depth), R, quad_segs=16))
    # The reference for what the tool cannot reach: the region minus its opening by r.
    opening = region.buffer(-R, quad_segs=32).buffer(R, quad_segs=32)
    unreachable = region.difference(opening)
    uncut = opening.difference(swept)
    # Tolerance: chords of the arcs leave slivers; none may be 0.05 mm wide.
    assert uncut.buffer(-0.025).is_empty, uncut.area
    # The tool never cuts into the walls or the island.
    assert swept.difference(region.buffer(0.01)).area < 1e-3
    # The slot is reported with the area the reference finds; the rounds a right-angle
    # corner always keeps (0.21 r² each) are drawn but not listed (pieces under 0.5 r²).
    reported = [t for t in result.plan.facts["too_small"] if t["operation"] == "pocket"]
    pieces = shapely.get_parts(unreachable)
    listed = pieces[shapely.area(pieces) > 0.5 * R * R]
    assert len(listed) == 1 and listed[0].centroid.x > 40 + offset[0]  # the slot
    assert reported[0]["count"] == 1
    assert reported[0]["area_mm2"] == pytest.approx(listed[0].area, rel=0.02)
    assert any("too narrow" in w.en for w in result.warnings)
    preview = result.preview.svg
    assert 'data-role="too_small"' in preview


def test_step_over_leaves_no_ridge_between_pocket_passes(hdpe_settings, mill_settings, make):
    """Neighbouring offsets are one step-over apart, never more than the tool's radius."""
    design = make.drawing((make.rect(0, 0, 33, 21), make.RED, True))
    work = plan_drawing(design, mill_settings, hdpe_settings, JobOptions2D(), 5.0)
    rings = [
        c.path for c in work.cuts if c.role == "pocket" and c.levels[0] == work.cuts[0].levels[0]
    ]
    step = hdpe_settings.cutting["flat-3.175"].step_over * 3.175
    lines = [shapely.LinearRing(r) for r in rings]
    for inner, outer in itertools.pairwise(lines):
        gap = shapely.hausdorff_distance(inner, outer)
        assert gap <= step * np.sqrt(2) + 1e-6  # corners of an inward offset: step / sin 45°
    assert step <= R


@pytest.mark.parametrize("material_id", ["hdpe", "pcb-fr1", "mdf-stock"])
def test_no_move_below_its_depth_or_outside_the_work_area(
    plan_with, make, profiles, mill, material_id
):
    material = profiles.material(material_id)
    design = make.drawing(
        (make.rect(0, 0, 60, 40), make.BLACK, True),
        (make.circle(15, 20, 5), make.BLUE, True),
        (make.rect(30, 10, 55, 30), make.RED, True),
        (np.array([[5.0, 35.0], [25.0, 35.0]]), make.GREEN, False),
    )
    result = plan_with(design, material, copies=3, pocket_depth=1.0, engrave_depth=0.2)
    tp = result.plan.toolpath
    thickness = material.settings["thickness"]
    through = thickness + mill.settings["breakthrough"]
    for role, depth in (("profile", through), ("pocket", 1.0), ("engrave", 0.2)):
        z = tp.xyz[tp.role_mask(role), 2]
        assert z.min() == pytest.approx(-depth)
        assert z.min() >= -depth - 1e-9
    lo, hi = tp.bounds
    area = mill.work_area
    assert (lo[:2] >= 0).all() and hi[0] <= area.x and hi[1] <= area.y
    assert hi[2] <= mill.settings["safe_z"] + 1e-9
    assert result.plan.facts["copies_per_run"] == 3
    # Travels happen above the stock only.
    travel = tp.kind == MoveKind.TRAVEL
    assert (tp.xyz[travel, 2] >= 0).all()


def test_tabs_are_where_asked(plan_with, make, hdpe):
    width, height, count = 5.0, 1.5, 3
    part = make.rect(0, 0, 50, 30)
    result = plan_with(
        make.drawing((part, make.BLACK, True)), tabs=count, tab_width=width, tab_height=height
    )
    tp = result.plan.toolpath
    depth = hdpe.settings["thickness"] + 0.2
    tab_top = -depth + height
    # Deepest cut at each station along the tool-centre ring, from every profile move.
    ring = shapely.LinearRing(
        np.asarray(Polygon(placed(part, result)).buffer(R, quad_segs=32).exterior.coords)
    )
    mask = tp.role_mask("profile")
    a, b = tp.starts[mask], tp.xyz[mask]
    n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / 0.02).astype(int))
    seg = np.repeat(np.arange(len(a)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    pts = a[seg] + t[:, None] * (b - a)[seg]
    s = shapely.line_locate_point(ring, shapely.points(pts[:, :2]))
    step = 0.05
    bins = np.full(int(ring.length / step) + 1, np.inf)
    np.minimum.at(bins, (s / step).astype(int), pts[:, 2])
    held = np.isclose(bins, tab_top, atol=1e-6)
    cut = np.isclose(bins, -depth, atol=1e-6)
    assert (held | cut).all()
    # Runs of held stations (the ring is closed: join the two ends).
    edges = np.flatnonzero(np.diff(np.concatenate([[held[-1]], held]).astype(int)) == 1)
    assert len(edges) == count
    span = held.sum() * step / count
    assert span == pytest.approx(width + 3.175, abs=2 * step)
    # The preview marks each tab where the held stations are.
    marks = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="5.00"', result.preview.svg)
    assert len(marks) == count
    centres = np.array(marks, dtype=float) + width / 2
    s_marks = shapely.line_locate_point(ring, shapely.points(centres))
    assert held[(s_marks / step).astype(int)].all()


@pytest.mark.parametrize("direction,sign", [("climb", -1), ("conventional", 1)])
def test_cutting_direction(hdpe_settings, mill_settings, make, direction, sign):
    """With an M3 spindle, climb milling runs clockwise around a part, anticlockwise in a hole."""
    design = make.drawing(
        (make.rect(0, 0, 40, 30), make.BLACK, True), (make.circle(20, 15, 6), make.BLUE, True)
    )
    opts = JobOptions2D(climb=direction == "climb")
    work = plan_drawing(design, mill_settings, hdpe_settings, opts, 5.0)
    outer = [c for c in work.cuts if c.stage == 3]
    hole = [c for c in work.cuts if c.stage == 2]
    assert outer and hole
    assert all(np.sign(signed_area(c.path)) == sign for c in outer)
    assert all(np.sign(signed_area(c.path)) == -sign for c in hole)


def signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


@pytest.mark.parametrize("entry", ["ramp", "plunge"])
def test_entry_ramps_at_the_angle_or_plunges(plan_with, make, entry):
    result = plan_with(
        make.drawing((make.rect(0, 0, 40, 30), make.BLACK, True)),
        entry=entry,
        ramp_angle=4.0,
        tabs=0,
    )
    tp = result.plan.toolpath
    down = (tp.kind == MoveKind.PLUNGE) & (tp.xyz[:, 2] < -1e-9)
    d = tp.xyz[down] - tp.starts[down]
    horizontal = np.linalg.norm(d[:, :2], axis=1)
    slope = -d[:, 2] / np.maximum(horizontal, 1e-12)
    if entry == "ramp":
        assert slope.max() <= np.tan(np.radians(4.0)) + 1e-6
    else:
        assert (horizontal < 1e-9).all()
    # Plunges and ramps go at the material's plunge rate.
    data = result.plan.facts
    assert data["tools"][0]["tool"] == "flat-3.175"
    assert np.allclose(tp.feed[tp.kind == MoveKind.PLUNGE], 300 / 60)


def test_notch_narrower_than_the_tool_is_reported_for_a_cut_out(plan_with, make):
    """A 2 mm notch in an outline cut with a 3.175 mm tool: the material left in it is the
    closing of the part by the tool minus the part (reference computed here)."""
    outline = np.array(
        [[0, 0], [40, 0], [40, 30], [21, 30], [21, 20], [19, 20], [19, 30], [0, 30]], float
    )
    result = plan_with(make.drawing((outline, make.BLACK, True)), tabs=0)
    part = Polygon(placed(outline, result))
    closing = part.buffer(R, quad_segs=32).buffer(-R, quad_segs=32)
    left = closing.difference(part)
    pieces = shapely.get_parts(left)
    notch = pieces[shapely.area(pieces) > 0.5 * R * R]
    assert len(notch) == 1 and notch[0].area == pytest.approx(2 * 10, rel=0.05)
    (reported,) = [t for t in result.plan.facts["too_small"] if t["operation"] == "outside"]
    assert reported["count"] == 1
    assert reported["area_mm2"] == pytest.approx(notch[0].area, rel=0.02)
    # The tool indeed never enters the notch.
    pts = shapely.points(role_points(result.plan.toolpath, "profile")[:, :2])
    assert not shapely.intersects(pts, notch[0].buffer(-0.05)).any()
