"""Machine files read back move by move, the estimate, and the plugin on corpus drawings."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import shapely
from fabserver_mill import MillPlugin
from fabserver_mill.plan2d import JobOptions2D, plan_drawing
from shapely.geometry import Polygon

from fabserver.designs import load_design
from fabserver.toolpath import EventKind, MoveKind

WORD = re.compile(r"([A-Z])(-?\d+(?:\.\d+)?)")


def job(make):
    return make.drawing(
        (make.rect(0, 0, 60, 40), make.BLACK, True),
        (make.circle(15, 20, 5), make.BLUE, True),
        (make.rect(30, 10, 55, 30), make.RED, True),
        (np.array([[5.0, 35.0], [25.0, 35.0]]), make.GREEN, False),
    )


def written(plan, suffix_end: str) -> list[bytes]:
    out = []
    for f in plan.outputs:
        if f.suffix.endswith(suffix_end):
            buf = io.BytesIO()
            f.write(buf)
            out.append(buf.getvalue())
    return out


def read_gcode(text: str):
    """A small independent G-code reader: modal G0/G1, X/Y/Z/F words, M codes."""
    pos = {"X": np.nan, "Y": np.nan, "Z": np.nan}
    motion, feed = None, None
    moves, m_codes, spindle = [], [], []
    for raw in text.splitlines():
        line = re.sub(r"\(.*?\)", "", raw).strip()
        if not line:
            continue
        words = WORD.findall(line)
        letters = {k: float(v) for k, v in words}
        if "M" in letters:
            m_codes.append(int(letters["M"]))
            if "S" in letters:
                spindle.append(letters["S"])
            continue
        if "G" in letters and letters["G"] in (0, 1):
            motion = int(letters["G"])
        elif "G" in letters:
            continue
        if "F" in letters:
            feed = letters["F"]
        if any(k in letters for k in "XYZ"):
            for k in "XYZ":
                if k in letters:
                    pos[k] = letters[k]
            moves.append((motion, pos["X"], pos["Y"], pos["Z"], feed))
    return np.array(moves, dtype=float), m_codes, spindle


def test_gcode_reads_back_as_the_toolpath(plan_with, make, mill):
    result = plan_with(job(make))
    plan = result.plan
    tp = plan.toolpath
    (gcode,) = written(plan, ".nc")
    text = gcode.decode()
    lines = text.splitlines()
    start = lines.index("G21")
    assert lines[start : start + 4] == ["G21", "G90", "G17", "G94"]
    assert all(line.startswith("(") for line in lines[:start])  # notes for the operator
    assert any("stock: 70.0 x 50.0 x 10.0 mm" in line for line in lines[:start])
    moves, m_codes, spindle = read_gcode(text)
    # The program starts with a move to safe Z, then every toolpath move, then the end.
    body = moves[1 : 1 + len(tp)]
    assert np.allclose(body[:, 1:4], tp.xyz, atol=1e-3)
    rapid = tp.kind == MoveKind.TRAVEL
    assert (body[rapid, 0] == 0).all() and (body[~rapid, 0] == 1).all()
    assert np.allclose(body[~rapid, 4], tp.feed[~rapid] * 60.0, atol=0.5)
    changes = tp.events_of(EventKind.TOOL_CHANGE)
    assert m_codes.count(0) == len(changes) == 2  # V-bit for engraving, then the end mill
    assert spindle == [16000.0, 14000.0]
    # A 60° V-bit with a 0.1 mm tip, 0.3 mm deep: 0.1 + 2·0.3·tan 30° wide.
    assert plan.facts["engrave_width_mm"] == pytest.approx(
        0.1 + 0.6 * np.tan(np.radians(30)), abs=1e-3
    )
    assert m_codes[-1] == 2
    assert text.count("(MSG, Changer l'outil / Change tool: vbit-60") == 1
    assert gcode.isascii()


def test_rml_reads_back_as_the_toolpath_one_file_per_tool(plan_with, make):
    result = plan_with(job(make))
    tp = result.plan.toolpath
    files = written(result.plan, ".rml")
    assert len(files) == 2
    steps = []
    for data in files:
        text = data.decode()
        assert text.startswith("PA;PA;!RC") and text.rstrip().endswith("!MC0;")
        xyz = np.array(re.findall(r"^Z(-?\d+),(-?\d+),(-?\d+);$", text, re.M), dtype=int)
        steps.append(xyz[:-1])  # the last one lifts to safe Z before the spindle stops
    expected = np.rint(tp.xyz * 100).astype(int)
    assert np.array_equal(np.vstack(steps), expected)
    # Speeds in mm/s: every feed of the toolpath appears as a VS command.
    speeds = {float(v) for data in files for v in re.findall(r"VS([\d.]+);", data.decode())}
    assert {round(float(f), 1) for f in np.unique(tp.feed)} <= speeds


def test_estimate_counts_tool_changes_and_prices_the_stock(plan_with, make, mill, hdpe):
    result = plan_with(job(make), copies=2)
    tp = result.plan.toolpath
    changes = len(tp.events_of(EventKind.TOOL_CHANGE))
    spin_up = mill.settings.get("spin_up", 2.0)
    assert result.estimate.event_time_s == pytest.approx(
        changes * (mill.timing["tool_change"] + spin_up)
    )
    # Motion is never faster than each move at its own feed.
    lower = float((tp.lengths / tp.feed)[tp.lengths > 0].sum())
    assert result.estimate.motion_time_s >= lower
    # Stock: the drawing's bounds plus the margins, the sheet's thickness, for both copies.
    sx, sy, t = result.plan.facts["stock_mm"]
    margin = 5.0
    assert (sx, sy) == pytest.approx((60 + 2 * margin, 40 + 2 * margin))
    volume = 2 * sx * sy * t / 1000.0
    assert result.estimate.cost_eur == pytest.approx(volume * hdpe.prices["cm3"], rel=1e-3)


def test_too_big_for_the_mill_is_a_message(plan_with, make):
    from fabserver.errors import PlanError

    with pytest.raises(PlanError) as err:
        plan_with(make.drawing((make.rect(0, 0, 300, 100), make.BLACK, True)))
    assert "does not fit" in err.value.message.en and "ne tient pas" in err.value.message.fr


def test_unknown_operation_in_the_map_is_a_message(plan_with, make):
    from fabserver.errors import PlanError

    with pytest.raises(PlanError) as err:
        plan_with(job(make), operation_map="#ff0000=drill")
    assert "drill" in err.value.message.en


def test_corpus_puzzle_piece_cut_out_by_layer(plan_with, corpus):
    design = load_design((corpus / "dxf" / "Puzzle-R2007.dxf").read_bytes(), "Puzzle-R2007.dxf")
    result = plan_with(design, operation_map="layer:PUZZLE=outside", tabs=2)
    tp = result.plan.toolpath
    piece = Polygon(design.paths[0].points)
    piece = shapely.transform(piece, lambda p: p + np.asarray(result.plan.facts["origin_mm"]))
    pts = shapely.points(tp.xyz[tp.role_mask("profile"), :2])
    assert np.abs(shapely.distance(pts, piece.exterior) - 3.175 / 2).max() <= 0.01


def test_corpus_drawing_that_fits_turned(plan_with, corpus, mill):
    """DrillGauge.svg (110 × 177 mm with margins) only fits the 200 × 150 mm mill turned."""
    design = load_design((corpus / "svg" / "DrillGauge.svg").read_bytes(), "DrillGauge.svg")
    result = plan_with(design, cut_depth=3.0)
    assert result.plan.facts["turned"] is True
    assert any("quarter turn" in w.en for w in result.warnings)
    lo, hi = result.plan.toolpath.bounds
    assert (lo[:2] >= 0).all() and hi[0] <= mill.work_area.x and hi[1] <= mill.work_area.y
    assert {"engrave", "profile"} <= set(result.plan.toolpath.roles)


def test_corpus_layers_choose_the_operations(corpus, mill_settings, hdpe_settings):
    """LM2.dxf: IZREZ is the outline, HOLES the holes (the part is too big for the mill, so
    the geometry is checked before placement on the machine)."""
    design = load_design((corpus / "dxf" / "LM2.dxf").read_bytes(), "LM2.dxf")
    opts = JobOptions2D(
        operation_map="layer:IZREZ=outside,layer:HOLES=inside", tool="flat-2", cut_depth=3.0
    )
    work = plan_drawing(design, mill_settings, hdpe_settings, opts, 5.0)
    stages = {c.stage for c in work.cuts}
    assert stages == {2, 3}  # inside and outside profiles only
    holes = [p for p in design.paths if p.layer.upper() == "HOLES"]
    inside_cuts = [c for c in work.cuts if c.stage == 2]
    assert len({id(c) for c in inside_cuts}) >= len(holes)
    # Every inside ring lies 1 mm (the 2 mm tool's radius) inside one of the holes.
    shapes = [Polygon(p.points + work.offset) for p in holes]
    for c in inside_cuts:
        d = min(shapely.distance(shapely.points(c.path), s.exterior).max() for s in shapes)
        assert d == pytest.approx(1.0, abs=0.01)


def test_plugin_declares_both_dialects():
    assert {f.suffix for f in MillPlugin.formats} == {".nc", ".rml"}
