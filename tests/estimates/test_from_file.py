"""Every plugin's machine file, read back by an independent reader and timed by an
independent planner for that firmware, says what the estimate claims.

The readers (``readers.py``) and planners (``planners.py``) are written for these
tests and share nothing with the writers or ``fabserver.estimate``. The limits
the planners use are the ones the file states (``M201``–``M205``,
``SET_VELOCITY_LIMIT``, the Grbl ``$`` header), so a file that does not say what
the estimate assumed fails here too. The claimed motion time must be within 2 %
of the independent one, the material within 1 %.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fabserver.designs import load_design
from fabserver.estimate import move_times
from fabserver.planning import PlanResult, run_plan, write_outputs
from fabserver.registry import load_registry
from fabserver.testing import SAMPLES, require
from fabserver.toolpath import EventKind, MoveKind

from .planners import generic_time, grbl_time, klipper_time, marlin_time, printer_cfg
from .readers import read_gcode, read_hpgl, read_stitch_file

TIME_TOLERANCE = 0.02
MATERIAL_TOLERANCE = 0.01


def plan_and_write(
    profiles,
    tmp_path: Path,
    plugin: str,
    sample: str,
    machine: str,
    material: str,
    suffix: str,
    **options,
) -> tuple[PlanResult, Path]:
    registry = load_registry()
    require(plugin in registry.plugins, f"plugin {plugin} not installed")
    design = load_design((SAMPLES / sample).read_bytes(), sample)
    m = profiles.machine(machine)
    result = run_plan(
        registry.get(plugin), design, m, profiles.material(material), options, profiles.policy
    )
    path = tmp_path / f"out{suffix}"
    write_outputs(result.plan, path)
    return result, path


def claimed_motion(result: PlanResult) -> float:
    """Motion time of one run of the main file (events are timed by the profile)."""
    return result.estimate.motion_time_s / result.estimate.runs


def report(name: str, claimed: float, measured: float, what: str, ours: float, theirs: float):
    print(
        f"\n{name}: time claimed {claimed:.1f} s, from the file {measured:.1f} s "
        f"({claimed / measured - 1:+.2%}); {what} claimed {ours:.2f}, in the file {theirs:.2f} "
        f"({ours / theirs - 1:+.2%})"
    )
    assert claimed == pytest.approx(measured, rel=TIME_TOLERANCE)
    assert ours == pytest.approx(theirs, rel=MATERIAL_TOLERANCE)


FDM_CASES = [
    ("printer-1", "fdm-bracket.stl"),
    ("printer-1", "fdm-step.stl"),
    ("printer-3", "fdm-bracket.stl"),
    ("printer-3", "fdm-step.stl"),
    ("printer-4", "fdm-bracket.stl"),  # per-feature accelerations
]


@pytest.mark.parametrize(("machine", "sample"), FDM_CASES)
def test_fdm_gcode_read_back(profiles, tmp_path, machine, sample):
    result, path = plan_and_write(profiles, tmp_path, "fdm", sample, machine, "pla-1.75", ".gcode")
    kin = profiles.machine(machine).kinematics
    end_marker = "PRINT_END" if kin.firmware == "klipper" else "G1 E-0.8 F2100 ; retract"
    read = read_gcode(path, markers=(";LAYER_CHANGE", end_marker))
    assert ";LAYER_CHANGE" in read.marks and end_marker in read.marks
    body = read.between(";LAYER_CHANGE", end_marker)
    # The file states the limits the estimate assumed.
    if kin.firmware == "marlin":
        assert read.limits["M204P"] == kin.accel and read.limits["M201X"] == kin.max_accel.x
        assert read.limits["M205X"] == kin.jerk.x and read.limits["M203E"] == kin.max_feed.e
        measured = marlin_time(body, read.limits)
    else:
        assert read.limits["ACCEL"] == kin.accel
        assert read.limits["SQUARE_CORNER_VELOCITY"] == kin.square_corner_velocity
        assert read.limits["MINIMUM_CRUISE_RATIO"] == kin.minimum_cruise_ratio
        text = path.read_text()
        for key, value in printer_cfg(kin).items():
            assert f"{key}: {value:g}" in text
        # Where the profile gives per-feature accelerations, the file sets each of them.
        feature = {
            v for k, v in profiles.machine(machine).settings.items() if k.endswith("_acceleration")
        }
        assert {m.accel for m in body} >= feature
        measured = klipper_time(body, read.limits, printer_cfg(kin))
    filament_file = sum(m.e for m in body)
    filament_claimed = next(u.quantity for u in result.plan.material_uses if u.unit == "m") * 1000
    report(
        f"{machine} {sample}",
        claimed_motion(result),
        measured,
        "filament mm",
        filament_claimed,
        filament_file,
    )


@pytest.mark.parametrize("sample", ["laser-keyring.svg", "laser-duplicates.dxf"])
def test_laser_gcode_read_back(profiles, tmp_path, sample):
    result, path = plan_and_write(
        profiles, tmp_path, "laser", sample, "laser", "plywood-3", ".gcode"
    )
    kin = profiles.machine("laser").kinematics
    read = read_gcode(path)
    s = read.limits
    assert s["$110"] == kin.max_feed.x * 60 and s["$120"] == kin.max_accel.x
    assert s["$121"] == kin.max_accel.y and s["$11"] == kin.junction_deviation
    assert s["$32"] == 1 and s["$30"] == profiles.machine("laser").settings["s_max"]
    tp = result.plan.toolpath
    on_sheet_1 = tp.layer == 0
    pierces = {ev.index for ev in tp.events if ev.kind == EventKind.PIERCE and on_sheet_1[ev.index]}
    # Pierce stops: the moves where the beam comes on after a rapid.
    stops = frozenset(
        i
        for i in range(1, len(read.moves))
        if read.moves[i - 1].rapid and not read.moves[i].rapid and read.moves[i].power > 0
    )
    assert len(stops) >= len(pierces) > 0
    measured = grbl_time(read.moves, s, stops)
    # Beam-on length: every G1 with power, against the cut, score and engraving claimed.
    beam_on = sum(m.length for m in read.moves if not m.rapid and m.power > 0)
    facts = result.plan.facts
    claimed_on = (
        facts["cut_length_mm"] * facts["operations"]["cut"]["passes"]
        + facts["score_length_mm"] * facts["operations"]["score"]["passes"]
        + facts["engrave_beam_on_mm"]
    )
    # The main file is sheet 1: the claimed motion of its moves.
    sheet_motion = float(move_times(tp, kin)[on_sheet_1].sum())
    report(f"laser {sample}", sheet_motion, measured, "beam-on mm", claimed_on, beam_on)


def test_mill_gcode_read_back(profiles, tmp_path):
    for sample, material in (("mill-nameplate.svg", "mdf-stock"), ("mill-relief.stl", "wax")):
        result, path = plan_and_write(profiles, tmp_path, "mill", sample, "mill", material, ".nc")
        kin = profiles.machine("mill").kinematics
        read = read_gcode(path)
        s = read.limits
        assert s["$112"] == kin.max_feed.z * 60 and s["$122"] == kin.max_accel.z
        assert s["$32"] == 0
        measured = grbl_time(read.moves, s, frozenset(read.stops))
        cut = sum(m.length for m in read.moves if not m.rapid) / 1000.0
        report(
            f"mill {sample}",
            claimed_motion(result),
            measured,
            "cut m",
            result.plan.facts["cut_length_m"],
            cut,
        )


@pytest.mark.parametrize("sample", ["vinyl-sticker.svg", "vinyl-label-text.svg"])
def test_vinyl_hpgl_read_back(profiles, tmp_path, sample):
    machine = profiles.machine("vinyl")
    result, path = plan_and_write(
        profiles, tmp_path, "vinyl", sample, "vinyl", "vinyl-adhesive", ".hpgl"
    )
    read = read_hpgl(path, machine.settings["units_per_mm"])
    kin = machine.kinematics
    for m in read.moves:
        if m.rapid:
            m.feed = kin.travel_feed  # the plotter's own pen-up speed
    measured = generic_time(
        read.moves,
        (kin.max_feed.x, kin.max_feed.y, kin.max_feed.z),
        (kin.max_accel.x, kin.max_accel.y, kin.max_accel.z),
        kin.accel,
        kin.travel_accel or kin.accel,
        kin.junction_deviation,
        frozenset(read.stops),
    )
    tp = result.plan.toolpath
    cut = sum(m.length for m in read.moves if not m.rapid)
    report(
        f"vinyl {sample}",
        claimed_motion(result),
        measured,
        "cut mm",
        tp.length_of(MoveKind.CUT),
        cut,
    )


@pytest.mark.parametrize("sample", ["embroidery-logo.svg", "embroidery-satin.svg"])
def test_embroidery_dst_read_back(profiles, tmp_path, sample):
    machine = profiles.machine("embroidery")
    result, path = plan_and_write(
        profiles, tmp_path, "embroidery", sample, "embroidery", "embroidery-polyester", ".dst"
    )
    read = read_stitch_file(path)
    kin = machine.kinematics
    rate = machine.settings["stitch_rate_spm"] / 60.0
    for m in read.moves:
        # One stitch per needle cycle; jumps no faster than the frame's travel speed.
        m.feed = m.length * rate if not m.rapid else min(m.length * rate, kin.travel_feed)
    measured = generic_time(
        read.moves,
        (kin.max_feed.x, kin.max_feed.y, kin.max_feed.z),
        (kin.max_accel.x, kin.max_accel.y, kin.max_accel.z),
        kin.accel,
        kin.travel_accel or kin.accel,
        kin.junction_deviation,
        frozenset(read.stops),
    )
    report(
        f"embroidery {sample}",
        claimed_motion(result),
        measured,
        "stitches",
        float(result.plan.facts["stitches"]),
        float(read.stitches),
    )
    assert not math.isnan(measured)
