"""The plugin end to end on the project's samples and a few corpus files.

G-code is read back with the tests' own reader (conftest.py); references are
computed here from the source drawing.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import shapely

from fabserver.designs import load_design
from fabserver.errors import PlanError
from fabserver.profiles import replaced
from fabserver.toolpath import EventKind


def _text(plan, suffix):
    for out in plan.outputs:
        if out.suffix == suffix:
            buf = io.BytesIO()
            out.write(buf)
            return buf.getvalue()
    raise KeyError(suffix)


def _length(runs):
    return sum(float(np.linalg.norm(np.diff(r, axis=0), axis=1).sum()) for r in runs)


def _turn(points, angle):
    """Anticlockwise quarter turns, written out: (x, y) → (-y, x) per 90 degrees."""
    pts = np.asarray(points, dtype=float)
    for _ in range((angle // 90) % 4):
        pts = np.column_stack([-pts[:, 1], pts[:, 0]])
    return pts


def _place(points, placement):
    return _turn(points, placement["angle"]) + np.asarray(placement["offset"])


@pytest.fixture(scope="module")
def keyring(samples, plan_file):
    return plan_file(samples / "laser-keyring.svg", copies=3)


def test_gcode_powers_feeds_and_air_assist(keyring, gcode_of, profiles):
    _, result = keyring
    text = _text(result.plan, ".gcode").decode()
    lines = [line.split(";")[0].strip() for line in text.splitlines()]
    assert lines.index("M4 S0") < lines.index("M8") < lines.index("M9") and lines[-1] == "M2"
    moves = gcode_of(result.plan)[0]
    settings = profiles.material("mdf-3").settings
    on = moves.beam_on
    # S is the share of $30 (1000); F is mm/min.
    expected = {
        round(settings[op]["power"] / 100 * 1000): settings[op]["speed"] * 60
        for op in ("cut", "score", "engrave")
    }
    got = {round(s): f for s, f in zip(moves.s[on], moves.feed[on], strict=True)}
    assert got == expected
    # Engrave first, then score, then cut.
    first = {
        op: np.flatnonzero(on & (moves.s == s))[[0, -1]]
        for op, s in (("engrave", 280), ("score", 180), ("cut", 650))
    }
    assert first["engrave"][1] < first["score"][0] and first["score"][1] < first["cut"][0]


def test_raster_only_over_the_filled_area(keyring, gcode_of):
    design, result = keyring
    badge = [p.points for p in design.paths if p.fill is not None]
    area = shapely.Polygon(badge[0]).symmetric_difference(shapely.Polygon(badge[1]))
    placed = shapely.union_all(
        [
            shapely.transform(area, lambda p, pl=pl: _place(p, pl))
            for pl in result.plan.facts["placements"]
        ]
    )
    moves = gcode_of(result.plan)[0]
    lit = moves.beam_on & (moves.s == 280)
    strokes = shapely.linestrings(np.stack([moves.start[lit], moves.end[lit]], axis=1))
    assert len(strokes) > 100
    assert shapely.covered_by(strokes, placed.buffer(0.01)).all()
    # Scan lines fill the area: beam-on length × line interval ≈ area (3 copies).
    assert shapely.length(strokes).sum() * 0.1 == pytest.approx(placed.area, rel=0.02)
    # The head runs up to speed before the beam fires: a beam-off move at the same feed.
    before = np.flatnonzero(lit) - 1
    assert (~moves.rapid[before]).all() and (moves.s[before] == 0).all()


def test_unmapped_colours_are_listed_not_cut(keyring, gcode_of):
    design, result = keyring
    assert result.plan.facts["unmapped_colours"] == [
        {"colour": "#00aa00", "paths": 1, "length_mm": 24.0}
    ]
    assert any("#00aa00" in w.fr and "#00aa00" in w.en for w in result.plan.warnings)
    note = next(p for p in design.paths if p.stroke == (0, 170, 0))
    moves = gcode_of(result.plan)[0]
    on = moves.beam_on
    # No beam-on move lies on the note line, whatever copy.
    for pl in result.plan.facts["placements"]:
        line = shapely.LineString(_place(note.points, pl))
        mids = shapely.points((moves.start[on] + moves.end[on]) / 2)
        assert shapely.distance(mids, line).min() > 0.5


def test_nothing_mapped_is_a_maker_error(corpus, plan_file):
    with pytest.raises(PlanError) as err:
        plan_file(corpus / "svg" / "ClosedBox.svg")
    message = err.value.message
    # What was found and what it got, in words, and where to change it: no map syntax.
    assert "Trait #000000 : rien (non réalisé)" in message.fr
    assert "Stroke #000000: nothing (not made)" in message.en
    assert "'Operations by colour' table of the quote page" in message.en
    assert "colour_map" not in message.en and "=cut" not in message.fr


def test_boxes_files_by_default_and_with_the_preset(corpus, plan_file, gcode_of):
    # Lab default: blue holes are scored, black outlines listed, nothing cut.
    _, default = plan_file(corpus / "svg" / "ABox.svg")
    assert default.plan.facts["cut_length_mm"] == 0
    assert "#000000" in [u["colour"] for u in default.plan.facts["unmapped_colours"]]
    unmapped = next(w for w in default.plan.warnings if "will NOT be made" in w.en)
    assert "Stroke #0000ff: score" in unmapped.en and "Trait #0000ff : marquage" in unmapped.fr
    assert "Stroke #000000: nothing (not made)" in unmapped.en
    assert any("choose 'Cut' for black and blue" in w.en for w in default.plan.warnings)
    # With the preset, black and blue are cut; the red label is ignored. Without
    # kerf compensation the beam follows every drawn path, corner loops included.
    design, boxed = plan_file(
        corpus / "svg" / "ABox.svg", colour_map="boxes", kerf_compensation=False
    )
    assert not boxed.plan.facts["unmapped_colours"]
    drawn = sum(p.length for p in design.paths if p.stroke in ((0, 0, 0), (0, 0, 255)))
    assert boxed.plan.facts["cut_length_mm"] == pytest.approx(drawn, abs=0.01)
    # Read back, 3-decimal coordinates on 0.05 mm corner loops cost a few tenths.
    runs = gcode_of(boxed.plan)[0].runs(650)
    assert _length(runs) == pytest.approx(drawn, rel=2e-4)


def test_without_kerf_compensation_the_cut_is_the_drawing(samples, plan_file, gcode_of):
    design, result = plan_file(samples / "laser-keyring.svg", kerf_compensation=False)
    (placement,) = result.plan.facts["placements"]
    cuts = [_place(p.points, placement) for p in design.paths if p.stroke == (255, 0, 0)]
    rings = gcode_of(result.plan)[0].runs(650)
    assert len(rings) == len(cuts) == 3
    for ring in rings:
        d = min(
            shapely.hausdorff_distance(shapely.LinearRing(ring), shapely.LinearRing(c))
            for c in cuts
        )
        assert d < 0.002


def test_copies_fill_sheets_and_sheet_use_is_measured(samples, plan_file, gcode_of, profiles):
    design, result = plan_file(samples / "laser-keyring.svg", copies=150)
    facts = result.plan.facts
    kerf = profiles.material("mdf-3").settings["cut"]["kerf"]
    outline = next(p for p in design.paths if p.source == "outline")
    part = shapely.Polygon(outline.points).buffer(kerf / 2, join_style="mitre").area
    sheets = facts["sheets"]
    assert sheets == len([o for o in result.plan.outputs if o.suffix.endswith(".gcode")]) > 1
    # Parts are 60 x 30 mm (+ kerf, + 3 mm spacing): 9 x 11 = 99 fit a 590 x 390 area.
    assert sheets == 2
    use = np.array(facts["sheet_use_percent_by_sheet"])
    assert use.sum() / 100 * 600 * 400 == pytest.approx(150 * part, rel=1e-3)
    # One pause to change sheets, every sheet in its own layer.
    tp = result.plan.toolpath
    assert len(tp.events_of(EventKind.PAUSE)) == 1 and tp.n_layers == 2
    cost = next(m for m in result.estimate.materials if m.unit == "sheet")
    assert cost.quantity == 2 and cost.cost_eur == pytest.approx(2 * 3.5)
    # Every copy is there: 3 cut contours each.
    assert sum(len(m.runs(650)) for m in gcode_of(result.plan)) == 3 * 150


def test_estimate_counts_one_pierce_per_cut_contour(keyring, laser_machine):
    _, result = keyring
    pierces = result.plan.toolpath.events_of(EventKind.PIERCE)
    assert len(pierces) == 3 * 3 == result.plan.facts["pierces"]
    assert result.estimate.event_time_s == pytest.approx(9 * laser_machine.timing["pierce"])
    # Engraving shows in the estimate as engraving moves, not as a separate figure.
    assert result.estimate.time_by_role_s["engrave"] > 0


def test_design_too_large_for_the_sheet(corpus, plan_file):
    # EngravingFrame is 172 x 725 mm: its parts nest on a sheet, the whole drawing does not.
    _, result = plan_file(corpus / "svg" / "EngravingFrame.svg", colour_map="boxes")
    assert result.plan.facts["sheets"] >= 1
    with pytest.raises(PlanError) as err:
        plan_file(corpus / "svg" / "EngravingFrame.svg", colour_map="boxes", nesting="design")
    frame = load_design((corpus / "svg" / "EngravingFrame.svg").read_bytes())
    made = np.vstack([p.points for p in frame.paths if p.stroke in ((0, 0, 0), (0, 0, 255))])
    height = float(np.ptp(made[:, 1]))
    assert height > 590 and f"× {int(height)}." in err.value.message.en
    assert "Trop grand" in err.value.message.fr


def test_whole_design_nesting_keeps_the_layout(corpus, plan_file, gcode_of):
    design, result = plan_file(
        corpus / "svg" / "Gears.svg",
        colour_map="boxes",
        nesting="design",
        kerf_compensation=False,
        copies=2,
    )
    placements = result.plan.facts["placements"]
    assert len(placements) == 2
    runs = [r for m in gcode_of(result.plan) for r in m.runs(650)]
    cuts = [p for p in design.paths if p.stroke in ((0, 0, 0), (0, 0, 255))]
    placed = shapely.union_all(
        [
            shapely.LineString(
                _place(np.vstack([c.points, c.points[:1]]) if c.closed else c.points, pl)
            )
            for pl in placements
            for c in cuts
        ]
    )
    # Every cut point lies on a source path moved as a block, and nothing is missing.
    points = shapely.points(np.vstack(runs))
    assert shapely.distance(points, placed).max() < 0.01
    assert _length(runs) == pytest.approx(placed.length, rel=1e-4)


def test_duplicate_lines_are_merged_and_reported(samples, plan_file, gcode_of):
    _, result = plan_file(samples / "laser-duplicates.dxf")
    # Drawn twice: the top edge (80 mm), a circle (r 8 mm), 20 mm of two lines.
    facts = result.plan.facts
    assert facts["duplicate_length_mm"] == pytest.approx(80 + 2 * np.pi * 8 + 20, abs=0.5)
    assert any("deux fois" in w.fr for w in result.plan.warnings)
    merged = next(w for w in result.plan.warnings if "fusionnées" in w.fr)
    # The length with one decimal: a comma in French, a point in English.
    assert re.search(r"fusionnées : \d+,\d mm", merged.fr), merged.fr
    assert re.search(r"merged: \d+\.\d mm", merged.en), merged.en
    assert any("open" in w.en for w in result.plan.warnings)  # the 60 mm line frees nothing
    # Nothing burns twice: no beam-on segment is repeated.
    moves = gcode_of(result.plan)[0]
    on = moves.beam_on
    segs = np.round(np.sort(np.stack([moves.start[on], moves.end[on]], axis=1), axis=1), 3)
    assert len(np.unique(segs.reshape(len(segs), -1), axis=0)) == len(segs)


def test_passes_repeat_the_cut(samples, plan_file, gcode_of, profiles):
    settings = profiles.material("mdf-6").settings["cut"]
    design, result = plan_file(samples / "laser-keyring.svg", material="mdf-6")
    kerf = settings["kerf"]
    s = settings["power"] / 100 * 1000
    outline = [p.points for p in design.paths if p.stroke == (255, 0, 0)]
    polys = [shapely.Polygon(o) for o in outline]
    outer = max(polys, key=lambda p: p.area)
    expected = sum(
        (
            p.buffer(kerf / 2 if p is outer else -kerf / 2, join_style="mitre", mitre_limit=4)
        ).exterior.length
        for p in polys
    )
    cut = _length(gcode_of(result.plan)[0].runs(s))
    assert cut == pytest.approx(settings["passes"] * expected, rel=1e-4)


def test_svg_for_vendor_drivers_matches_the_gcode(keyring, gcode_of):
    _, result = keyring
    svg = _text(result.plan, "-sheet1.svg")
    drawing = load_design(svg, "sheet.svg")
    assert drawing.facts.units == "mm"
    red = [p for p in drawing.paths if p.stroke == (255, 0, 0)]
    runs = gcode_of(result.plan)[0].runs(650)
    assert len(red) == len(runs) == 9
    # The SVG's y axis points down; the loader turns it back to y up, page-relative.
    for path in red:
        ring = shapely.LinearRing(path.points)
        best = min(shapely.hausdorff_distance(ring, shapely.LinearRing(r)) for r in runs)
        assert best < 0.01
    black = [p for p in drawing.paths if p.fill == (0, 0, 0)]
    assert len(black) == 6  # 3 badges, each an outer ring and a counter


def _frame_and_squares():
    """A 380 mm frame around a 340 mm hole, and three separate 150 mm squares."""
    from fabserver.designs.types import Drawing, DrawingPath, SourceFacts

    def square(x, y, size):
        return np.array([[x, y], [x + size, y], [x + size, y + size], [x, y + size]], float)

    red = (255, 0, 0)
    paths = [
        DrawingPath(square(0, 0, 380), True, stroke=red),
        DrawingPath(square(20, 20, 340), True, stroke=red),
        *(DrawingPath(square(400 + 160 * k, 0, 150), True, stroke=red) for k in range(3)),
    ]
    return Drawing(tuple(paths), SourceFacts("svg", "mm"))


def test_true_shape_nesting_puts_parts_in_holes_and_cuts_them_first(
    plugin, laser_machine, profiles, gcode_of
):
    from fabserver.planning import run_plan

    design = _frame_and_squares()
    material = profiles.material("mdf-3")

    def plan(nesting):
        options = {"copies": 2, "nesting": nesting}
        return run_plan(plugin, design, laser_machine, material, options, profiles.policy).plan

    boxes, shape = plan("parts"), plan("shape")
    assert boxes.facts["sheets"] == 3 and shape.facts["sheets"] == 2
    spacing = laser_machine.settings["spacing"]
    in_holes = 0
    for moves in gcode_of(shape):
        rings = [shapely.Polygon(r) for r in moves.runs(650)]
        frames = [r for r in rings if r.area > 370**2]
        squares = [r for r in rings if 100**2 < r.area < 200**2]
        for frame in frames:
            hole = next(
                r for r in rings if r.area < frame.area and frame.contains(r) and r.area > 300**2
            )
            inside = [s for s in squares if hole.contains(s)]
            in_holes += len(inside)
            for s in inside:  # each square inside a hole is cut before that hole
                assert rings.index(s) < rings.index(hole)
        # Parts keep the spacing: outlines at least `spacing` apart.
        outer = [r for r in rings if not any(o is not r and o.contains(r) for o in rings)]
        outer += [r for r in squares if r not in outer]
        for i, a in enumerate(outer):
            for b in outer[i + 1 :]:
                if not (a.contains(b) or b.contains(a)):
                    assert a.exterior.distance(b.exterior) >= spacing - 0.01
    assert in_holes >= 3  # what saves the third sheet


def test_dxf_layer_names_choose_the_operation(corpus, plan_file, gcode_of):
    # CADMAN export: layers GEOMETRY-CUTTING and GEOMETRY-ENGRAVING, no colour convention.
    design, result = plan_file(corpus / "dxf" / "empty_handles.dxf")
    by_layer = {}
    for p in design.paths:
        by_layer[p.layer] = by_layer.get(p.layer, 0.0) + p.length
    facts = result.plan.facts
    assert not facts["unmapped_colours"]
    # The cutting layer is cut (kerf outwards: a little longer), the engraving one scored.
    assert facts["cut_length_mm"] == pytest.approx(by_layer["GEOMETRY-CUTTING"], rel=0.01)
    assert facts["score_length_mm"] == pytest.approx(by_layer["GEOMETRY-ENGRAVING"], rel=1e-6)


def test_command_line_writes_one_program_and_one_svg_per_sheet(samples, tmp_path):
    import json

    from click.testing import CliRunner

    from fabserver.cli import main

    out = tmp_path / "tags.gcode"
    args = ["plan", str(samples / "laser-keyring.svg"), "--machine", "laser"]
    args += ["--material", "acrylic-3", "--copies", "150", "-o", str(out), "--json"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert report["facts"]["sheets"] == 2 and report["runs"] == 1
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["tags-sheet1.svg", "tags-sheet2.gcode", "tags-sheet2.svg", "tags.gcode"]
    assert report["materials"][0]["cost_eur"] == pytest.approx(2 * 14.0)


def test_estimate_is_no_faster_than_the_beam(keyring, profiles):
    """Machine time is at least every beam-on length at its speed, plus the pierces."""
    _, result = keyring
    facts = result.plan.facts
    ops = profiles.material("mdf-3").settings
    floor = (
        facts["cut_length_mm"] / ops["cut"]["speed"]
        + facts["score_length_mm"] / ops["score"]["speed"]
        + facts["engrave_beam_on_mm"] / ops["engrave"]["speed"]
    )
    assert result.estimate.machine_time_s > floor
    # Accelerating at every raster line end costs time, but not ten times the floor.
    assert result.estimate.machine_time_s < 10 * floor


def test_power_follows_the_controllers_maximum(samples, plugin, laser_machine, profiles, gcode_of):
    from fabserver.planning import run_plan

    design = load_design((samples / "laser-keyring.svg").read_bytes())
    machine = replaced(
        laser_machine, settings={**laser_machine.settings, "s_max": 255, "air_assist": False}
    )
    material = profiles.material("plywood-3")
    result = run_plan(plugin, design, machine, material, {}, profiles.policy)
    moves = gcode_of(result.plan)[0]
    powers = {op: material.settings[op]["power"] for op in ("cut", "score", "engrave")}
    expected = {round(p / 100 * 255) for p in powers.values()}
    assert {round(s) for s in moves.s[moves.beam_on]} == expected
    assert not moves.air_assist_seen


def test_no_rotation_when_the_grain_matters(corpus, plan_file):
    _, result = plan_file(corpus / "svg" / "ABox.svg", colour_map="boxes", copies=6, rotation=False)
    assert {p["angle"] for p in result.plan.facts["placements"]} == {0}
    _, turned = plan_file(corpus / "svg" / "ABox.svg", colour_map="boxes", copies=6)
    assert {p["angle"] for p in turned.plan.facts["placements"]} != {0}


@pytest.mark.parametrize(
    "points",
    [[[5.0, 5.0]], [[5.0, 5.0], [5.0, 5.0]], [[5.0, 5.0], [5.001, 5.0], [5.0, 5.001]]],
    ids=["point", "zero-length", "dust"],
)
def test_paths_without_length_or_area_are_a_maker_error(points, plugin, laser_machine, profiles):
    from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
    from fabserver.planning import run_plan

    path = DrawingPath(np.array(points), len(points) == 3, stroke=(255, 0, 0), fill=(0, 0, 0))
    design = Drawing((path,), SourceFacts("svg", "mm"))
    with pytest.raises(PlanError) as err:
        run_plan(plugin, design, laser_machine, profiles.material("mdf-3"), {}, profiles.policy)
    assert "Rien à faire" in err.value.message.fr and "Nothing to do" in err.value.message.en


def test_raster_of_a_real_drawing_stays_in_its_fills(corpus, plan_file, gcode_of, profiles):
    # Tux: solid HATCH fills; black ones are engraved with the lab's map (even-odd).
    design, result = plan_file(corpus / "dxf" / "Tux-R2000.dxf")
    black = [
        shapely.make_valid(shapely.Polygon(p.points))
        for p in design.paths
        if p.fill == (0, 0, 0) and p.closed
    ]
    area = shapely.Polygon()
    for poly in black:  # even-odd, one toggle per path
        area = shapely.symmetric_difference(area, poly)
    (placement,) = result.plan.facts["placements"]
    placed = shapely.transform(area, lambda p: _place(p, placement))
    s = profiles.material("mdf-3").settings["engrave"]["power"] / 100 * 1000
    moves = gcode_of(result.plan)[0]
    lit = moves.beam_on & np.isclose(moves.s, s)
    strokes = shapely.linestrings(np.stack([moves.start[lit], moves.end[lit]], axis=1))
    assert shapely.covered_by(strokes, placed.buffer(0.01)).all()
    interval = profiles.material("mdf-3").settings["engrave"]["line_interval"]
    assert shapely.length(strokes).sum() * interval == pytest.approx(placed.area, rel=0.02)


def test_identical_sheets_are_grouped(samples, plan_file, gcode_of):
    _, result = plan_file(samples / "laser-keyring.svg", copies=250)
    groups = result.plan.facts["identical_sheets"]
    assert sorted(n for g in groups for n in g) == list(range(1, result.plan.facts["sheets"] + 1))
    programs = gcode_of(result.plan)
    for group in groups:
        first = programs[group[0] - 1]
        for number in group[1:]:  # same moves, read back from each file
            other = programs[number - 1]
            assert np.array_equal(first.end, other.end) and np.array_equal(first.s, other.s)
    assert [len(g) for g in groups] == [2, 1]  # 99 + 99 + 52 tags


def test_report_lists_each_operations_settings_from_the_material(keyring, profiles):
    _, result = keyring
    given = profiles.material("mdf-3").settings
    unused = {"cut": {"line_interval"}, "score": {"line_interval", "kerf"}, "engrave": {"kerf"}}
    defaults = {"passes": 1, "kerf": 0.0, "line_interval": 0.1}
    operations = result.plan.facts["operations"]
    for op, leave_out in unused.items():
        keys = [
            k for k in ("power", "speed", "passes", "kerf", "line_interval") if k not in leave_out
        ]
        assert list(operations[op]) == keys  # in the settings' order, unused ones left out
        assert operations[op] == {k: given[op].get(k, defaults.get(k)) for k in keys}
        # Power (%) and speed (mm/s) as floats though the file gives whole numbers; passes a count.
        assert all(type(operations[op][k]) is float for k in ("power", "speed"))
        assert type(operations[op]["passes"]) is int


@pytest.mark.parametrize(
    ("table", "change", "key", "problem"),
    [
        ("machine", {"s_max": -5}, "settings.s_max", "> 0"),
        ("machine", {"margin": -1}, "settings.margin", ">= 0"),
        ("machine", {"overscan": -0.5}, "settings.overscan", ">= 0"),
        ("machine", {"merge_tolerance": 0}, "settings.merge_tolerance", "> 0"),
        ("machine", {"s_maxx": 1000}, "settings.s_maxx", "unknown key"),
        ("machine", {"air_assist": "yes"}, "settings.air_assist", "Expected bool"),
        ("material", {"thickness": 0}, "settings.thickness", "> 0"),
        ("material", {"sheet": {"x": 600}}, "settings.sheet.y", "missing"),
        ("material", {"cut": {"power": 120, "speed": 18}}, "settings.cut.power", "<= 100"),
        ("material", {"cut": {"power": 65, "speed": 18, "kerf": 2}}, "settings.cut.kerf", "< 2"),
        (
            "material",
            {"cut": {"power": 65, "speed": 18, "passes": 21}},
            "settings.cut.passes",
            "<= 20",
        ),
        (
            "material",
            {"engrave": {"power": 28, "speed": 300, "line_interval": 0}},
            "settings.engrave.line_interval",
            "> 0",
        ),
        (
            "material",
            {"score": {"power": 18, "speed": 150, "colour": 1}},
            "settings.score.colour",
            "unknown key",
        ),
    ],
)
def test_settings_out_of_bounds_name_the_key(
    plugin, laser_machine, profiles, table, change, key, problem
):
    if table == "machine":
        bad = replaced(laser_machine, settings={**laser_machine.settings, **change})
        check = plugin.check_machine
    else:
        material = profiles.material("mdf-3")
        bad = replaced(material, settings={**material.settings, **change})
        check = plugin.check_material
    with pytest.raises(ValueError) as err:
        check(bad)
    where, _, what = str(err.value).partition(": ")
    assert where == key and problem in what
