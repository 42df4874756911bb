"""CuraEngine as a second slicing reference (Debian ``cura-engine``, definitions from ``cura``).

The engine is given the printer's definition shipped with Cura and, on top of it,
what ``PrintSettings`` and the machine profile say in Cura's own keys, so both
slicers print the same part at the same speeds and limits. Cura writes its own
time estimate as ``;TIME_ELAPSED:`` at each layer; the filament is read from
``E`` (absolute extrusion, reset by ``G92 E0``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fabserver.profiles import MachineProfile

CURA_ENGINE = shutil.which("CuraEngine")
RESOURCES = Path("/usr/share/cura/resources")
#: Cura's own definition of each machine model of the lab.
DEFINITIONS = {"Prusa i3 MK3S+": "prusa_i3_mk3", "Voron 0.2": "voron0_120"}


def available() -> bool:
    return CURA_ENGINE is not None and (RESOURCES / "definitions" / "fdmprinter.def.json").exists()


@dataclass(frozen=True)
class CuraResult:
    time_s: float
    filament_mm: float
    gcode: Path


def settings_for(s, machine: MachineProfile) -> dict[str, object]:
    """Cura's keys for what fabserver prints (``s``: the resolved ``PrintSettings``)."""
    p, k = s.printer, machine.kinematics
    jerk = k.jerk
    travel_accel = k.travel_accel or k.accel
    return {
        "machine_gcode_flavor": "RepRap (Marlin/Sprinter)",
        "machine_center_is_zero": "false",
        "material_diameter": s.filament.diameter,
        "layer_height": s.layer_height,
        "layer_height_0": s.first_layer_height,
        "wall_line_count": s.perimeters,
        "infill_sparse_density": round(s.fill_density * 100, 3),
        "infill_pattern": {"rectilinear": "lines"}.get(s.fill_pattern, s.fill_pattern),
        "top_layers": s.top_solid_layers,
        "bottom_layers": s.bottom_solid_layers,
        "initial_bottom_layers": s.bottom_solid_layers,
        "top_bottom_pattern": "lines",
        "support_enable": str(bool(s.support_material)).lower(),
        "support_angle": 50,
        "adhesion_type": "skirt" if s.skirts else "none",
        "skirt_line_count": s.skirts,
        "skirt_gap": s.skirt_distance,
        "line_width": p.extrusion_width,
        "wall_line_width_0": p.external_perimeter_extrusion_width,
        "wall_line_width_x": p.extrusion_width,
        "infill_line_width": p.extrusion_width,
        "skin_line_width": p.top_infill_extrusion_width,
        "initial_layer_line_width_factor": round(
            100 * p.first_layer_extrusion_width / p.extrusion_width, 1
        ),
        "speed_wall_0": p.external_perimeter_speed,
        "speed_wall_x": p.perimeter_speed,
        "speed_infill": p.infill_speed,
        "speed_topbottom": p.solid_infill_speed,
        "speed_support": p.support_material_speed,
        "speed_print_layer_0": p.first_layer_speed,
        "speed_travel": s.travel_speed,
        "speed_travel_layer_0": s.travel_speed,
        "speed_slowdown_layers": 1,
        "cool_min_layer_time": s.filament.slowdown_below_layer_time,
        "cool_min_speed": s.filament.min_print_speed,
        "retraction_amount": p.retract_length,
        "retraction_speed": p.retract_speed,
        "retraction_min_travel": p.retract_before_travel,
        "retraction_hop_enabled": str(p.retract_lift > 0).lower(),
        "retraction_hop": p.retract_lift or 0.2,
        "retraction_combing": "off",
        "machine_max_feedrate_x": k.max_feed.x,
        "machine_max_feedrate_y": k.max_feed.y,
        "machine_max_feedrate_z": k.max_feed.z,
        "machine_max_feedrate_e": k.max_feed.e,
        "machine_max_acceleration_x": k.max_accel.x,
        "machine_max_acceleration_y": k.max_accel.y,
        "machine_max_acceleration_z": k.max_accel.z,
        "machine_max_acceleration_e": k.max_accel.e,
        "machine_acceleration": k.accel,
        "acceleration_enabled": "true",
        "acceleration_print": k.accel,
        "acceleration_travel": travel_accel,
        "acceleration_travel_layer_0": travel_accel,
        "acceleration_print_layer_0": k.accel,
        "jerk_enabled": "false",
        "machine_max_jerk_xy": jerk.x if jerk else k.square_corner_velocity,
        "machine_max_jerk_z": jerk.z if jerk else 0.4,
        "machine_max_jerk_e": jerk.e if jerk else 2.5,
        "machine_start_gcode": "G28",
        "machine_end_gcode": "M84",
    }


_ELAPSED = re.compile(rb";TIME_ELAPSED:([\d.]+)")


def run_cura(model: Path, s, machine: MachineProfile, workdir: Path) -> CuraResult:
    """Slice ``model`` with CuraEngine; its own time claim and the filament in its file."""
    definitions = RESOURCES / "definitions"
    env = dict(os.environ)
    env["CURA_ENGINE_SEARCH_PATH"] = f"{definitions}:{RESOURCES / 'extruders'}"
    out = workdir / "cura.gcode"
    args = [CURA_ENGINE, "slice", "-j", str(definitions / f"{DEFINITIONS[machine.model]}.def.json")]
    for key, value in settings_for(s, machine).items():
        args += ["-s", f"{key}={value}"]
    args += ["-e0", "-s", f"material_diameter={s.filament.diameter}"]
    args += ["-l", str(model), "-s", "center_object=true", "-o", str(out)]
    subprocess.run(args, check=True, capture_output=True, timeout=600, env=env)
    data = out.read_bytes()
    elapsed = _ELAPSED.findall(data)
    if not elapsed:
        raise ValueError("CuraEngine's G-code has no ;TIME_ELAPSED comments")
    filament, e_now = 0.0, 0.0
    for line in data.decode("ascii", "replace").splitlines():
        if line.startswith("G92") and " E" in line:
            e_now = float(line.split(" E")[1].split()[0])
        elif line.startswith(("G0 ", "G1 ")) and " E" in line:
            e_new = float(line.split(" E")[1].split()[0].split(";")[0])
            filament += e_new - e_now
            e_now = e_new
    return CuraResult(float(elapsed[-1]), filament, out)
