"""CuraEngine (Debian's ``cura-engine``) as an engine, with the ``cura`` package's definitions.

CuraEngine on the command line reads a machine definition (``fdmprinter.def.json``)
and ``-s key=value`` settings, but does not evaluate the definitions' formulas
(Cura's front end does): every setting derived from another (line distance from
density, layer counts, per-feature speeds) is computed here and passed as is.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from fabserver.profiles import MachineProfile

from ..reference import axis_limits
from ..settings import PrintSettings
from .base import EngineRun, ExternalEngine

DEFINITIONS = (
    Path("/usr/share/cura/resources/definitions"),
    Path("/usr/local/share/cura/resources/definitions"),
)
PATTERNS = {"rectilinear": "lines", "grid": "grid", "triangles": "triangles", "gyroid": "gyroid"}
# Cura's infill_line_distance formula: lines per direction of the pattern.
PATTERN_DIRECTIONS = {"grid": 2, "triangles": 3}


def definitions_dir() -> Path | None:
    """Where the ``cura`` package's machine definitions are (``CURA_DEFINITIONS`` first)."""
    env = os.environ.get("CURA_DEFINITIONS")
    for folder in ((Path(env),) if env else ()) + DEFINITIONS:
        if (folder / "fdmprinter.def.json").is_file():
            return folder
    return None


def settings(
    s: PrintSettings, machine: MachineProfile, start_gcode: str, end_gcode: str
) -> tuple[dict[str, object], dict[str, object]]:
    """CuraEngine's global settings and extruder 0's, for this job."""
    p, f, k = s.printer, s.filament, machine.kinematics
    width = p.extrusion_width
    density = s.fill_density * 100.0
    pattern = PATTERNS.get(s.fill_pattern, "grid")
    line_distance = (
        0.0 if density <= 0 else width * 100.0 / density * PATTERN_DIRECTIONS.get(pattern, 1)
    )
    support_rate = 15.0
    support_distance = p.extrusion_width * 100.0 / support_rate
    if s.brim_width > 0:
        adhesion = "brim"
    elif s.skirts > 0:
        adhesion = "skirt"
    else:
        adhesion = "none"
    jerk = k.jerk
    common: dict[str, object] = {
        "machine_nozzle_size": p.nozzle_diameter,
        "material_diameter": f.diameter,
    }
    glob: dict[str, object] = {
        **common,
        "machine_width": machine.work_area.x,
        "machine_depth": machine.work_area.y,
        "machine_height": machine.work_area.z,
        "machine_center_is_zero": "false",
        "machine_heated_bed": "true",
        "machine_gcode_flavor": "RepRap (Marlin/Sprinter)",  # Klipper runs Marlin's G-code
        "machine_start_gcode": start_gcode,
        "machine_end_gcode": end_gcode,
        "material_print_temp_prepend": "false",  # the start G-code heats
        "material_bed_temp_prepend": "false",
        "relative_extrusion": "true",  # M83, as the start G-code sets
        "center_object": "false",  # copies are placed by fabserver's arrangement
        "layer_height": s.layer_height,
        "layer_height_0": s.first_layer_height,
        "infill_sparse_thickness": s.layer_height,
        "support_infill_sparse_thickness": s.layer_height,
        "line_width": width,
        "wall_line_width": width,
        "wall_line_width_0": p.external_perimeter_extrusion_width,
        "wall_line_width_x": width,
        "skin_line_width": width,
        "infill_line_width": width,
        "skirt_brim_line_width": p.first_layer_extrusion_width,
        "support_line_width": width,
        "initial_layer_line_width_factor": round(100.0 * p.first_layer_extrusion_width / width, 1),
        "wall_line_count": s.perimeters,
        "wall_thickness": round(s.perimeters * width, 3),
        "top_layers": s.top_solid_layers,
        "bottom_layers": s.bottom_solid_layers,
        "top_thickness": round(s.top_solid_layers * s.layer_height, 3),
        "bottom_thickness": round(s.bottom_solid_layers * s.layer_height, 3),
        "infill_sparse_density": density,
        "infill_pattern": pattern,
        "infill_line_distance": round(line_distance, 4),
        "infill_overlap": round(p.infill_overlap * 100.0, 1),
        "outer_inset_first": str(s.external_perimeters_first).lower(),
        "z_seam_type": "back" if s.seam_position == "rear" else "shortest",
        "speed_print": p.perimeter_speed,
        "speed_infill": p.infill_speed,
        "speed_wall": p.perimeter_speed,
        "speed_wall_0": p.external_perimeter_speed,
        "speed_wall_x": p.perimeter_speed,
        "speed_topbottom": p.solid_infill_speed,
        "speed_roofing": p.top_solid_infill_speed,
        "speed_travel": s.travel_speed,
        "speed_layer_0": p.first_layer_speed,
        "speed_print_layer_0": p.first_layer_speed,
        "speed_travel_layer_0": min(s.travel_speed, 100.0),
        "skirt_brim_speed": p.skirt_speed or p.first_layer_speed,
        "speed_support": p.support_material_speed,
        "speed_support_infill": p.support_material_speed,
        "speed_support_interface": p.support_material_speed,
        "bridge_settings_enabled": "true",
        "bridge_wall_speed": p.bridge_speed,
        "bridge_skin_speed": p.bridge_speed,
        "retraction_enable": str(p.retract_length > 0).lower(),
        "retraction_amount": p.retract_length,
        "retraction_speed": p.retract_speed,
        "retraction_retract_speed": p.retract_speed,
        "retraction_prime_speed": p.deretract_speed or p.retract_speed,
        "retraction_hop_enabled": str(p.retract_lift > 0).lower(),
        "retraction_hop": p.retract_lift or 0.2,
        "retraction_min_travel": p.retract_before_travel,
        "adhesion_type": adhesion,
        "skirt_line_count": max(s.skirts, 1),
        "skirt_gap": s.skirt_distance,
        "brim_width": s.brim_width,
        "brim_line_count": max(1, math.ceil(s.brim_width / p.first_layer_extrusion_width)),
        "support_enable": str(s.support_material).lower(),
        "support_angle": 50,
        "support_infill_rate": support_rate,
        "support_line_distance": round(support_distance, 4),
        "material_print_temperature": s.temperature,
        "material_print_temperature_layer_0": s.first_layer_temperature,
        "material_initial_print_temperature": s.first_layer_temperature,
        "material_final_print_temperature": s.temperature,
        "material_bed_temperature": s.bed_temperature,
        "material_bed_temperature_layer_0": s.first_layer_bed_temperature,
        "material_flow": round(f.extrusion_multiplier * 100.0, 1),
        "cool_fan_enabled": "true",
        "cool_fan_speed": f.fan_max,
        "cool_fan_speed_min": f.fan_min,
        "cool_fan_speed_max": f.fan_max,
        "cool_fan_full_layer": f.disable_fan_first_layers + 1,
        "cool_min_layer_time": f.slowdown_below_layer_time,
        "cool_min_layer_time_fan_speed_max": f.fan_below_layer_time,
        "cool_min_speed": f.min_print_speed,
        **axis_limits(k),
        "machine_acceleration": k.accel,
        "machine_max_jerk_xy": jerk.x if jerk else 8,
        "machine_max_jerk_z": jerk.z if jerk else 0.4,
        "machine_max_jerk_e": jerk.e if jerk else 2.5,
    }
    return glob, common


class CuraEngine(ExternalEngine):
    id = "curaengine"
    name = "CuraEngine"
    package = "cura-engine"
    executable = "CuraEngine"
    centred_models = True  # machine_center_is_zero = false: it adds half the bed

    def missing(self) -> str | None:
        problem = super().missing()
        if problem is None and definitions_dir() is None:
            return (
                "engine 'curaengine' has no machine definitions (fdmprinter.def.json not "
                "found; apt-get install cura); jobs fall back to the builtin slicer"
            )
        return problem

    def binary(self) -> str | None:
        found = super().binary()
        return found if found and definitions_dir() is not None else None

    def command(self, run: EngineRun) -> list[str]:
        folder = definitions_dir()
        assert folder is not None  # binary() said it is installed
        glob, extruder = settings(run.s, run.machine, run.start_gcode, run.end_gcode)
        args = [
            self.binary() or self.executable,
            "slice",
            "-j",
            str(folder / "fdmprinter.def.json"),
        ]
        for key, value in glob.items():
            args += ["-s", f"{key}={value}"]
        args.append("-e0")
        for key, value in extruder.items():
            args += ["-s", f"{key}={value}"]
        args += ["-l", str(run.model), "-o", str(run.output)]
        return args


CURAENGINE = CuraEngine()
