"""The plugin's parts one by one: colour map, clean-up, containment, kerf, nesting,
raster and ordering, each against a second computation or a hand-checked case."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fabserver_laser.colours import OPERATIONS, classify
from fabserver_laser.geometry import (
    clean_linework,
    containment,
    even_odd_area,
    make_polygons,
    offset_rings,
)
from fabserver_laser.nesting import pack
from fabserver_laser.ordering import order_contours
from fabserver_laser.raster import RasterMoves, raster_moves, scan_segments

from fabserver.designs.types import DrawingPath
from fabserver.errors import PlanError
from fabserver.operations import OperationMap

LAB_MAP = "stroke:#ff0000=cut, stroke:#0000ff=score, fill:#000000=engrave"


def square(x, y, size):
    return np.array([[x, y], [x + size, y], [x + size, y + size], [x, y + size]], dtype=float)


def circle(cx, cy, r, n=64):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


# --- colours ---------------------------------------------------------------


def test_lab_map_follows_stroke_and_fill():
    paths = [
        DrawingPath(square(0, 0, 10), True, stroke=(255, 0, 0)),  # cut
        DrawingPath(square(0, 0, 5), True, stroke=(0, 0, 255)),  # score
        DrawingPath(square(20, 0, 5), True, fill=(0, 0, 0)),  # engrave
        DrawingPath(square(30, 0, 5), True, stroke=(0, 0, 0)),  # black outline: unmapped
        DrawingPath(square(40, 0, 5), True, stroke=(0, 255, 0)),  # green: unmapped
        DrawingPath(square(50, 0, 5), True, stroke=(250, 3, 4)),  # near red: cut
    ]
    result = classify(paths, OperationMap.parse(OPERATIONS, LAB_MAP))
    assert result.outlines == {"cut": (0, 5), "score": (1,)}
    assert result.engrave == (2,)
    listed = {u.colour: (u.paths, u.length_mm) for u in result.unmapped}
    assert listed == {"#000000": (1, 20.0), "#00ff00": (1, 20.0)}


def test_job_entries_override_and_presets_expand():
    presets = {"boxes": "#000000=cut, #0000ff=cut, #ff0000=ignore"}
    cmap = OperationMap.parse(OPERATIONS, LAB_MAP, presets).updated("boxes", presets)
    paths = [
        DrawingPath(square(0, 0, 10), True, stroke=(0, 0, 0)),
        DrawingPath(square(1, 1, 2), True, stroke=(0, 0, 255)),
        DrawingPath(square(5, 5, 2), True, stroke=(255, 0, 0)),
    ]
    result = classify(paths, cmap)
    assert result.outlines["cut"] == (0, 1)
    assert result.ignored == 1 and not result.unmapped


def test_layer_patterns_win_over_colours_and_later_entries_win():
    cmap = OperationMap.parse(OPERATIONS, "layer:*cut*=cut, stroke:#000000=score").updated(
        "layer:*=score"
    )
    path = DrawingPath(square(0, 0, 10), True, stroke=(0, 0, 0), layer="CUT-OUTER")
    assert classify([path], cmap).outlines["score"] == (0,)
    cmap = OperationMap.parse(OPERATIONS, "stroke:#000000=score").updated("layer:*cut*=cut")
    assert classify([path], cmap).outlines["cut"] == (0,)


@pytest.mark.parametrize("bad", ["#ff0000=burn", "#zzzzzz=cut", "nopreset"])
def test_bad_map_entries_are_maker_errors(bad):
    with pytest.raises(PlanError) as err:
        OperationMap.parse(OPERATIONS, bad, {"boxes": "#000000=cut"})
    assert err.value.message.fr and err.value.message.en
    assert bad.split("=")[0] in err.value.message.en


# --- clean-up --------------------------------------------------------------


def test_duplicates_are_merged_and_measured():
    rect = square(0, 0, 50)
    edges = [(np.array([rect[i], rect[(i + 1) % 4]]), False, i) for i in range(4)]
    top_again = (np.array([[50.0, 50.0], [0.0, 50.0]]), False, 4)
    hole = (circle(25, 25, 5), True, 5)
    hole_again = (circle(25, 25, 5)[::-1], True, 6)  # same circle, other direction
    overlap = [(np.array([[10.0, 30.0], [30.0, 30.0]]), False, 7)]
    overlap += [(np.array([[20.0, 30.0], [40.0, 30.0]]), False, 8)]
    lw = clean_linework([*edges, top_again, hole, hole_again, *overlap], 0.005)
    # The four edges chain into one ring; the circle is kept once.
    assert len(lw.rings) == 2 and lw.duplicate_paths == 1
    areas = sorted(shapely.area(make_polygons(lw.rings)))
    assert areas == pytest.approx([shapely.Polygon(circle(25, 25, 5)).area, 2500.0])
    # One line from 10 to 40 remains of the two overlapping ones.
    assert len(lw.lines) == 1
    assert np.ptp(lw.lines[0][:, 0]) == pytest.approx(30.0)
    circle_length = shapely.LinearRing(circle(25, 25, 5)).length
    assert lw.duplicate_length == pytest.approx(50.0 + circle_length + 10.0, abs=0.05)


# --- containment and kerf ----------------------------------------------------


def test_containment_matches_pairwise_check():
    rng = np.random.default_rng(7)
    rings = [square(0, 0, 100), square(10, 10, 40), square(15, 15, 10), square(60, 60, 20)]
    rings += [circle(*rng.uniform(120, 280, 2), rng.uniform(2, 20)) for _ in range(30)]
    polys = make_polygons(rings)
    depth, parent = containment(polys)
    covers = shapely.contains(polys[:, None], polys[None, :])
    np.fill_diagonal(covers, False)
    assert np.array_equal(depth, covers.sum(axis=0))
    for j in range(len(rings)):
        containers = np.flatnonzero(covers[:, j])
        if containers.size == 0:
            assert parent[j] == -1
        else:  # the innermost container is the smallest one
            assert parent[j] == containers[np.argmin(shapely.area(polys[containers]))]


def test_kerf_moves_parts_out_and_holes_in():
    rings = [square(0, 0, 40), circle(20, 20, 5), square(17, 17, 6), circle(80, 80, 0.05)]
    polys = make_polygons(rings)
    depth, _ = containment(polys)
    assert list(depth) == [0, 1, 2, 0]
    moved, source, vanished = offset_rings(rings, polys, depth, 0.2)
    assert list(source) == [0, 1, 2, 3] and not vanished.any()
    for ring, src in zip(moved, source, strict=True):
        before, after = shapely.Polygon(rings[src]), shapely.Polygon(ring)
        grows = depth[src] % 2 == 0
        assert (after.area > before.area) == grows
        # Every point of the new contour is half a kerf from the old one (mitre corners further).
        dense = shapely.get_coordinates(shapely.segmentize(after.exterior, 0.5))
        d = shapely.distance(shapely.points(dense), before.exterior)
        assert d.min() >= 0.1 - 1e-6
        assert np.median(d) == pytest.approx(0.1, abs=1e-3)
        assert d.max() <= 0.1 * 4 + 1e-6
    # A hole smaller than the kerf is kept as drawn.
    small = [square(0, 0, 10), circle(5, 5, 0.05)]
    moved, source, vanished = offset_rings(small, make_polygons(small), np.array([0, 1]), 0.2)
    assert list(vanished) == [False, True]
    assert np.allclose(moved[1], small[1])


def test_even_odd_area_keeps_counters_clear():
    area = even_odd_area([square(0, 0, 30), square(10, 10, 10), square(12, 12, 2)])
    assert area.area == pytest.approx(900 - 100 + 4)
    assert not area.contains(shapely.Point(11, 11)) and area.contains(shapely.Point(13, 13))


# --- nesting ---------------------------------------------------------------


def test_packing_never_overlaps_and_stays_on_the_sheet():
    rng = np.random.default_rng(3)
    sizes = [tuple(s) for s in rng.uniform(10, 150, (60, 2))]
    usable, spacing = (590.0, 390.0), 3.0
    placed = pack(sizes, usable, spacing)
    boxes = []
    for (w, h), (sheet, rotated, x, y) in zip(sizes, placed, strict=True):
        bw, bh = (h, w) if rotated else (w, h)
        assert x >= -1e-9 and y >= -1e-9
        assert x + bw <= usable[0] + 1e-9 and y + bh <= usable[1] + 1e-9
        boxes.append((sheet, shapely.box(x, y, x + bw, y + bh)))
    for i, (si, bi) in enumerate(boxes):
        for sj, bj in boxes[i + 1 :]:
            if si == sj:
                assert bi.distance(bj) >= spacing - 1e-6
    sheets = 1 + max(p[0] for p in placed)
    area = sum(w * h for w, h in sizes)
    assert sheets >= area / (usable[0] * usable[1])
    assert sheets <= 2 * np.ceil(area / (usable[0] * usable[1])) + 1


def test_packing_turns_a_part_that_only_fits_turned():
    placed = pack([(300.0, 500.0)], (590.0, 390.0))
    assert placed == [(0, True, 0.0, 0.0)]
    with pytest.raises(ValueError):
        pack([(600.0, 20.0)], (590.0, 390.0))
    with pytest.raises(ValueError):
        pack([(300.0, 500.0)], (590.0, 390.0), allow_rotation=False)


# --- raster ----------------------------------------------------------------


def test_scan_lines_cover_only_the_filled_area():
    area = even_odd_area([circle(50, 50, 20), circle(50, 50, 8)])
    y, x = scan_segments(area, 0.5)
    assert np.unique(y).size == 80  # 40 mm tall at 0.5 mm
    segs = shapely.linestrings(
        np.stack([np.column_stack([x[:, 0], y]), np.column_stack([x[:, 1], y])], axis=1)
    )
    assert shapely.covered_by(segs, area.buffer(1e-6)).all()
    # The scan lines hold the area: their total length times the interval.
    assert (x[:, 1] - x[:, 0]).sum() * 0.5 == pytest.approx(area.area, rel=0.01)


def test_raster_runs_both_ways_with_overscan():
    area = shapely.box(10, 10, 30, 12)
    y, x = scan_segments(area, 0.5)
    moves = raster_moves(y, x, overscan=5.0, x_limits=(0.0, 600.0))
    on = np.flatnonzero(moves.kind == RasterMoves.ENGRAVE)
    starts = moves.points[on - 1]
    ends = moves.points[on]
    direction = np.sign(ends[:, 0] - starts[:, 0])
    assert list(direction) == [1, -1, 1, -1]
    # Each beam-on stroke is preceded by a run-up of the overscan length at speed.
    assert (moves.kind[on - 1] == RasterMoves.OVERSCAN).all()
    assert np.abs(moves.points[on - 2, 0] - starts[:, 0]) == pytest.approx(np.full(4, 5.0))
    clamped = raster_moves(y, x, overscan=50.0, x_limits=(0.0, 600.0))
    assert clamped.points[:, 0].min() == 0.0


# --- ordering --------------------------------------------------------------


def test_holes_are_cut_before_their_part_and_travel_is_short():
    rng = np.random.default_rng(11)
    contours, parent = [], []
    for _ in range(25):
        ox, oy = rng.uniform(0, 500, 2)
        contours.append(square(ox, oy, 40))
        parent.append(-1)
        outer = len(contours) - 1
        for j in range(3):
            contours.append(circle(ox + 8 + 12 * j, oy + 20, 3, 16))
            parent.append(outer)
    result = order_contours(contours, [True] * len(contours), np.array(parent))
    position = {o.index: i for i, o in enumerate(result)}
    assert sorted(position) == list(range(len(contours)))
    for child, p in enumerate(parent):
        if p >= 0:
            assert position[child] < position[p]
    # Closed contours end where they start, on one of their own vertices.
    for o in result:
        assert np.allclose(o.points[0], o.points[-1])
        assert np.isclose(contours[o.index], o.points[0]).all(axis=1).any()

    # Nearest neighbour beats the drawing order by far on scattered parts.
    def travel(seq):
        here, total = np.zeros(2), 0.0
        for pts in seq:
            total += np.linalg.norm(pts[0] - here)
            here = pts[-1]
        return total

    drawn = [np.vstack([c, c[:1]]) for c in contours]
    assert travel([o.points for o in result]) < travel(drawn)


def test_a_filled_shape_on_an_engraving_layer_is_engraved_not_outlined():
    hatch = DrawingPath(square(0, 0, 10), True, fill=(0, 0, 0), layer="GRAVURE")
    line = DrawingPath(square(20, 0, 10), False, stroke=(0, 0, 0), layer="GRAVURE")
    result = classify([hatch, line], OperationMap.parse(OPERATIONS, "layer:*gravure*=engrave"))
    assert result.engrave == (0,) and result.outlines == {"cut": (), "score": (1,)}
