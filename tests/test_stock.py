"""Planning on offcuts: footprint, fit, the smallest piece first, charge and leftover."""

from __future__ import annotations

import numpy as np
import pytest

from fabserver.estimate import Estimate, MaterialLine
from fabserver.i18n import Text
from fabserver.profiles import MaterialProfile, validated
from fabserver.stock import (
    EDGE_CLEARANCE_MM,
    Piece,
    charge,
    footprint,
    leftover,
    place,
    plan_on_offcut,
    price_per_mm2,
)
from fabserver.toolpath import MoveKind, ToolpathBuilder

PLYWOOD = validated(
    MaterialProfile,
    {
        "id": "plywood-3",
        "name": "Contreplaqué",
        "kind": "sheet",
        "plugins": ["laser"],
        "prices": {"sheet": 6.0},
        "settings": {"sheet": {"x": 600, "y": 400}},
    },
)
VINYL = validated(
    MaterialProfile,
    {"id": "vinyl", "name": "Vinyle", "kind": "vinyl", "plugins": ["vinyl"], "prices": {"m2": 8.0}},
)


def rectangle_path(x0: float, y0: float, w: float, h: float, *more) -> ToolpathBuilder:
    """Cut contours of rectangles, travelling between them."""
    b = ToolpathBuilder()
    for rx, ry, rw, rh in [(x0, y0, w, h), *more]:
        b.move_to(rx, ry, 0.0, feed=100.0)
        pts = [(rx + rw, ry), (rx + rw, ry + rh), (rx, ry + rh), (rx, ry)]
        b.add_path(np.array(pts), MoveKind.CUT, 20.0, role="cut", z=0.0)
    return b


def piece(pid: int, w: float, h: float, material: str = "plywood-3", note: str = "") -> Piece:
    return Piece.from_dict(
        {"id": pid, "material": material, "width_mm": w, "height_mm": h, "note": note}
    )


def test_footprint_covers_the_work_moves_not_the_travels():
    tp = rectangle_path(100, 50, 40, 20).build()  # travel from the origin first
    shape = footprint(tp, clearance=0)
    assert shape.bounds == pytest.approx((100, 50, 140, 70))
    grown = footprint(tp)
    assert grown.bounds == pytest.approx(
        (100 - EDGE_CLEARANCE_MM, 50 - EDGE_CLEARANCE_MM, 140 + EDGE_CLEARANCE_MM, 70 + 3)
    )


def test_two_parts_far_apart_keep_the_gap_out_of_their_outline():
    tp = rectangle_path(0, 0, 10, 10, (100, 0, 10, 10)).build()
    shape = footprint(tp, clearance=0)
    assert shape.area == pytest.approx(200)  # two squares, not the 110 × 10 hull


def test_smallest_piece_that_fits_first_and_named():
    tp = rectangle_path(5, 5, 40, 40).build()
    pieces = [piece(1, 300, 300), piece(14, 150, 100, note="étagère B"), piece(2, 30, 30)]
    placement = place(tp, PLYWOOD, pieces)
    assert placement.piece.id == 14
    assert placement.piece.label == Text("chute n° 14, étagère B", "offcut no. 14, étagère B")
    assert placement.area_mm2 == pytest.approx(46 * 46)
    assert placement.cost_eur == pytest.approx(46 * 46 * 6 / 240_000)


def test_a_long_part_goes_on_a_turned_piece():
    tp = rectangle_path(5, 5, 20, 120).build()  # 20 wide, 120 tall
    placement = place(tp, PLYWOOD, [piece(3, 150, 40)])
    assert placement is not None and placement.rotation == 90
    x0, y0, x1, y1 = placement.used
    assert (x1 - x0, y1 - y0) == pytest.approx((126, 26))  # within the 150 × 40 piece
    assert x0 >= 0 and x1 <= 150 and y0 >= 0 and y1 <= 40


def test_vinyl_remnant_must_be_long_enough_as_it_is():
    tp = rectangle_path(5, 5, 20, 120).build()
    assert place(tp, VINYL, [piece(3, 150, 40, material="vinyl")], rotations=(0,)) is None
    estimate = Estimate(60, 60, 0, 1, 1, (), 0.0)
    _, found = plan_on_offcut(tp, 1, estimate, VINYL, [piece(3, 150, 40, material="vinyl")])
    assert found is None  # vinyl is never turned
    _, found = plan_on_offcut(tp, 1, estimate, VINYL, [piece(4, 40, 200, material="vinyl")])
    assert found is not None and found.rotation == 0


def test_odd_outline_takes_a_part_that_fits_inside_it():
    triangle = Piece.from_dict(
        {"id": 7, "material": "plywood-3", "outline_mm": [[0, 0], [200, 0], [100, 150]]}
    )
    small = rectangle_path(0, 0, 30, 30).build()
    placement = place(small, PLYWOOD, [triangle])
    assert placement is not None
    x0, y0, x1, y1 = placement.used
    from shapely.geometry import box

    assert triangle.outline.buffer(1e-6).contains(box(x0, y0, x1, y1))
    too_big = rectangle_path(0, 0, 150, 100).build()
    assert place(too_big, PLYWOOD, [triangle]) is None


def test_nothing_fits_and_other_materials_are_ignored():
    tp = rectangle_path(0, 0, 200, 200).build()
    assert place(tp, PLYWOOD, [piece(1, 150, 100)]) is None
    small = rectangle_path(0, 0, 10, 10).build()
    assert place(small, PLYWOOD, [piece(1, 150, 100, material="acrylic-3")]) is None


def test_several_sheets_are_not_planned_on_an_offcut():
    tp = rectangle_path(0, 0, 10, 10).build()
    estimate = Estimate(60, 60, 0, 1, 2, (), 12.0)
    same, found = plan_on_offcut(tp, 2, estimate, PLYWOOD, [piece(1, 150, 100)])
    assert found is None and same is estimate


def test_charge_replaces_the_sheet_line_by_the_area_used():
    tp = rectangle_path(5, 5, 40, 40).build()
    line = MaterialLine("plywood-3", Text("Contreplaqué", "Plywood"), 1.0, "sheet", 6.0)
    other = MaterialLine("air", Text("Air", "Air"), 1.0, "min", 0.5)
    estimate = Estimate(60, 60, 0, 1, 1, (line, other), 6.5)
    charged, placement = plan_on_offcut(tp, 1, estimate, PLYWOOD, [piece(14, 150, 100)])
    assert [m.unit for m in charged.materials] == ["cm2", "min"]
    assert charged.materials[0].quantity == pytest.approx(46 * 46 / 100)
    assert charged.cost_eur == pytest.approx(placement.cost_eur + 0.5)
    assert charge(estimate, placement, PLYWOOD).cost_eur == pytest.approx(charged.cost_eur)


def test_leftover_is_the_largest_useful_strip():
    p = piece(1, 150, 100)
    assert leftover(p, (0, 0, 46, 46)) == {"width_mm": 104.0, "height_mm": 100.0}
    assert leftover(p, (0, 0, 140, 46)) == {"width_mm": 150.0, "height_mm": 54.0}
    assert leftover(p, (0, 0, 140, 90)) is None  # 10 mm strips are scrap


def test_leftover_of_an_odd_piece_is_an_outline():
    triangle = Piece.from_dict(
        {"id": 7, "material": "plywood-3", "outline_mm": [[0, 0], [200, 0], [100, 150]]}
    )
    rest = leftover(triangle, (20, 0, 60, 30))
    assert rest is not None and len(rest["outline_mm"]) >= 3
    xs = [x for x, _ in rest["outline_mm"]]
    assert min(xs) == 0


@pytest.mark.parametrize(
    ("prices", "settings", "per_m2"),
    [
        ({"m2": 8.0}, {}, 8.0),
        ({"sheet": 6.0}, {"sheet": {"x": 600, "y": 400}}, 25.0),
        ({"cm3": 0.002}, {"thickness": 18}, 0.002 * 1.8 * 10_000),
        ({"m": 3.0}, {"roll_width": 600}, 5.0),
        ({"kg": 3.0}, {}, None),
    ],
)
def test_price_by_area_from_the_unit_the_lab_uses(prices, settings, per_m2):
    material = validated(
        MaterialProfile,
        {
            "id": "m",
            "name": "m",
            "kind": "sheet",
            "plugins": ["laser"],
            "prices": prices,
            "settings": settings,
        },
    )
    price = price_per_mm2(material)
    assert (price is None) if per_m2 is None else price * 1e6 == pytest.approx(per_m2)
