"""The quote's core: which machines answer, what is proposed when a machine's convention
would make nothing of a drawing, and the maker's colour table."""

from __future__ import annotations

import numpy as np
import pytest

from fabserver import quote
from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.profiles import load_profiles
from fabserver.registry import load_registry
from fabserver.testing import require

SQUARE = np.array([[0, 0], [50, 0], [50, 50], [0, 50]], dtype=float)
HOLE = np.array([[20, 20], [30, 20], [30, 30], [20, 30]], dtype=float)


def _drawing(*paths: DrawingPath) -> Drawing:
    return Drawing(paths=paths, facts=SourceFacts(format="svg", units="mm"))


@pytest.fixture(scope="module")
def lab():
    registry = load_registry()
    for needed in ("laser", "vinyl"):
        require(needed in registry.plugins, f"plugin {needed} not installed")
    profiles = load_profiles()
    return {t.machine.id: t for t in quote.targets(profiles, registry.plugins, "drawing")}


def test_drawing_machines_answer_and_start_on_their_cheapest_material(lab):
    assert {"laser", "vinyl"} <= set(lab)
    laser = lab["laser"]
    cheapest = min(
        (m for m in load_profiles().materials_for(laser.machine)),
        key=lambda m: next(iter(m.prices.values())),
    )
    assert laser.material.id == cheapest.id


def test_a_drawing_in_the_lab_convention_gets_no_proposal(lab):
    red = _drawing(DrawingPath(SQUARE, True, stroke=(255, 0, 0)))
    assert quote.propose(lab["laser"], red) == ("", None)


def test_a_one_colour_drawing_is_cut_with_a_notice(lab):
    black = _drawing(
        DrawingPath(SQUARE, True, stroke=(0, 0, 0)), DrawingPath(HOLE, True, stroke=(0, 0, 0))
    )
    text, notice = quote.propose(lab["laser"], black)
    assert text == "stroke:#000000=cut"
    assert notice is not None and "une couleur" in notice.fr
    table = quote.colour_table(black, {"laser": (lab["laser"], text)})
    assert [(c["key"], c["operations"]["laser"]) for c in table] == [("stroke:#000000", "cut")]
    assert table[0]["length_mm"] == pytest.approx(240.0)


def test_boxes_colours_get_the_boxes_preset(lab):
    boxes = _drawing(
        DrawingPath(SQUARE, True, stroke=(0, 0, 0)), DrawingPath(HOLE, True, stroke=(0, 0, 255))
    )
    # The lab's laser profile ships the Boxes.py preset: without it this proposal is lost.
    assert quote.BOXES_PRESET in lab["laser"].plugin.operation_presets(lab["laser"].machine)
    text, notice = quote.propose(lab["laser"], boxes)
    assert text == "boxes" and "Boxes.py" in notice.en
    table = quote.colour_table(boxes, {"laser": (lab["laser"], text)})
    assert {c["key"]: c["operations"]["laser"] for c in table} == {
        "stroke:#000000": "cut",
        "stroke:#0000ff": "cut",
    }


def test_the_maker_edits_go_over_the_map():
    assert quote.job_map("boxes", {"stroke:#0000ff": "score"}) == "boxes, stroke:#0000ff=score"
    assert quote.job_map("", {}) == ""
    assert quote.colour_label("layer:CUT").fr == "Calque « CUT »"
    assert quote.swatch("fill:#000000") == "#000000" and quote.swatch("layer:A") is None


def test_the_drawing_is_drawn_as_read():
    svg = quote.drawing_svg(_drawing(DrawingPath(SQUARE, True, stroke=(255, 0, 0))))
    assert svg.startswith("<svg") and 'stroke="#ff0000"' in svg and 'width="50.00mm"' in svg


def test_the_area_is_the_union_of_closed_paths():
    plate = _drawing(
        DrawingPath(SQUARE, True, stroke=(255, 0, 0)),
        DrawingPath(SQUARE + 25, True, stroke=(255, 0, 0)),
        DrawingPath(np.array([[100, 0], [110, 0], [105, 10]], dtype=float), True),
    )
    assert quote.drawing_area_mm2(plate) == pytest.approx(2 * 2500 - 625 + 50)
    assert quote.drawing_area_mm2(_drawing(DrawingPath(SQUARE, False))) is None
