"""fabserver's claim on a Klipper printer against Klipper's own planner.

klippy (the Klipper host, unmodified upstream code built by the Moonraker test
stack) runs offline in batch mode on the G-code fabserver wrote::

    klippy.py printer.cfg -i in.gcode -o out.serial -d klipper.dict

with a ``printer.cfg`` generated from the printer's profile and the MCU
dictionary the stack built. In batch mode klippy plans every move with its
toolhead look-ahead (square corner velocity, minimum cruise ratio, the
``SET_VELOCITY_LIMIT`` changes the file makes) and logs ``Exiting (print time
…s)`` at the end of the file. The motion time of the print is the print time of
the whole file less that of its start alone, each ending with ``M400`` (the
toolhead stops), so start-up offsets cancel out. Measured on the samples and on
3DBenchy: within 0.06 % (Benchy 0.004 %); required within :data:`KLIPPY_TOLERANCE`
(0.2 %: tight enough that a file without printer-4's per-feature ``ACCEL`` changes,
0.4 % off on fdm-step, fails).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fabserver.profiles import Kinematics, MachineProfile
from fabserver.testing import CORPUS, CORPUS_MISSING, require

from .test_from_file import claimed_motion, plan_and_write

KLIPPY_TOLERANCE = 0.002
KLIPPY_TIMEOUT_S = 600
_EXIT = re.compile(r"Exiting \(print time ([\d.]+)s\)")


@dataclass(frozen=True)
class Klippy:
    python: Path
    script: Path
    dictionary: Path

    def print_time(self, config: Path, gcode: Path) -> float:
        """Seconds of print time klippy's planner gives ``gcode`` (batch mode)."""
        log = gcode.with_suffix(".log")
        done = subprocess.run(
            [
                *(str(self.python), str(self.script), str(config), "-i", str(gcode)),
                *("-o", str(gcode.with_suffix(".serial")), "-d", str(self.dictionary)),
                *("-l", str(log)),
            ],
            capture_output=True,
            text=True,
            timeout=KLIPPY_TIMEOUT_S,
        )
        text = log.read_text() if log.exists() else ""
        times = _EXIT.findall(text)
        assert done.returncode == 0 and times, (
            f"klippy did not finish {gcode.name}: {done.stderr[-800:]} {text[-1500:]}"
        )
        return float(times[-1])


@pytest.fixture(scope="module")
def klippy() -> Klippy:
    """klippy and the MCU dictionary from the Moonraker test stack (built once if absent)."""
    from tests.dispatch.moonraker_stack import StackUnavailable, mr_dir, start_stack

    root = mr_dir()
    found = Klippy(
        root / "kvenv" / "bin" / "python",
        root / "klipper" / "klippy" / "klippy.py",
        root / "klipper" / "out" / "klipper.dict",
    )
    chelper = root / "klipper" / "klippy" / "chelper" / "c_helper.so"
    parts = (found.python, found.script, found.dictionary, chelper)
    reason = ""
    if not all(p.exists() for p in parts):
        try:  # the stack's start script builds Klipper, its C helper and venv
            start_stack().stop()
        except StackUnavailable as error:
            reason = str(error)
    require(
        all(p.exists() for p in parts),
        f"Klipper (klippy, its venv and klipper.dict) not built under {root}: {reason}",
    )
    return found


def printer_cfg(machine: MachineProfile, folder: Path) -> Path:
    """A ``printer.cfg`` with the limits of ``machine``'s profile, for klippy in batch mode.

    The pins are those of Klipper's linux-process MCU the stack built; steps are
    coarse (klippy plans in mm: step sizes change nothing it plans). Heaters read
    files (``temperature_host``), so temperature commands in the G-code are accepted.
    """
    kin: Kinematics = machine.kinematics
    area = machine.work_area
    for name in ("extruder_temp", "bed_temp"):
        (folder / name).write_text("220000\n")
    steppers = []
    for i, (axis, size) in enumerate((("x", area.x), ("y", area.y), ("z", area.z))):
        steppers.append(
            f"[stepper_{axis}]\nstep_pin: gpio{4 * i}\ndir_pin: gpio{4 * i + 1}\n"
            f"enable_pin: !gpio{4 * i + 2}\nendstop_pin: gpio{4 * i + 3}\nmicrosteps: 1\n"
            f"rotation_distance: {400 if axis != 'z' else 80}\nposition_min: -5\n"
            f"position_endstop: {size:g}\nposition_max: {size + 5:g}\n"
        )
    text = f"""[mcu]
serial: {folder / "mcu-not-used-in-batch-mode"}

[printer]
kinematics: cartesian
max_velocity: {min(kin.max_feed.x, kin.max_feed.y):g}
max_accel: {kin.work_accel:g}
minimum_cruise_ratio: {kin.minimum_cruise_ratio:g}
square_corner_velocity: {kin.square_corner_velocity or 0.0:g}
max_z_velocity: {kin.max_feed.z:g}
max_z_accel: {kin.max_accel.z:g}

{chr(10).join(steppers)}
[extruder]
step_pin: gpio12
dir_pin: gpio13
enable_pin: !gpio14
microsteps: 1
rotation_distance: 200
nozzle_diameter: {machine.settings.get("nozzle_diameter", 0.4)}
filament_diameter: 1.750
heater_pin: gpio15
sensor_type: temperature_host
sensor_path: {folder / "extruder_temp"}
control: watermark
min_temp: 0
max_temp: 300
min_extrude_temp: 0
max_extrude_cross_section: 50
max_extrude_only_distance: 1000
max_extrude_only_velocity: {kin.max_feed.e:g}
max_extrude_only_accel: {kin.retract_accel or kin.max_accel.e:g}
instantaneous_corner_velocity: {kin.extruder_corner_velocity:g}

[heater_bed]
heater_pin: gpio16
sensor_type: temperature_host
sensor_path: {folder / "bed_temp"}
control: watermark
min_temp: 0
max_temp: 130

[fan]
pin: gpio17

[homing_override]
set_position_x: 0
set_position_y: 0
set_position_z: 0
gcode:
  G92 X0 Y0 Z0

[gcode_macro PRINT_START]
gcode:
  G28

[gcode_macro PRINT_END]
gcode:
  M400
"""
    path = folder / "printer.cfg"
    path.write_text(text)
    return path


def klippy_motion(klippy: Klippy, config: Path, gcode: Path, start: tuple) -> float:
    """Motion time of ``gcode``'s print (first layer to ``PRINT_END``), by klippy.

    The file's start code runs, then the toolhead goes to where fabserver's
    toolpath starts and stops: the print time of that alone is subtracted.
    """
    text = gcode.read_text()
    head, marker, rest = text.partition(";LAYER_CHANGE")
    assert marker and "PRINT_END" in rest, "no layers or no PRINT_END in the file"
    body = marker + rest.split("PRINT_END", 1)[0]
    go = "G1 X{:.3f} Y{:.3f} Z{:.3f} F6000\nM400\n".format(*start)
    alone = gcode.with_name("start-only.gcode")
    alone.write_text(head + go)
    whole = gcode.with_name("whole.gcode")
    whole.write_text(head + go + body + "M400\n")
    return klippy.print_time(config, whole) - klippy.print_time(config, alone)


KLIPPY_CASES = [
    pytest.param("printer-3", "fdm-bracket.stl", {}, id="p3-bracket"),
    pytest.param("printer-3", "fdm-bridge.stl", {"support_material": True}, id="p3-supports"),
    # Supports printed in layers of their own, between the part's: z rises in uneven steps.
    pytest.param("printer-3", "fdm-bracket.stl", {"support_material": True}, id="p3-shelf"),
    pytest.param("printer-3", "fdm-bracket.stl", {"fill_pattern": "gyroid"}, id="p3-gyroid"),
    pytest.param("printer-4", "fdm-step.stl", {}, id="p4-feature-accelerations"),
    pytest.param("printer-3", "corpus:3DBenchy.stl", {}, id="p3-benchy"),
]


@pytest.mark.reference
@pytest.mark.parametrize(("machine", "sample", "options"), KLIPPY_CASES)
def test_claim_equals_klippys_planner(profiles, tmp_path, klippy, machine, sample, options):
    if sample.startswith("corpus:"):
        found = sorted(CORPUS.rglob(sample.removeprefix("corpus:")))
        require(found, CORPUS_MISSING)
        sample = str(found[0])  # absolute: SAMPLES / sample is this path
    result, gcode = plan_and_write(
        profiles, tmp_path, "fdm", sample, machine, "pla-1.75", ".gcode", **options
    )
    profile = profiles.machine(machine)
    config = printer_cfg(profile, tmp_path)
    measured = klippy_motion(klippy, config, gcode, result.plan.toolpath.start)
    claimed = claimed_motion(result)
    print(
        f"\n{machine} {sample}: claimed {claimed:.1f} s, klippy {measured:.1f} s "
        f"({claimed / measured - 1:+.3%})"
    )
    assert claimed == pytest.approx(measured, rel=KLIPPY_TOLERANCE)
