"""Every written file read back with pyembroidery and checked against the plan and the drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from fabserver_embroidery.threads import delta_e2000, srgb_to_lab
from fabserver_embroidery.writer import FORMATS

from fabserver.designs import load_design
from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.errors import PlanError
from fabserver.toolpath import EventKind, MoveKind

from .helpers import filled_regions, scaled, stroke_areas, to_hoop

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
# Needle points may lie outside their shape by the pull compensation plus this:
# the 0.1 mm file grid (up to 0.071 mm) and curves flattened by the loader.
OUTSIDE_TOLERANCE_MM = 0.15
COVER_DISTANCE_MM = 1.0
COVERED_SHARE = 0.90

SAMPLE_FILES = ["embroidery-ring.svg", "embroidery-satin.svg", "embroidery-logo.svg"]
# Corpus SVGs that fit a hoop as drawn, and those that must be scaled first (longest side, mm).
CORPUS_AS_IS = ["style_cascade_and_inheritance.svg", "logotype-a.svg", "ltr.svg"]
CORPUS_SCALED = {"ender2.svg": 95.0, "contour_Allura_Script.ttf_glyph_m.svg": 90.0}


def check_file(planned, drawing, whole_regions: bool = True) -> None:
    """The acceptance checks shared by every design.

    ``whole_regions=False`` skips the coverage of whole filled regions (when covered
    parts are left out on purpose; the caller checks what shows).
    """
    tp = planned.plan.toolpath
    read = planned.read
    facts = planned.facts
    fmt = FORMATS[planned.fmt]

    # Stitch count and colour changes match the plan.
    assert read.is_stitch.sum() == (tp.kind == int(MoveKind.STITCH)).sum() == facts["stitches"]
    assert read.colour_changes == len(tp.events_of(EventKind.COLOUR_CHANGE))

    # No stitch longer than the format or the machine allow, none shorter than the minimum.
    lengths = read.stitch_lengths()
    seg = read.stitch_segments()
    per_axis = np.abs(seg[:, 1] - seg[:, 0]).max(axis=1)
    assert per_axis.max() <= fmt.max_stitch_mm + 1e-9
    assert lengths.max() <= facts["max_stitch_mm"] + 1e-9
    # A stitch right after a jump is where the needle lands: PES, JEF and EXP store the
    # jump's move and then a penetration on the spot, so only stitch-to-stitch counts.
    after_stitch = np.r_[False, read.is_stitch[:-1]][read.is_stitch]
    assert lengths[after_stitch].min() >= facts["min_stitch_mm"] - 1e-9
    moves = np.abs(np.diff(np.vstack([[0, 0], read.xy]), axis=0)).max(axis=1)
    assert moves.max() <= max(fmt.max_stitch_mm, fmt.max_jump_mm) + 1e-9

    # Every record inside its hoop, the design centred.
    half = np.array([facts["hoop"]["width_mm"], facts["hoop"]["height_mm"]]) / 2
    if facts["hoop"]["turned"]:
        pass  # hoop sizes are the field as mounted; the design was turned to it
    assert (np.abs(read.xy) <= half + 1e-9).all()
    st = read.stitches
    middle = (st.min(axis=0) + st.max(axis=0)) / 2
    assert np.abs(middle).max() <= 1.0

    # Colours and their order, where the format stores them.
    planned_hex = [b["hex"] for b in facts["colour_blocks"]]
    assert len(planned_hex) == read.colour_changes + 1
    if planned.fmt in ("dst", "pes"):
        assert list(read.threads) == planned_hex
    elif planned.fmt == "jef":
        # JEF stores its own chart's numbers: the nearest Janome thread comes back.
        rgb = lambda h: [int(h[i : i + 2], 16) for i in (1, 3, 5)]  # noqa: E731
        de = delta_e2000(
            srgb_to_lab(np.array([rgb(h) for h in read.threads])),
            srgb_to_lab(np.array([rgb(h) for h in planned_hex])),
        )
        assert len(read.threads) == len(planned_hex) and de.max() < 15

    # Coverage and containment, per thread, against the drawing read independently.
    thread_of = {m["drawing"]: m["hex"] for m in facts["threads"]}
    hexc = lambda c: "#{:02x}{:02x}{:02x}".format(*c)  # noqa: E731
    pull = planned.result.options["pull_compensation"]
    block_hex = np.array(planned_hex)[read.block]
    for thread in set(planned_hex):
        mine = read.is_stitch & (block_hex == thread)
        points = read.xy[mine]
        regions = [
            to_hoop(g, facts) for c, g in filled_regions(drawing) if thread_of[hexc(c)] == thread
        ]
        strokes = [
            to_hoop(shapely.buffer(line, half_w + pull), facts)
            for c, line, half_w in stroke_areas(drawing)
            if thread_of[hexc(c)] == thread
        ]
        allowed = shapely.union_all([shapely.buffer(r, pull) for r in regions] + strokes).buffer(
            OUTSIDE_TOLERANCE_MM
        )
        outside = ~shapely.contains_xy(allowed, points[:, 0], points[:, 1])
        assert not outside.any(), f"{outside.sum()} needle points of {thread} outside their shapes"
        sewn = read.sewn_lines(block_hex == thread)
        covered = shapely.union_all(
            shapely.buffer([shapely.LineString(ln) for ln in sewn], COVER_DISTANCE_MM)
        )
        for region in regions if whole_regions else []:
            for part in shapely.get_parts(region):
                if part.area < 2.0:
                    continue  # dropped as too small to sew (the plan warns)
                share = shapely.intersection(part, covered).area / part.area
                assert share >= COVERED_SHARE, f"{thread}: only {share:.0%} of a region covered"


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_samples_read_back(name, plan_drawing):
    drawing = load_design((SAMPLES / name).read_bytes(), name)
    check_file(plan_drawing(drawing), drawing)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_reads_back(fmt, plan_drawing):
    drawing = load_design((SAMPLES / "embroidery-logo.svg").read_bytes(), "logo")
    planned = plan_drawing(drawing, fmt)
    assert planned.plan.outputs[0].suffix == f".{fmt}"
    check_file(planned, drawing)


@pytest.mark.parametrize("name", CORPUS_AS_IS)
def test_corpus_svgs_read_back(name, corpus, plan_drawing):
    drawing = load_design((corpus / "svg" / name).read_bytes(), name)
    check_file(plan_drawing(drawing), drawing)


@pytest.mark.parametrize("name", sorted(CORPUS_SCALED))
def test_corpus_svgs_too_big_then_scaled(name, corpus, plan_drawing):
    drawing = load_design((corpus / "svg" / name).read_bytes(), name)
    with pytest.raises(PlanError) as err:
        plan_drawing(drawing)
    assert "cadre" in err.value.message.fr and "hoop" in err.value.message.en
    small = scaled(drawing, CORPUS_SCALED[name])
    check_file(plan_drawing(small), small)


def test_tux_dxf(corpus, plan_drawing):
    drawing = load_design((corpus / "dxf" / "Tux-R2000.dxf").read_bytes(), "Tux-R2000.dxf")
    small = scaled(drawing, 95.0)
    check_file(plan_drawing(small), small)


def test_a_wide_design_is_turned_into_the_tall_hoop(plan_drawing):
    t = np.linspace(0, 2 * np.pi, 80, endpoint=False)
    oval = np.column_stack([75 * np.cos(t), 25 * np.sin(t)])  # 150 × 50 mm
    d = Drawing(
        (DrawingPath(oval, True, fill=(10, 120, 40), source="oval"),), SourceFacts("svg", "mm")
    )
    planned = plan_drawing(d)
    assert planned.facts["hoop"]["name"] == "130 × 180" and planned.facts["hoop"]["turned"]
    assert any("90" in w.fr for w in planned.plan.warnings)
    check_file(planned, d)


def test_logo_sews_the_shield_before_what_lies_on_it(plan_drawing):
    drawing = load_design((SAMPLES / "embroidery-logo.svg").read_bytes(), "logo")
    planned = plan_drawing(drawing)
    blocks = [b["hex"] for b in planned.facts["colour_blocks"]]
    thread_of = {m["drawing"]: m["hex"] for m in planned.facts["threads"]}
    assert blocks == [thread_of["#1b2a49"], thread_of["#e0a526"]]


def test_long_stitches_are_split_to_the_format(plan_drawing):
    # Two points 30 mm apart joined by a running stitch asked to be 6 mm: fine; a satin
    # 8 mm wide gives 8.4 mm stitches: within DST. Jumps between far parts are split.
    zig = np.array([[0.0, 0.0], [30.0, 0.0]])
    d = Drawing(
        (
            DrawingPath(zig, False, stroke=(0, 0, 0), stroke_width=8.0),
            DrawingPath(zig + np.array([0.0, 60.0]), False, stroke=(0, 0, 0), stroke_width=0.2),
        ),
        SourceFacts("svg", "mm"),
    )
    planned = plan_drawing(d, running_length=6.0)
    lengths = planned.read.stitch_lengths()
    assert lengths.max() > 8.0  # the satin's stitches are long…
    assert lengths.max() <= 12.1  # …but within the format
    check_file(planned, d)


def test_awkward_geometry_is_sewn_or_refused_cleanly(plan_drawing):
    bow_tie = np.array([[0.0, 0.0], [20.0, 20.0], [20.0, 0.0], [0.0, 20.0]])
    repeated = np.array([[30.0, 0.0], [30.0, 0.0], [50.0, 0.0], [50.0, 0.0], [50.0, 15.0]])
    d = Drawing(
        (
            DrawingPath(bow_tie, True, fill=(200, 0, 0), source="bow"),  # self-crossing
            DrawingPath(repeated, True, fill=(0, 0, 200), source="rep"),  # repeated points
            DrawingPath(np.array([[5.0, 30.0], [5.0, 30.0]]), False, stroke=(0, 0, 0)),
            DrawingPath(
                np.array([[0.0, 40.0], [0.3, 40.2]]), False, stroke=(0, 0, 0), stroke_width=2.0
            ),  # a satin shorter than its width
            DrawingPath(np.array([[0.0, 0.0], [900.0, 900.0]]), False),  # invisible, huge
        ),
        SourceFacts("svg", "mm"),
    )
    planned = plan_drawing(d)
    check_file(planned, Drawing(d.paths[:4], d.facts))


def test_covered_parts_can_be_left_out(plan_drawing):
    big = np.array([[0.0, 0.0], [40.0, 0.0], [40.0, 40.0], [0.0, 40.0]])
    small = big / 2 + 10.0  # 20 × 20 mm in the middle, on top
    d = Drawing(
        (
            DrawingPath(big, True, fill=(200, 20, 20), source="under"),
            DrawingPath(small, True, fill=(20, 20, 200), source="over"),
        ),
        SourceFacts("svg", "mm"),
    )
    whole = plan_drawing(d)
    cut = plan_drawing(d, cut_hidden=True)
    blocks = [b["hex"] for b in cut.facts["colour_blocks"]]
    under_hex = blocks[0]
    assert blocks == [b["hex"] for b in whole.facts["colour_blocks"]]
    read = cut.read
    mine = np.array(blocks)[read.block] == under_hex
    under = read.xy[read.is_stitch & mine]
    # The lower colour no longer sews under the top square (beyond the 1 mm underlap
    # and its own pull compensation).
    pull = cut.result.options["pull_compensation"]
    top = to_hoop(shapely.Polygon(small).buffer(-1.0 - pull - OUTSIDE_TOLERANCE_MM), cut.facts)
    assert not shapely.contains_xy(top, under[:, 0], under[:, 1]).any()
    # Less sewing for the same look, and what shows is still covered.
    # (18 × 18 of the 40 × 40 mm square is hidden: 20 % of its area.)
    whole_under = (whole.read.is_stitch & (np.array(blocks)[whole.read.block] == under_hex)).sum()
    assert len(under) < 0.9 * whole_under
    visible = to_hoop(shapely.Polygon(big).difference(shapely.Polygon(small)), cut.facts)
    lines = read.sewn_lines(mine)
    sewn = shapely.union_all(shapely.buffer([shapely.LineString(ln) for ln in lines], 1.0))
    assert shapely.intersection(visible, sewn).area >= COVERED_SHARE * visible.area
    check_file(cut, d, whole_regions=False)
