"""fabserver's FDM estimates against PrusaSlicer's and CuraEngine's, on printer-1 (Marlin)
and printer-3 (Klipper), with grid and gyroid infill, supports and copies.

Two comparisons each:

* **same file**: the reference slicer's own G-code, read back and timed by
  fabserver's estimator, against that slicer's claim. Only the estimators differ:
  this is where the estimate is judged. PrusaSlicer models Marlin's classic jerk
  exactly as Marlin does (±3 %); CuraEngine's estimator combines x and y into one
  jerk vector, an older Marlin planner (±5 %).
* **plan**: fabserver's plan of the part against the slicer's, same settings:
  time within ±10 % and filament within ±5 % of PrusaSlicer (the lab's reference);
  CuraEngine lays different paths (its own infill, supports and seams) even at the
  same settings, so its plan is a sanity bound of ±15 %. Where fabserver's slicer
  lays more or less plastic than PrusaSlicer's, the case is an expected failure
  naming the reason: the estimate is right about the file, the slicer differs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fabserver.designs import load_design
from fabserver.estimate import move_times
from fabserver.planning import run_plan
from fabserver.registry import load_registry
from fabserver.testing import CORPUS, SAMPLES, require
from fabserver.toolpath import MoveKind

from . import cura
from .readers import as_toolpath, read_gcode

pytestmark = pytest.mark.reference

GRID = {"fill_pattern": "grid", "fill_density": "20%"}
GYROID = {"fill_pattern": "gyroid", "fill_density": "20%"}
CASES = [
    pytest.param("printer-1", "fdm-bracket.stl", GRID, id="p1-grid"),
    pytest.param("printer-1", "fdm-bracket.stl", GYROID, id="p1-gyroid"),
    pytest.param("printer-1", "fdm-bridge.stl", {"support_material": True}, id="p1-supports"),
    pytest.param("printer-1", "fdm-bracket.stl", {"support_material": True}, id="p1-shelf"),
    pytest.param("printer-1", "fdm-bracket.stl", {"copies": 2}, id="p1-copies"),
    pytest.param("printer-1", "corpus:20mm-xyz-cube.stl", GYROID, id="p1-cube-gyroid"),
    pytest.param("printer-3", "fdm-bracket.stl", GRID, id="p3-grid"),
    pytest.param("printer-3", "fdm-bracket.stl", GYROID, id="p3-gyroid"),
    pytest.param("printer-3", "fdm-bridge.stl", {"support_material": True}, id="p3-supports"),
    pytest.param("printer-3", "fdm-bracket.stl", {"support_material": True}, id="p3-shelf"),
    pytest.param("printer-3", "fdm-bracket.stl", {"copies": 2}, id="p3-copies"),
    pytest.param("printer-3", "corpus:20mm-xyz-cube.stl", GYROID, id="p3-cube-gyroid"),
]
EXPECTED_PLAN_DIFFERENCES: dict[str, str] = {}


def design_path(name: str) -> Path:
    if name.startswith("corpus:"):
        path = CORPUS / "stl" / name.split(":", 1)[1]
        require(path.exists(), f"corpus file {path} not found")
        return path
    return SAMPLES / name


def our_plan(profiles, machine_id: str, name: str, options: dict):
    registry = load_registry()
    require("fdm" in registry.plugins, "the fdm plugin is not installed")
    path = design_path(name)
    machine, material = profiles.machine(machine_id), profiles.material("pla-1.75")
    result = run_plan(
        registry.get("fdm"),
        load_design(path.read_bytes(), path.name),
        machine,
        material,
        options,
        profiles.policy,
    )
    from fabserver_fdm.settings import PrintSettings

    settings = PrintSettings.resolve(machine, material, result.options)
    tp = result.plan.toolpath
    filament = float(tp.e[tp.kind == MoveKind.EXTRUDE].sum()) * result.estimate.runs
    return path, machine, settings, result, filament


def prusaslicer(path, settings, machine, workdir, copies):
    from fabserver_fdm.reference import available, run_prusaslicer

    require(available(), "prusa-slicer is not installed (see scripts/system-deps.sh)")
    return run_prusaslicer(path, settings, machine, keep=workdir, copies=copies)


def compare(label, ours_t, ref_t, ours_f, ref_f, time_tol, filament_tol):
    dt, df = ours_t / ref_t - 1, ours_f / ref_f - 1
    print(
        f"\n{label}: time {ours_t:.0f} s vs {ref_t:.0f} s ({dt:+.1%}); "
        f"filament {ours_f:.0f} mm vs {ref_f:.0f} mm ({df:+.1%})"
    )
    assert abs(dt) <= time_tol and abs(df) <= filament_tol


@pytest.mark.parametrize(("machine_id", "name", "options"), CASES)
def test_prusaslicer_file_timed_by_our_estimator(profiles, tmp_path, machine_id, name, options):
    path, machine, settings, result, _ = our_plan(profiles, machine_id, name, options)
    ref = prusaslicer(path, settings, machine, tmp_path, int(result.options["copies"]))
    read = read_gcode(ref.gcode)
    ours = float(move_times(as_toolpath(read.moves), machine.kinematics).sum())
    filament = sum(m.e for m in read.moves)
    compare(
        f"PrusaSlicer's file, {machine_id}", ours, ref.time_s, filament, ref.filament_mm, 0.03, 0.01
    )


@pytest.mark.parametrize(("machine_id", "name", "options"), CASES)
def test_plan_matches_prusaslicer(request, profiles, tmp_path, machine_id, name, options):
    why = EXPECTED_PLAN_DIFFERENCES.get(request.node.callspec.id)
    if why:
        request.applymarker(pytest.mark.xfail(reason=why, strict=True))
    path, machine, settings, result, filament = our_plan(profiles, machine_id, name, options)
    ref = prusaslicer(path, settings, machine, tmp_path, int(result.options["copies"]))
    compare(
        f"plan vs PrusaSlicer, {machine_id}",
        result.estimate.motion_time_s,
        ref.time_s,
        filament,
        ref.filament_mm,
        0.10,
        0.05,
    )


CURA_CASES = [c for c in CASES if "copies" not in c.id and "cube" not in c.id]
CURA_SUPPORTS = (
    "CuraEngine supports bridges too and lays its supports by its own rules (density, "
    "interface, distances); fabserver follows PrusaSlicer's (the lab's reference)"
)
#: p3-shelf is within the bounds (+8 % time, +13 % filament); p1-shelf is not (+29 % time).
CURA_PLAN_DIFFERENCES = {case: CURA_SUPPORTS for case in ("p1-supports", "p3-supports", "p1-shelf")}


@pytest.mark.parametrize(("machine_id", "name", "options"), CURA_CASES)
def test_curaengine_file_timed_by_our_estimator(profiles, tmp_path, machine_id, name, options):
    require(cura.available(), "CuraEngine or Cura's definitions not installed (cura-engine, cura)")
    path, machine, settings, _, _ = our_plan(profiles, machine_id, name, options)
    ref = cura.run_cura(path, settings, machine, tmp_path)
    read = read_gcode(ref.gcode, markers=(";LAYER:0",))
    body = read.between(";LAYER:0")
    ours = float(move_times(as_toolpath(body), machine.kinematics).sum())
    filament = sum(m.e for m in body)
    compare(
        f"CuraEngine's file, {machine_id}", ours, ref.time_s, filament, ref.filament_mm, 0.05, 0.01
    )


@pytest.mark.parametrize(("machine_id", "name", "options"), CURA_CASES)
def test_plan_within_curaengine_bounds(request, profiles, tmp_path, machine_id, name, options):
    why = CURA_PLAN_DIFFERENCES.get(request.node.callspec.id)
    if why:
        request.applymarker(pytest.mark.xfail(reason=why, strict=True))
    require(cura.available(), "CuraEngine or Cura's definitions not installed (cura-engine, cura)")
    path, machine, settings, result, filament = our_plan(profiles, machine_id, name, options)
    ref = cura.run_cura(path, settings, machine, tmp_path)
    compare(
        f"plan vs CuraEngine, {machine_id}",
        result.estimate.motion_time_s,
        ref.time_s,
        filament,
        ref.filament_mm,
        0.15,
        0.15,
    )
