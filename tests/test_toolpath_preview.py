"""Toolpath arrays and the preview drawn from them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from fabserver.preview import layer_data, polylines, toolpath_svg
from fabserver.toolpath import EventKind, MoveKind, ToolpathBuilder


def two_layers():
    b = ToolpathBuilder()
    b.new_layer(0.2)
    b.add_path(
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        MoveKind.EXTRUDE,
        40,
        role="perimeter",
        e=0.5,
        z=0.2,
    )
    b.retract(-0.8, 35)
    b.move_to(20, 20, feed=150)
    b.new_layer(0.4)
    b.add_path([[30, 20], [30, 30]], MoveKind.EXTRUDE, 40, role="infill", z=0.4)
    return b.build()


def test_builder_records_moves_layers_and_events():
    tp = two_layers()
    assert len(tp) == 9
    assert tp.roles == ("perimeter", "retract", "travel", "infill")
    assert tp.layer_z == (0.2, 0.4)
    assert [e.kind for e in tp.events] == [EventKind.LAYER_CHANGE] * 2
    # From the start (0, 0, 0) up to z 0.2, the square, then a rising diagonal into layer 2.
    assert tp.length_of(MoveKind.EXTRUDE) == pytest.approx(0.2 + 40 + np.hypot(10, 0.2) + 10)
    assert float(tp.e.sum()) == pytest.approx(5 * 0.5 - 0.8)
    with pytest.raises(ValueError):
        tp.xyz[0, 0] = 5  # frozen


@pytest.mark.parametrize("first", [MoveKind.EXTRUDE, MoveKind.TRAVEL])
def test_work_moves_their_bounds_and_lengths_are_numpys(first):
    """The work mask, the work bounds and the lengths of some moves, worked out from
    those moves' rows, are what the whole arrays give (``np.isin``, ``np.linalg.norm``)."""
    rng = np.random.default_rng(5)
    b = ToolpathBuilder()
    b.move_to(3, -4, 1, kind=first, feed=50)  # from the start (0, 0, 0)
    kinds = [MoveKind.EXTRUDE, MoveKind.TRAVEL, MoveKind.CUT, MoveKind.JUMP, MoveKind.STITCH]
    for kind in rng.choice(kinds, 300).tolist():
        b.add_path(rng.uniform(-50, 80, (3, 3)), MoveKind(kind), 40)
    b.retract(-0.8, 35)
    tp = b.build()
    work = ~np.isin(tp.kind, [MoveKind.TRAVEL, MoveKind.JUMP, MoveKind.RETRACT])
    np.testing.assert_array_equal(tp.work_mask(), work)
    ends_and_begins = np.vstack([tp.xyz[work], tp.starts[work]])
    expected = np.array([ends_and_begins.min(axis=0), ends_and_begins.max(axis=0)])
    np.testing.assert_array_equal(tp.work_bounds, expected)
    lengths = np.linalg.norm(tp.xyz - tp.starts, axis=1)
    np.testing.assert_array_equal(tp.lengths, lengths)
    for mask in (work, ~work, tp.kind == MoveKind.CUT):
        np.testing.assert_array_equal(tp.lengths_where(mask), lengths[mask])
    travel_only = ToolpathBuilder()
    travel_only.move_to(5, 5, feed=100)
    assert not travel_only.build().work_mask().any()
    np.testing.assert_array_equal(travel_only.build().work_bounds, np.zeros((2, 3)))


def test_concatenate_keeps_roles_and_shifts_layers():
    tp = two_layers()
    both = tp.concatenate(tp)
    assert len(both) == 2 * len(tp)
    assert both.n_layers == 4
    assert both.roles == tp.roles
    assert both.events[-1].index == len(tp) + tp.events[-1].index


def test_polylines_split_at_travel_and_role():
    runs = polylines(two_layers())
    assert [len(pts) for _, pts in runs] == [6, 3]  # each run starts where the tool was


def test_svg_is_valid_xml_in_millimetres_with_y_up():
    svg = toolpath_svg(two_layers())
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    paths = root.findall(f".//{ns}path")
    roles = {p.get("data-role") for p in paths if p.get("data-role")}
    assert roles == {"perimeter", "infill"}
    x0, y0, w, h = map(float, root.get("viewBox").split())
    # Work spans x 0..30, y 0..30; 1 mm margin; SVG y is the machine's -y.
    assert (x0, w, h) == pytest.approx((-1.0, 32.0, 32.0))
    assert -y0 == pytest.approx(30 + 1.0)


def test_layer_data_for_the_slider():
    data = layer_data(two_layers())
    assert [layer["z"] for layer in data["layers"]] == [0.2, 0.4]
    role, flat = data["layers"][1]["paths"][0]
    assert data["roles"][role] == "infill"
    assert np.allclose(flat, [20, 20, 30, 20, 30, 30])


def _view_box(svg: str) -> list[float]:
    return [float(v) for v in ET.fromstring(svg).get("viewBox").split()]


@pytest.mark.parametrize(
    "part,expected",
    [
        # In the corner of a 600 × 400 mm sheet: the part and the sheet's two edges by it.
        ((5.0, 5.0, 45.0, 25.0), (0.0, 0.0, 45.0, 25.0)),
        # In the middle: the part alone (the sheet's edges are out of reach).
        ((280.0, 190.0, 320.0, 210.0), (280.0, 190.0, 320.0, 210.0)),
    ],
)
def test_a_small_part_is_framed_on_its_sheet(part, expected):
    from fabserver.preview import Frames, Lines, Preview, render
    from fabserver.toolpath import Toolpath

    x0, y0, x1, y1 = part
    outline = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    sheet = Frames("sheet", np.array([[0.0, 0.0, 600.0, 400.0]]))
    preview = Preview(Toolpath.empty(), (sheet, Lines("cut", [outline], [True])), frame_work=True)
    vx, vy, vw, vh = _view_box(render(preview, Toolpath.empty(), {}).svg)
    ex0, ey0, ex1, ey1 = expected
    margin = max(1.0, 0.02 * max(ex1 - ex0, ey1 - ey0))
    assert (vx, -vy - vh, vx + vw, -vy) == pytest.approx(
        (ex0 - margin, ey0 - margin, ex1 + margin, ey1 + margin), abs=0.01
    )
    # Without it, the whole sheet is shown.
    whole = Preview(Toolpath.empty(), preview.overlays)
    assert _view_box(render(whole, Toolpath.empty(), {}).svg)[2] == pytest.approx(600.0 * 1.04)
