"""Real lettering and logos from the corpus, and the project's samples, end to end.

For each file the HPGL is read back, the blade is dragged along it in
simulation, and what it cut is compared with the drawing placed by the layout
rule (Hausdorff distance, both ways).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from fabserver.cli import main
from fabserver.designs import load_design
from fabserver.errors import PlanError

OFFSET = 0.25
SPACING = 5.0
TOLERANCE = 0.05  # mm: blade replay (0.03) plus rounding to plotter units (0.018)
NO_AIDS = {"weeding_border": False, "weeding_lines": False}

VINYL_FILES = [
    "svg/logotype-a.svg",  # lettering converted to paths, and filled triangles
    "svg/ltr.svg",  # stroked letters, one hidden layer
    "svg/ender2.svg",  # text converted to paths, many small glyphs
    "dxf/Puzzle-R2007.dxf",  # one closed outline with arcs, inches
]


def _check_blade_follows_drawing(design, profiles, tools) -> None:
    result, job, _ = tools.plan_job(design, profiles, **NO_AIDS)
    strokes = [s / tools.UNITS_PER_MM for s in job.strokes]
    cut = np.vstack(tools.blade_traces(strokes, OFFSET))
    outlines = tools.placed_outlines(design, result.plan.facts, SPACING)
    drawn = np.vstack([tools.resample(o, 0.02) for o in outlines])
    assert tools.hausdorff(cut, drawn) <= TOLERANCE


@pytest.mark.parametrize("name", VINYL_FILES)
def test_corpus_lettering_is_cut_as_drawn(name, corpus, profiles, tools):
    path = corpus / name
    _check_blade_follows_drawing(load_design(path.read_bytes(), path.name), profiles, tools)


def test_the_sample_sticker_is_cut_as_drawn(samples, profiles, tools):
    path = samples / "vinyl-sticker.svg"
    _check_blade_follows_drawing(load_design(path.read_bytes(), path.name), profiles, tools)


def test_a_glyph_in_font_units_is_refused_with_its_size(corpus, profiles, tools):
    """The Allura "m" has no units and coordinates in the 100 000s: metres wide."""
    path = corpus / "svg/contour_Allura_Script.ttf_glyph_m.svg"
    design = load_design(path.read_bytes(), path.name)
    with pytest.raises(PlanError) as caught:
        tools.plan_job(design, profiles)
    w, h = design.size
    assert f"{w:.0f} × {h:.0f} mm" in caught.value.message.en
    assert "584 mm" in caught.value.message.en


def test_the_script_glyph_scaled_to_60_mm_is_cut_as_drawn(corpus, profiles, tools):
    """The same glyph brought to lettering size: tight curves, cusps and a long stroke."""
    path = corpus / "svg/contour_Allura_Script.ttf_glyph_m.svg"
    design = load_design(path.read_bytes(), path.name)
    scale = 60.0 / design.size[0]
    glyph = replace(design, paths=tuple(p.with_points(p.points * scale) for p in design.paths))
    _check_blade_follows_drawing(glyph, profiles, tools)


def test_text_not_converted_to_paths_is_reported_to_the_maker(samples, tmp_path):
    """The loader's warning reaches the maker with the plan (CLI, JSON)."""
    out = tmp_path / "label.hpgl"
    result = CliRunner().invoke(
        main,
        [
            "plan",
            str(samples / "vinyl-label-text.svg"),
            "--machine",
            "vinyl",
            "--material",
            "vinyl-adhesive",
            "-o",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert any("Object to Path" in w["en"] for w in report["warnings"])
    assert out.read_bytes().startswith(b"IN;")  # the frame is still cut
