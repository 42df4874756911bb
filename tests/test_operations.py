"""The operations model: one map syntax for every drawing plugin, and the report of what was found."""

from __future__ import annotations

import numpy as np
import pytest

from fabserver.designs.types import DrawingPath
from fabserver.errors import PlanError
from fabserver.operations import OperationMap, Operations, Rule, group, report, resolve

LASER = Operations(("cut", "score", "engrave"), "#ff0000=cut", fill_only=frozenset({"engrave"}))
MILL = Operations(
    ("outside", "inside", "pocket", "engrave"),
    "#ff0000=pocket:2.5",
    with_value=frozenset({"outside", "inside", "pocket", "engrave"}),
)


def square(x: float, size: float) -> np.ndarray:
    return np.array([[x, 0], [x + size, 0], [x + size, size], [x, size]], dtype=float)


def test_machine_convention_then_the_jobs_entries_win():
    cmap = OperationMap.of_machine(MILL, "#ff0000=pocket, #000000=outside", "HOLES=inside")
    job = OperationMap.of_machine(
        MILL, "#ff0000=pocket, #000000=outside", "HOLES=inside", job_map="red=pocket:2.5"
    )
    paths = [
        DrawingPath(square(0, 10), True, stroke=(255, 0, 0)),
        DrawingPath(square(20, 10), True, stroke=(1, 0, 2)),  # near black: same colour
        DrawingPath(square(40, 10), True, stroke=(255, 0, 0), layer="holes"),  # layer first
        DrawingPath(square(60, 10), True, stroke=(0, 200, 0)),  # named by no map
    ]
    assert [r.rule for r in resolve(paths, cmap)] == [
        Rule("pocket"),
        Rule("outside"),
        Rule("inside"),
        None,
    ]
    assert resolve(paths, job)[0].rule == Rule("pocket", 2.5)
    assert group(resolve(paths, cmap)) == {
        Rule("pocket"): [0],
        Rule("outside"): [1],
        Rule("inside"): [2],
        None: [3],
    }


def test_fill_only_operations_leave_outlines_alone_unless_asked():
    cmap = OperationMap.parse(LASER, "#000000=engrave, *=ignore")
    outline = DrawingPath(square(0, 10), True, stroke=(0, 0, 0))
    filled = DrawingPath(square(0, 10), True, fill=(0, 0, 0))
    (o, f) = resolve([outline, filled], cmap)
    assert o.stroke == Rule("ignore") and f.fill == Rule("engrave")
    stroked = OperationMap.parse(LASER, "stroke:#000000=engrave")
    assert resolve([outline], stroked)[0].stroke == Rule("engrave")


def test_presets_bring_their_entries():
    presets = {"boxes": "#000000=cut, #0000ff=cut, #ff0000=ignore"}
    cmap = OperationMap.parse(LASER, "#000000=score").updated("boxes", presets)
    assert cmap.for_colour((0, 0, 0)) == Rule("cut")


@pytest.mark.parametrize(
    "bad,ops",
    [
        ("#ff0000=burn", LASER),
        ("#zzzzzz=cut", LASER),
        ("nopreset", LASER),
        ("#ff0000=cut:2", LASER),  # the laser's operations take no value
        ("#ff0000=pocket:-1", MILL),
        ("#ff0000=pocket:deep", MILL),
    ],
)
def test_bad_entries_are_maker_errors_naming_the_entry(bad, ops):
    with pytest.raises(PlanError) as err:
        OperationMap.parse(ops, bad)
    assert bad in err.value.message.en and bad in err.value.message.fr
    assert ops.example in err.value.message.en


def test_report_lists_each_colour_and_layer_with_length_area_and_operation():
    cmap = OperationMap.parse(LASER, "stroke:#ff0000=cut, fill:#000000=engrave, layer:tx*=score")
    paths = [
        DrawingPath(square(0, 10), True, stroke=(255, 0, 0)),
        DrawingPath(square(20, 10), True, stroke=(255, 0, 0)),
        DrawingPath(square(40, 5), True, fill=(0, 0, 0)),
        DrawingPath(square(60, 5), False, stroke=(0, 0, 255)),
        DrawingPath(square(80, 5), True, stroke=(0, 0, 0), layer="TXT"),
    ]
    found = {f.key: f for f in report(paths, resolve(paths, cmap))}
    assert list(found) == ["stroke:#ff0000", "fill:#000000", "stroke:#0000ff", "layer:TXT"]
    red = found["stroke:#ff0000"]
    assert (red.paths, red.length_mm, red.area_mm2, red.operation) == (2, 80.0, 200.0, "cut")
    assert found["fill:#000000"].operation == "engrave"
    assert found["fill:#000000"].area_mm2 == pytest.approx(25.0)
    blue = found["stroke:#0000ff"]
    assert (blue.length_mm, blue.area_mm2, blue.operation) == (15.0, 0.0, None)
    assert found["layer:TXT"].to_dict() == {
        "key": "layer:TXT",
        "paths": 1,
        "length_mm": 20.0,
        "area_mm2": 25.0,
        "operation": "score",
        "value": None,
    }
