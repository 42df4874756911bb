"""fabserver's estimates against PrusaSlicer's own, on the same models and settings.

PrusaSlicer (Debian's ``prusa-slicer``) slices with a config written from the
same settings and the same machine limits as the profile (0.2 mm layers, 2
perimeters, 15 % grid infill, 4 top / 3 bottom layers, 0.4 mm nozzle, PLA
1.75 mm) and its G-code's "; estimated printing time (normal mode)" and
"; filament used [mm]" are compared with fabserver's plan. Heating is not in
PrusaSlicer's estimate, so it is left out of ours for the comparison.
"""

from __future__ import annotations

import pytest
from fabserver_fdm import FdmPlugin
from fabserver_fdm.reference import available, run_prusaslicer
from fabserver_fdm.settings import PrintSettings

from fabserver.designs import load_design
from fabserver.estimate import move_times
from fabserver.planning import run_plan
from fabserver.testing import require
from fabserver.toolpath import MoveKind

FILAMENT_TOLERANCE = 0.10  # ±10 %
TIME_TOLERANCE = 0.20  # ±20 %
SETTINGS = {
    "layer_height": 0.2,
    "first_layer_height": 0.2,
    "perimeters": 2,
    "fill_density": "15%",
    "fill_pattern": "grid",
    "top_solid_layers": 4,
    "bottom_solid_layers": 3,
}

pytestmark = pytest.mark.reference


@pytest.fixture(autouse=True)
def _prusaslicer_installed() -> None:
    require(available(), "prusa-slicer is not installed (see scripts/system-deps.sh)")


def compare(path, profiles):
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
    tp = result.plan.toolpath
    ours_time = float(move_times(tp, machine.kinematics).sum())  # motion only, like PrusaSlicer
    ours_filament = float(tp.e[tp.kind == MoveKind.EXTRUDE].sum())
    settings = PrintSettings.resolve(machine, material, result.options)
    reference = run_prusaslicer(path, settings, machine)
    dt = ours_time / reference.time_s - 1
    df = ours_filament / reference.filament_mm - 1
    print(
        f"\n{path.name}: time {ours_time / 60:.1f} min vs PrusaSlicer {reference.time_s / 60:.1f} "
        f"min ({dt:+.1%}); filament {ours_filament:.0f} mm vs {reference.filament_mm:.0f} mm "
        f"({df:+.1%})"
    )
    assert abs(df) <= FILAMENT_TOLERANCE
    assert abs(dt) <= TIME_TOLERANCE


def test_20mm_cube_matches_prusaslicer(corpus, profiles):
    compare(corpus / "stl" / "20mmbox-LF.stl", profiles)


def test_calibration_cube_with_letters_matches_prusaslicer(corpus, profiles):
    compare(corpus / "stl" / "20mm-xyz-cube.stl", profiles)


def test_screw_matches_prusaslicer(corpus, profiles):
    compare(corpus / "stl" / "M3x10_screw.stl", profiles)


def test_step_sample_matches_prusaslicer(samples, profiles):
    compare(samples / "fdm-step.stl", profiles)


@pytest.mark.slow
def test_benchy_matches_prusaslicer(corpus, profiles):
    compare(corpus / "stl" / "3DBenchy.stl", profiles)
