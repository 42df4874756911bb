"""Layers shorter than the minimum layer time are slowed until the printer, running the
written file, takes that long on each of them: read back by the independent reader and
timed per layer by the independent planner of the printer's firmware.

A slowdown that assumed time ∝ 1 / feed stopped short on small parts, whose short moves
are bound by acceleration: their layers then printed too fast to cool.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
import trimesh

from fabserver.designs import load_design
from fabserver.planning import run_plan, write_outputs
from fabserver.registry import load_registry
from fabserver.testing import require

from .planners import fdm_time
from .readers import read_gcode

#: Each layer at least this share of the minimum layer time (the solver stops within
#: 0.5 % above it; the rest is the layer boundaries, planned at rest here).
AT_LEAST = 0.99


def layer_times(profiles, tmp_path, machine_id: str, extents: tuple[float, float, float]):
    """Plan a box of ``extents`` mm, write it, and read back each layer's time and how
    fast its fastest extrusion runs."""
    registry = load_registry()
    require("fdm" in registry.plugins, "the fdm plugin is not installed")
    from fabserver_fdm.settings import PrintSettings

    stl = trimesh.creation.box(extents=extents).export(file_type="stl")
    machine, material = profiles.machine(machine_id), profiles.material("pla-1.75")
    result = run_plan(
        registry.get("fdm"), load_design(stl, "box.stl"), machine, material, {}, profiles.policy
    )
    path = tmp_path / "box.gcode"
    write_outputs(result.plan, path)
    kin = machine.kinematics
    end = "PRINT_END" if kin.firmware == "klipper" else "G1 E-0.8 F2100 ; retract"
    read = read_gcode(path, markers=(";LAYER_CHANGE", end))
    starts = read.all_marks[";LAYER_CHANGE"]
    bounds = [*starts, read.marks[end]]
    layers = [read.moves[a:b] for a, b in pairwise(bounds)]
    assert len(layers) == int(result.plan.facts["layer_count"])
    times = [fdm_time(moves, read.limits, kin) for moves in layers]
    fastest = [
        max((m.feed for m in moves if m.e > 0 and m.length > 0), default=0.0) for moves in layers
    ]
    return PrintSettings.resolve(machine, material, result.options).filament, times, fastest


# printer-4 sets an acceleration per feature: the slowdown plans with them too.
@pytest.mark.parametrize("machine_id", ["printer-1", "printer-3", "printer-4"])
def test_short_layers_take_the_minimum_layer_time(profiles, tmp_path, machine_id):
    filament, times, _ = layer_times(profiles, tmp_path, machine_id, (16.0, 16.0, 4.0))
    target = filament.slowdown_below_layer_time
    assert target > 0
    print(f"\n{machine_id}: layer times {min(times):.2f}–{max(times):.2f} s, minimum {target} s")
    assert min(times) >= AT_LEAST * target
    # The sparse layers are slowed to the minimum, not far beyond it.
    slowed = [t for t in times if t <= 1.03 * target]
    assert len(slowed) >= len(times) // 3


@pytest.mark.parametrize("machine_id", ["printer-1", "printer-3"])
def test_min_print_speed_stops_the_slowdown(profiles, tmp_path, machine_id):
    filament, times, fastest = layer_times(profiles, tmp_path, machine_id, (3.0, 3.0, 3.0))
    target, floor = filament.slowdown_below_layer_time, filament.min_print_speed
    short = [i for i, t in enumerate(times) if t < AT_LEAST * target]
    # A 3 mm pin cannot take 15 s a layer at min_print_speed: its layers are short, and
    # every extrusion of them runs at min_print_speed (or slower, if asked so).
    assert short
    assert all(fastest[i] <= floor + 1e-6 for i in short)
