"""Print quality measured on the G-code, beside PrusaSlicer's on the same models and settings.

The G-code is read by a reader of this test's own (not the plugin's readback), which
follows the moves as a firmware does and groups them into extrusion paths and
travels by the ``;TYPE:`` comments both slicers write. Measured:

- inner-perimeter length with an infill line within 0.15 mm of it: infill laid on the
  wall (overstuffed walls, ribs);
- travels over 2 mm without retraction on layers with top skin: strings on decks;
- non-perimeter paths shorter than 0.5 mm: fragments, each with its own start and stop;
- on layers that bridge over air, the share of the bridge length resting on what the
  layer below printed (its walls, solid or sparse infill): anchored bridges.

With ``CI=true`` a missing PrusaSlicer or corpus fails the test instead of skipping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import shapely
from fabserver_fdm import FdmPlugin
from fabserver_fdm.reference import available, run_prusaslicer
from fabserver_fdm.settings import PrintSettings

from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.testing import CORPUS, CORPUS_MISSING, SAMPLES, require

SETTINGS = {
    "layer_height": 0.2,
    "first_layer_height": 0.2,
    "perimeters": 2,
    "fill_density": "15%",
    "fill_pattern": "grid",
    "top_solid_layers": 4,
    "bottom_solid_layers": 3,
}
# Thresholds of the "done" definition.
MAX_INFILL_ON_WALL = 0.02  # share of the inner-perimeter length
MAX_UNRETRACTED_ON_TOP_LAYERS = 0  # travels over 2 mm
MAX_SHORT_PATHS_VS_PRUSA = 3.0  # non-perimeter paths under 0.5 mm, times PrusaSlicer's count
MIN_BRIDGE_ON_WALLS = 0.25  # share of a roof's bridge length resting on the walls below
BRIDGE_SLACK = 0.05  # parts without a roof: no less anchored than PrusaSlicer's, within this

NEAR = 0.15  # mm: an infill line this close to the inner perimeter's centre line lies on it
LONG_TRAVEL = 2.0  # mm
SHORT_PATH = 0.5  # mm
REST = 0.3  # mm: a bridge point this close to a line printed below rests on it
CLOSE = 3.2  # mm: gaps of sparse infill below (15 % grid) count as supported
OVER_AIR = 0.8  # layers whose bridges rest on the layer below for less than this share

PERIMETERS = {"External perimeter", "Perimeter", "Overhang perimeter"}
INFILL = {"Internal infill", "Solid infill", "Top solid infill", "Bridge infill"}
NOT_PATHS = PERIMETERS | {"Skirt/Brim", "Skirt", "Wipe tower", "Custom"}


@dataclass
class Layer:
    """What one layer prints: extrusion paths by type and travels."""

    z: float
    paths: list[tuple[str, np.ndarray]]  # (type, (m, 2) points)
    travels: list[tuple[float, bool]]  # (length mm, retracted)

    def lines(self, types: set[str]) -> list[np.ndarray]:
        return [pts for t, pts in self.paths if t in types and len(pts) >= 2]


def read_layers(text: str) -> list[Layer]:
    """Follow the G-code as a firmware does (absolute XYZ, relative or absolute E).

    An extrusion path is a run of extruding moves of one ``;TYPE:``; a travel is
    the XY motion between two paths, retracted when the filament was pulled back
    (negative E, or firmware ``G10``) during it.
    """
    layers: list[Layer] = []
    x = y = z = 0.0
    e_abs = 0.0
    relative = True
    kind = ""
    retracted = False
    path: list[tuple[float, float]] = []
    travel = 0.0
    travel_retracted = False

    def close_path() -> None:
        nonlocal path
        if layers and len(path) >= 2:
            layers[-1].paths.append((kind, np.array(path)))
        path = []

    def close_travel() -> None:
        nonlocal travel, travel_retracted
        if layers and travel > 0:
            layers[-1].travels.append((travel, travel_retracted))
        travel, travel_retracted = 0.0, retracted

    for raw in text.splitlines():
        if raw.startswith(";LAYER_CHANGE"):
            close_path()
            close_travel()
            layers.append(Layer(z, [], []))
            continue
        if raw.startswith(";Z:") and layers:
            layers[-1].z = float(raw[3:])
            continue
        if raw.startswith(";TYPE:"):
            close_path()
            kind = raw[6:].strip()
            continue
        code = raw.split(";", 1)[0].strip().upper()
        if not code:
            continue
        head = code.split()[0]
        if head == "M83":
            relative = True
        elif head == "M82":
            relative = False
        elif head == "G92":
            for word in code.split()[1:]:
                if word.startswith("E"):
                    e_abs = float(word[1:])
        elif head == "G10":
            retracted = True
            travel_retracted = True
        elif head == "G11":
            retracted = False
        if head not in ("G0", "G1"):
            continue
        words = {w[0]: float(w[1:]) for w in code.split()[1:] if w[0] in "XYZEF"}
        nx, ny = words.get("X", x), words.get("Y", y)
        z = words.get("Z", z)
        de = 0.0
        if "E" in words:
            if relative:
                de = words["E"]
            else:
                de, e_abs = words["E"] - e_abs, words["E"]
        moved = (nx, ny) != (x, y)
        if de > 0 and moved:
            if travel > 0 or not path:
                close_travel()
                close_path()
                path = [(x, y)]
            path.append((nx, ny))
            retracted = False
        else:
            if de < 0:
                retracted = True
                travel_retracted = True
            elif de > 0:
                retracted = False
            if moved:
                close_path()
                travel += float(np.hypot(nx - x, ny - y))
                travel_retracted = travel_retracted or retracted
        x, y = nx, ny
    close_path()
    close_travel()
    return layers


def _multiline(lines: list[np.ndarray]):
    return shapely.multilinestrings([shapely.linestrings(p) for p in lines])


def _length(lines: list[np.ndarray]) -> float:
    return float(sum(np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in lines))


@dataclass(frozen=True)
class Quality:
    infill_on_wall: float  # share of the inner-perimeter length
    unretracted: int  # travels over 2 mm without retraction, all layers
    unretracted_top: int  # the same on layers with top skin
    short_paths: int  # non-perimeter paths under 0.5 mm
    bridge_on_walls: float  # share of bridge length, on layers bridging air, resting on walls

    def row(self) -> str:
        return (
            f"{self.infill_on_wall:6.1%} | {self.unretracted:4d} ({self.unretracted_top}) | "
            f"{self.short_paths:4d} | {self.bridge_on_walls:6.1%}"
        )


def _closed(area):
    """Morphological closing: the gaps between sparse infill lines filled, open spans kept."""
    return shapely.buffer(shapely.buffer(area, CLOSE, quad_segs=4), -CLOSE, quad_segs=4)


def measure(layers: list[Layer]) -> Quality:
    """The four figures of a print (see the module's docstring)."""
    wall_total = wall_touched = 0.0
    unretracted = unretracted_top = short = 0
    bridge_total = bridge_resting = 0.0
    below = None
    for layer in layers:
        inner = layer.lines({"Perimeter"})
        infill = layer.lines(INFILL)
        if inner:
            walls = _multiline(inner)
            wall_total += shapely.length(walls)
            if infill:
                near = shapely.buffer(_multiline(infill), NEAR, quad_segs=4)
                wall_touched += shapely.length(shapely.intersection(walls, near))
        has_top = any(t == "Top solid infill" for t, _ in layer.paths)
        for length, retracted in layer.travels:
            if length > LONG_TRAVEL and not retracted:
                unretracted += 1
                unretracted_top += has_top
        short += sum(
            1 for t, pts in layer.paths if t not in NOT_PATHS and _length([pts]) < SHORT_PATH
        )
        bridges = layer.lines({"Bridge infill"})
        if bridges and below is not None:
            b = _multiline(bridges)
            total = shapely.length(b)
            resting = shapely.length(shapely.intersection(b, below))
            if total > 0 and resting < OVER_AIR * total:  # this layer bridges over air
                bridge_total += total
                bridge_resting += resting
        printed = layer.lines(PERIMETERS | INFILL | {"Gap fill"})
        below = _closed(shapely.buffer(_multiline(printed), REST)) if printed else None
    return Quality(
        wall_touched / wall_total if wall_total else 0.0,
        unretracted,
        unretracted_top,
        short,
        bridge_resting / bridge_total if bridge_total else 1.0,
    )


def slice_both(path: Path, profiles, tmp_path: Path) -> tuple[Quality, Quality]:
    """fabserver's and PrusaSlicer's figures for ``path`` on printer-1 with PLA."""
    machine = profiles.machine("printer-1")
    material = profiles.material("pla-1.75")
    result = run_plan(
        FdmPlugin(),
        load_design(path.read_bytes(), path.name),
        machine,
        material,
        SETTINGS,
        profiles.policy,
    )
    ours = tmp_path / "fabserver.gcode"
    with ours.open("wb") as out:
        result.plan.outputs[0].write(out)
    settings = PrintSettings.resolve(machine, material, result.options)
    reference = run_prusaslicer(path, settings, machine, keep=tmp_path)
    assert reference.gcode is not None
    mine = measure(read_layers(ours.read_text()))
    theirs = measure(read_layers(reference.gcode.read_text()))
    print(
        f"\n{path.name}  fabserver: {mine.row()}\n{' ' * len(path.name)}  PrusaSlicer: {theirs.row()}"
    )
    return mine, theirs


MODELS = [  # where, file, has a roof (a bridge between walls)
    ("corpus", "stl/3DBenchy.stl", True),
    ("corpus", "stl/20mm-xyz-cube.stl", False),
    ("corpus", "stl/M3x10_screw.stl", False),
    ("samples", "fdm-step.stl", False),
    ("samples", "fdm-bracket.stl", False),
    ("samples", "fdm-bridge.stl", True),
]


@pytest.mark.reference
@pytest.mark.parametrize(("where", "name", "roof"), MODELS, ids=[n for _, n, _ in MODELS])
def test_print_quality_against_prusaslicer(where, name, roof, profiles, tmp_path):
    require(available() is not None, "prusa-slicer is not installed (scripts/system-deps.sh)")
    root = CORPUS if where == "corpus" else SAMPLES
    require(root.is_dir(), CORPUS_MISSING)
    path = root / name
    require(path.is_file(), f"{path} is missing")
    mine, theirs = slice_both(path, profiles, tmp_path)
    assert mine.infill_on_wall <= MAX_INFILL_ON_WALL
    assert mine.unretracted_top <= MAX_UNRETRACTED_ON_TOP_LAYERS
    assert mine.short_paths <= MAX_SHORT_PATHS_VS_PRUSA * max(theirs.short_paths, 1)
    if roof:
        assert mine.bridge_on_walls >= MIN_BRIDGE_ON_WALLS
    else:  # a hole's ceiling, an overhang's edge: held no worse than PrusaSlicer holds it
        assert mine.bridge_on_walls >= theirs.bridge_on_walls - BRIDGE_SLACK


def test_reader_sees_paths_travels_and_retractions():
    """The reader itself, on a hand-written G-code with a known answer."""
    text = "\n".join(
        [
            "M83",
            ";LAYER_CHANGE",
            ";Z:0.2",
            "G1 Z0.2 F720",
            ";TYPE:Perimeter",
            "G1 X0 Y0 F3000",
            "G1 X10 Y0 E0.5",
            "G1 X10 Y10 E0.5",
            ";TYPE:Solid infill",
            "G1 X10.3 Y10 E0.01",
            "G1 X30 Y10",  # 19.7 mm travel, not retracted
            "G1 X30 Y20 E0.5",
            "G1 E-0.8",
            "G1 Z0.6",
            "G1 X30 Y40",  # 20 mm travel, retracted
            "G1 Z0.2",
            "G1 E0.8",
            ";TYPE:Top solid infill",
            "G1 X40 Y40 E0.5",
        ]
    )
    layers = read_layers(text)
    assert len(layers) == 1
    layer = layers[0]
    assert [t for t, _ in layer.paths] == [
        "Perimeter",
        "Solid infill",
        "Solid infill",
        "Top solid infill",
    ]
    assert [(round(d, 3), r) for d, r in layer.travels] == [(19.7, False), (20.0, True)]
    q = measure(layers)
    assert q.short_paths == 1  # the 0.3 mm solid infill piece
    assert q.unretracted == 1 and q.unretracted_top == 1
    assert q.infill_on_wall == pytest.approx(0.15 / 20, abs=0.01)  # the wall's corner
