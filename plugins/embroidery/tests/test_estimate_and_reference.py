"""Estimate, materials and options against second computations; density against a real file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from fabserver_embroidery.readback import read_stitch_file

from fabserver.designs import load_design
from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.toolpath import EventKind, MoveKind

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
# Fabserver's default density may differ from a digitiser's choice on Star.DST by this factor
# at most (rows 0.4 mm, 3 mm tatami; Star uses shorter fill stitches and a satin border).
DENSITY_FACTOR = 2.0
# Half a row spacing: the stitch lines buffered by it cover the sewn area.
AREA_BUFFER_MM = 0.2


def logo():
    return load_design((SAMPLES / "embroidery-logo.svg").read_bytes(), "logo")


def test_time_is_stitches_at_the_machine_rate_plus_events(plan_drawing, machine):
    planned = plan_drawing(logo())
    est = planned.result.estimate
    facts = planned.facts
    rate = machine.settings["stitch_rate_spm"] / 60.0
    by_rate = facts["stitches"] / rate
    # Each stitch takes one needle cycle; jumps and long stitches (frame acceleration) add a little.
    assert by_rate * 0.98 <= est.motion_time_s <= by_rate * 1.5
    tp = planned.plan.toolpath
    events = (
        len(tp.events_of(EventKind.COLOUR_CHANGE)) * machine.timing["colour_change"]
        + len(tp.events_of(EventKind.TRIM)) * machine.timing["trim"]
    )
    assert est.event_time_s == pytest.approx(events)
    hooping = machine.settings["hooping_time_s"]
    assert est.machine_time_s == pytest.approx(est.motion_time_s + events + hooping)


def test_thread_bobbin_and_stabiliser_from_the_file(plan_drawing, material):
    planned = plan_drawing(logo())
    read = planned.read
    block_hex = np.array([b["hex"] for b in planned.facts["colour_blocks"]])[read.block]
    seg_len = read.stitch_lengths()
    stitch_hex = block_hex[read.is_stitch]
    take_up = material.settings["take_up_factor"]
    lines = {
        u.label.en: u
        for u in planned.plan.material_uses
        if u.unit == "m" and u.label.en != "Bobbin thread"
    }
    total = 0.0
    for hexc in set(stitch_hex):
        metres = seg_len[stitch_hex == hexc].sum() * take_up / 1000
        (line,) = [u for label, u in lines.items() if hexc in label]
        assert line.quantity == pytest.approx(metres, rel=1e-6)
        total += metres
    bobbin = next(u for u in planned.plan.material_uses if u.label.en == "Bobbin thread")
    assert bobbin.quantity == pytest.approx(total * material.settings["bobbin_ratio"])
    stab = next(u for u in planned.plan.material_uses if u.unit == "m2")
    hoop = planned.facts["hoop"]
    margin = 2 * material.settings["stabiliser_margin_mm"]
    expected = (hoop["width_mm"] + margin) * (hoop["height_mm"] + margin) / 1e6
    assert stab.quantity == pytest.approx(expected)
    cost = sum(u.quantity * material.prices[u.unit] for u in planned.plan.material_uses)
    assert planned.result.estimate.cost_eur == pytest.approx(cost)


def test_copies_multiply_runs_material_and_time(plan_drawing):
    one = plan_drawing(logo())
    three = plan_drawing(logo(), copies=3)
    assert three.plan.runs == 3
    for a, b in zip(one.plan.material_uses, three.plan.material_uses, strict=True):
        assert b.quantity == pytest.approx(3 * a.quantity)
    assert three.result.estimate.machine_time_s == pytest.approx(
        3 * one.result.estimate.machine_time_s
    )


def _line_drawing(width: float, length: float = 40.0) -> Drawing:
    path = DrawingPath(
        np.array([[0.0, 0.0], [length, 0.0]]), False, stroke=(0, 0, 0), stroke_width=width
    )
    return Drawing((path,), SourceFacts("svg", "mm"))


def test_triple_run_sews_the_line_three_times(plan_drawing):
    single = plan_drawing(_line_drawing(0.2), lock_stitches=False)
    triple = plan_drawing(_line_drawing(0.2), lock_stitches=False, triple_run=True)
    assert single.facts["elements"] == {"running": 1}
    assert triple.facts["stitches"] == 3 * single.facts["stitches"]
    assert single.read.stitch_lengths().max() <= 2.5 + 0.08  # running length + grid


def test_far_parts_are_jumped_with_a_trim_and_long_jumps_split(plan_drawing):
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    dot = np.column_stack([3 * np.cos(t), 3 * np.sin(t)])
    d = Drawing(
        (
            DrawingPath(dot, True, fill=(0, 0, 0), source="a"),
            DrawingPath(dot + np.array([80, 0]), True, fill=(0, 0, 0), source="b"),
        ),
        SourceFacts("svg", "mm"),
    )
    planned = plan_drawing(d)
    assert planned.read.trims >= 2  # between the dots, and at the end
    jumps = ~planned.read.is_stitch
    steps = np.abs(np.diff(np.vstack([[0, 0], planned.read.xy]), axis=0)).max(axis=1)
    assert jumps.sum() >= 7  # 80 mm cannot be one DST jump
    assert steps[jumps].max() <= 12.1 + 1e-9


def test_preview_draws_stitches_in_thread_colours(plan_drawing):
    planned = plan_drawing(logo())
    svg = planned.result.preview.svg
    legend = {entry.role: entry for entry in planned.result.preview.legend}
    for block in planned.facts["colour_blocks"]:
        assert f'stroke="{block["hex"]}"' in svg
        assert legend[block["hex"]].colour == block["hex"]
        assert block["thread"] in legend[block["hex"]].label.en  # named as the catalogue does
    # Roles of stitch moves are thread colours.
    tp = planned.plan.toolpath
    stitch_roles = {tp.roles[r] for r in np.unique(tp.role[tp.kind == int(MoveKind.STITCH)])}
    assert stitch_roles == {b["hex"] for b in planned.facts["colour_blocks"]}


def _density(read) -> tuple[float, float]:
    """Stitches per cm² of sewn area, the area being the stitch lines buffered by half a row."""
    seg = read.stitch_segments()
    lines = shapely.linestrings(seg)
    area_mm2 = shapely.union_all(shapely.buffer(lines, AREA_BUFFER_MM)).area
    return read.is_stitch.sum() / (area_mm2 / 100.0), area_mm2


def _star(outer: float, inner: float) -> np.ndarray:
    k = np.arange(10)
    r = np.where(k % 2 == 0, outer, inner)
    a = np.pi / 2 + k * np.pi / 5
    return np.column_stack([r * np.cos(a), r * np.sin(a)])


@pytest.mark.parametrize(("name", "fmt"), [("Star.DST", "dst"), ("Star.pes", "pes")])
def test_density_close_to_a_digitised_star(name, fmt, corpus, plan_drawing):
    ref = read_stitch_file((corpus / "embroidery" / name).read_bytes(), fmt)
    ref_density, ref_area = _density(ref)
    # A star of the same size (59 × 62 mm): filled, with a satin border as Star.DST has.
    star = _star(31.0, 12.0)
    d = Drawing(
        (
            DrawingPath(star, True, fill=(120, 60, 200), source="star"),
            DrawingPath(star, True, stroke=(90, 40, 160), stroke_width=2.5, source="border"),
        ),
        SourceFacts("svg", "mm"),
    )
    planned = plan_drawing(d)
    ours, our_area = _density(planned.read)
    assert our_area == pytest.approx(ref_area, rel=0.35)  # similar shapes, similar sizes
    assert 1 / DENSITY_FACTOR <= ours / ref_density <= DENSITY_FACTOR


def test_both_star_files_read_as_the_same_design(corpus):
    dst = read_stitch_file((corpus / "embroidery" / "Star.DST").read_bytes(), "dst")
    pes = read_stitch_file((corpus / "embroidery" / "Star.pes").read_bytes(), "pes")
    assert dst.is_stitch.sum() == pes.is_stitch.sum()
    assert dst.colour_changes == pes.colour_changes == 1
    size = lambda r: np.ptp(r.stitches, axis=0)  # noqa: E731
    assert size(dst) == pytest.approx(size(pes), abs=0.2)
    assert _density(dst)[0] == pytest.approx(_density(pes)[0], rel=0.02)
