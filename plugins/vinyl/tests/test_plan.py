"""The plugin end to end through the core: HPGL read back and compared with the drawing."""

from __future__ import annotations

import numpy as np
import pytest

from fabserver.errors import PlanError
from fabserver.profiles import replaced

OFFSET = 0.25  # the lab cutter's blade offset (profiles/machines/vinyl.toml)
SPACING = 5.0  # the plugin's default space between copies and from the origin
TOLERANCE = 0.05  # mm: blade replay (0.03) plus rounding to plotter units (0.018)
NO_AIDS = {"weeding_border": False, "weeding_lines": False}

SQUARE = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], float)
# An "F": no symmetry, so a mirror image cannot pass for the original.
LETTER_F = np.array(
    [
        [0, 0],
        [0, 24],
        [14, 24],
        [14, 20],
        [4.5, 20],
        [4.5, 14],
        [12, 14],
        [12, 10],
        [4.5, 10],
        [4.5, 0],
    ],
    float,
)


def cut_by_blade(job, tools) -> np.ndarray:
    """All points the replayed blade cut, millimetres in the plotter frame."""
    strokes = [s / tools.UNITS_PER_MM for s in job.strokes]
    return np.vstack(tools.blade_traces(strokes, OFFSET))


def placed(points: np.ndarray, low: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Where the layout rule puts the first copy: its box ``SPACING + margin`` from the origin."""
    return points - low + SPACING + margin


def test_a_100_mm_square_is_4000_plotter_units_wide(profiles, tools):
    design = tools.drawing((SQUARE, True))
    _, job, data = tools.plan_job(design, profiles, **NO_AIDS)
    assert data.startswith(b"IN;")
    assert job.setup["VS"] == [20.0] and job.setup["FS"] == [90.0] and job.setup["SP"][0] == 1
    (stroke,) = job.strokes
    # The holder swings r outside each corner: 100.5 mm across.
    assert np.ptp(stroke[:, 0]) == 4000 + 2 * OFFSET * 40
    blade = cut_by_blade(job, tools) * tools.UNITS_PER_MM
    assert np.ptp(blade[:, 0]) == pytest.approx(4000, abs=1)
    assert np.ptp(blade[:, 1]) == pytest.approx(4000, abs=1)


@pytest.mark.parametrize("shape", ["square", "letter_f"])
def test_the_blade_cuts_the_drawing_where_the_layout_puts_it(shape, profiles, tools):
    points = {"square": SQUARE, "letter_f": LETTER_F}[shape]
    design = tools.drawing((points, True))
    _, job, _ = tools.plan_job(design, profiles, **NO_AIDS)
    source = tools.outline_points(design.paths[0])
    expected = placed(source, points.min(axis=0))
    assert tools.hausdorff(cut_by_blade(job, tools), expected) <= TOLERANCE


def test_mirror_cuts_the_mirror_image(profiles, tools):
    design = tools.drawing((LETTER_F, True))
    _, job, _ = tools.plan_job(design, profiles, mirror=True, **NO_AIDS)
    source = tools.outline_points(design.paths[0])
    mirrored = source * [-1.0, 1.0] + [LETTER_F[:, 0].max(), 0.0]
    blade = cut_by_blade(job, tools)
    assert tools.hausdorff(blade, placed(mirrored, mirrored.min(axis=0))) <= TOLERANCE
    assert tools.hausdorff(blade, placed(source, source.min(axis=0))) > 2.0


def test_the_design_is_placed_in_the_frame_of_a_cutter_fed_along_y(profiles, tools):
    """feed_axis = "y": copies go side by side along plotter x, rows along y."""
    machine = profiles.machine("vinyl")
    settings = {**machine.settings, "feed_axis": "y"}
    profiles.machines["vinyl-y"] = replaced(machine, id="vinyl-y", settings=settings)
    lying_f = LETTER_F[:, ::-1]  # 24 wide, 14 high: shortest along the roll as drawn
    try:
        design = tools.drawing((lying_f, True))
        result, job, _ = tools.plan_job(design, profiles, machine="vinyl-y", copies=3, **NO_AIDS)
    finally:
        del profiles.machines["vinyl-y"]
    assert not result.plan.facts["turned"] and result.plan.facts["copies_across"] == 3
    traces = tools.blade_traces([s / tools.UNITS_PER_MM for s in job.strokes], OFFSET)
    lows = np.array([t.min(axis=0) for t in traces])
    np.testing.assert_allclose(lows[:, 1], SPACING, atol=0.05)  # one row, at the roll's start
    np.testing.assert_allclose(
        np.sort(lows[:, 0]), SPACING + np.arange(3) * (24 + SPACING), atol=0.05
    )
    first = traces[int(np.argmin(lows[:, 0]))]
    source = tools.outline_points(design.paths[0])
    assert tools.hausdorff(first, placed(source, lying_f.min(axis=0))) <= TOLERANCE


# Tiling by hand: footprint = drawing + 2 × 3 mm border margin; usable width =
# roll − 2 × 8 mm; across = floor(usable / (footprint across + 5)); length =
# rows × footprint along + (rows + 1) × 5; turned a quarter turn when shorter.
# The feed is along x: as drawn, the footprint's y lies across the roll.
@pytest.mark.parametrize(
    ("material", "size", "copies", "turned", "across", "rows", "length"),
    [
        # 600 mm roll: 584 usable; 100 × 50 → 106 × 56.
        # As drawn: floor(584 / 61) = 9 across, rows 106 long; turned: 5 across, rows 56 long.
        ("vinyl-adhesive", (100, 50), 1, True, 1, 1, 56 + 2 * 5),  # 66 < 116
        ("vinyl-adhesive", (100, 50), 9, False, 9, 1, 106 + 2 * 5),  # 116 < 2 × 56 + 15
        ("vinyl-adhesive", (100, 50), 20, True, 5, 4, 4 * 56 + 5 * 5),  # 249 < 3 × 106 + 20
        # 500 mm roll: 484 usable; as drawn 7 across (338 mm), turned 4 across (310 mm).
        ("vinyl-flex", (100, 50), 20, True, 4, 5, 5 * 56 + 6 * 5),
        # 200 × 150 → 206 × 156: as drawn floor(484 / 161) = 3 across (the last ends at
        # 483 mm), 2 rows: 427 mm; turned floor(484 / 211) = 2 across, 3 rows: 488 mm.
        ("vinyl-flex", (200, 150), 5, False, 3, 2, 2 * 206 + 3 * 5),
        # 600 × 150 → 606 × 156: only as drawn; 3 across, 20 copies → 7 rows.
        ("vinyl-flex", (600, 150), 20, False, 3, 7, 7 * 606 + 8 * 5),
    ],
)
def test_copies_are_tiled_across_the_roll_then_along_it(
    material, size, copies, turned, across, rows, length, profiles, tools
):
    w, h = size
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    result, job, _ = tools.plan_job(tools.drawing((rect, True)), profiles, material, copies=copies)
    facts = result.plan.facts
    assert (facts["turned"], facts["copies_across"], facts["rows"]) == (turned, across, rows)
    assert facts["roll_length_mm"] == pytest.approx(length)
    roll_width = profiles.material(material).settings["roll_width"]
    price = profiles.material(material).prices["m2"]
    (area,) = [m for m in result.estimate.materials if m.unit == "m2"]
    assert area.quantity == pytest.approx(length / 1000 * roll_width / 1000)
    assert result.estimate.cost_eur == pytest.approx(area.quantity * price)
    # Read back: one design outline and one border per copy, all on the usable roll.
    assert len(job.strokes) == 2 * copies
    every = np.vstack(job.strokes) / tools.UNITS_PER_MM
    usable = roll_width - 16
    assert every[:, 1].max() <= usable and every.min() >= 0.0
    assert every[:, 0].max() <= length
    # The cuts are the drawing and its border, whichever way round (the holder
    # swings 0.25 mm outside each corner).
    sizes = np.sort([np.ptp(s, axis=0) for s in job.strokes], axis=1)[:, ::-1]
    sizes = sizes[np.lexsort(sizes.T[::-1])] / tools.UNITS_PER_MM - 2 * OFFSET
    expected = [sorted(size, reverse=True)] * copies + [[max(size) + 6, min(size) + 6]] * copies
    np.testing.assert_allclose(sizes, expected, atol=0.1)


def test_a_design_too_wide_for_the_roll_is_turned_when_that_fits(profiles, tools):
    tall = np.array([[0, 0], [100, 0], [100, 550], [0, 550]], float)  # feed is x: 550 across
    result, job, _ = tools.plan_job(tools.drawing((tall, True)), profiles, "vinyl-flex", **NO_AIDS)
    assert result.plan.facts["turned"]
    blade = cut_by_blade(job, tools)
    assert np.ptp(blade, axis=0) == pytest.approx([550, 100], abs=0.05)


def test_a_design_wider_than_the_roll_either_way_is_refused_with_its_size(profiles, tools):
    big = np.array([[0, 0], [700, 0], [700, 650], [0, 650]], float)
    with pytest.raises(PlanError) as caught:
        tools.plan_job(tools.drawing((big, True)), profiles, "vinyl-flex")
    message = caught.value.message
    assert "700 × 650 mm" in message.fr and "484 mm" in message.fr and "500 mm" in message.fr
    assert "700 × 650 mm" in message.en and "484 mm" in message.en


@pytest.mark.parametrize(
    ("material", "size", "copies", "most"),
    [
        # 106 × 56 footprints, 9 across; rows in 5000 mm: floor((5000 − 5) / 111) = 45.
        ("vinyl-adhesive", (100, 50), 500, 45 * 9),
        # 606 × 156, 3 across on 484 mm; rows: floor(4995 / 611) = 8.
        ("vinyl-flex", (600, 150), 34, 8 * 3),
    ],
)
def test_too_many_copies_for_one_run_are_refused_with_how_many_fit(
    material, size, copies, most, profiles, tools
):
    w, h = size
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    with pytest.raises(PlanError) as caught:
        tools.plan_job(tools.drawing((rect, True)), profiles, material, copies=copies)
    assert f"at most {most} per job" in caught.value.message.en
    tools.plan_job(tools.drawing((rect, True)), profiles, material, copies=most)  # fits


def test_a_drawing_with_nothing_to_cut_is_refused(profiles, tools):
    specks = tools.drawing(
        (np.array([[3.0, 4.0], [3.0, 4.0]]), False), (np.array([[1.0, 1.0]]), True)
    )
    with pytest.raises(PlanError) as caught:
        tools.plan_job(specks, profiles)
    assert "no path to cut" in caught.value.message.en


def test_details_too_small_for_the_blade_are_listed(profiles, tools):
    dot = 0.3 * np.column_stack([np.cos(np.arange(12) / 2), np.sin(np.arange(12) / 2)])
    design = tools.drawing(
        (SQUARE, True), (dot + np.array([50, 120]), True), (np.array([[0, 130], [0.5, 130]]), False)
    )
    result, _, _ = tools.plan_job(design, profiles)
    (warning,) = [w for w in result.plan.warnings if "blade" in w.en]
    assert warning.en.startswith("2 detail(s)")
    assert "(50.0, 120.0) (element 'p1')" in warning.en
    assert "(0.2, 130.0) (element 'p2')" in warning.en
    assert "(50,0 ; 120,0) (élément « p1 »)" in warning.fr


def test_heat_transfer_vinyl_reminds_to_mirror(profiles, tools):
    design = tools.drawing((LETTER_F, True))
    plain, _, _ = tools.plan_job(design, profiles, "vinyl-flex")
    mirrored, _, _ = tools.plan_job(design, profiles, "vinyl-flex", mirror=True)
    assert any("Mirror" in w.en for w in plain.plan.warnings)
    assert not any("Mirror" in w.en for w in mirrored.plan.warnings)


def test_time_comes_from_the_shared_estimator_with_one_blade_drop_per_cut(profiles, tools):
    from fabserver.estimate import move_times
    from fabserver.toolpath import EventKind

    design = tools.drawing((SQUARE, True), (LETTER_F + 20, True))
    result, job, _ = tools.plan_job(design, profiles, **NO_AIDS)
    tp = result.plan.toolpath
    assert len(tp.events_of(EventKind.PIERCE)) == len(job.strokes) == 2
    machine = profiles.machine("vinyl")
    motion = move_times(tp, machine.kinematics).sum()
    assert result.estimate.machine_time_s == pytest.approx(motion + 2 * machine.timing["pierce"])
    # Cutting 100 mm sides at 200 mm/s takes at least their length over the speed.
    assert result.estimate.time_by_role_s["cut"] >= (400 + 1) / 200.0


def test_the_preview_draws_the_blade_paths_on_the_roll_used(profiles, tools):
    design = tools.drawing((LETTER_F, True))
    result, _, _ = tools.plan_job(design, profiles, copies=2)
    svg = result.preview.svg
    assert 'data-role="cut"' in svg and 'data-role="weed"' in svg
    # The letter's corner (4.5, 10) at its place, not the holder's swivel points.
    corner = placed(np.array([[4.5, 10.0]]), LETTER_F.min(axis=0), margin=3.0)[0]
    assert f"{corner[0]:.2f} {corner[1]:.2f}" in svg


def test_a_material_cut_with_another_blade_is_compensated_for_it(profiles, tools):
    """A 60° blade (0.5 mm offset) named by the material: the replayed 0.5 mm blade
    cuts the drawing, the lab's usual 0.25 mm compensation would not."""
    base = profiles.material("vinyl-flex")
    settings = {**base.settings, "blade_offset": 0.5, "overcut": 2.0}
    profiles.materials["flock"] = replaced(base, id="flock", settings=settings)
    try:
        design = tools.drawing((LETTER_F, True))
        result, job, _ = tools.plan_job(design, profiles, "flock", **NO_AIDS)
    finally:
        del profiles.materials["flock"]
    assert result.plan.facts["blade_offset_mm"] == 0.5
    strokes = [s / tools.UNITS_PER_MM for s in job.strokes]
    expected = placed(tools.outline_points(design.paths[0]), LETTER_F.min(axis=0))
    (cut,) = tools.blade_traces(strokes, 0.5)
    assert tools.hausdorff(cut, expected) <= TOLERANCE
    (wrong,) = tools.blade_traces(strokes, OFFSET)
    assert tools.hausdorff(wrong, expected) > 3 * TOLERANCE


def test_a_colour_the_maker_leaves_out_is_not_cut_and_is_reported(profiles, tools):
    from fabserver.designs import Drawing, DrawingPath
    from fabserver.designs.types import SourceFacts

    red = DrawingPath(SQUARE, True, stroke=(255, 0, 0))
    blue = DrawingPath(SQUARE + 150, True, stroke=(0, 0, 255))
    design = Drawing((red, blue), SourceFacts("svg", "mm"))
    _, all_cuts, _ = tools.plan_job(design, profiles, **NO_AIDS)
    assert len(all_cuts.strokes) == 2
    result, job, _ = tools.plan_job(design, profiles, colour_map="#0000ff=ignore", **NO_AIDS)
    assert len(job.strokes) == 1
    found = {f.key: f.operation for f in result.plan.operations}
    assert found == {"stroke:#ff0000": "cut", "stroke:#0000ff": "ignore"}
    with pytest.raises(PlanError) as err:
        tools.plan_job(design, profiles, colour_map="*=ignore")
    assert "aucun tracé" in err.value.message.fr
