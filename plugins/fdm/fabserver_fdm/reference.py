"""PrusaSlicer as an independent reference: same settings, same machine limits.

Used by the comparison tests and by ``benchmarks/slice_fdm.py``. The config
written here says, in PrusaSlicer's own keys, what :class:`PrintSettings` and the
machine profile say; features fabserver does not have (vertical shell
thickening, wipe, Arachne variable widths) are switched off on PrusaSlicer's
side so the comparison measures the same print (gap fill and solid small areas
are on, as in fabserver); infill anchors are PrusaSlicer's
defaults (600 %, at most 12 mm), which fabserver also lays.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fabserver.profiles import Kinematics, MachineProfile

from .settings import PrintSettings

PRUSA_SLICER = "prusa-slicer"


def available() -> str | None:
    """Path of the PrusaSlicer binary, or ``None``."""
    return shutil.which(PRUSA_SLICER)


def axis_limits(k: Kinematics) -> dict[str, float]:
    """The printer's speed and acceleration limits per axis, under the names PrusaSlicer and
    CuraEngine share (``machine_max_feedrate_x``…)."""
    return {
        f"machine_max_{name}_{axis}": getattr(limits, axis)
        for name, limits in (("feedrate", k.max_feed), ("acceleration", k.max_accel))
        for axis in "xyze"
    }


def config_ini(s: PrintSettings, machine: MachineProfile, start_gcode: str = "") -> str:
    """A PrusaSlicer config equivalent to ``s`` on ``machine``."""
    p, f, k = s.printer, s.filament, machine.kinematics
    jerk = k.jerk
    pattern = {"rectilinear": "rectilinear", "grid": "grid", "triangles": "triangles"}.get(
        s.fill_pattern, s.fill_pattern
    )
    values = {
        "bed_shape": f"0x0,{s.bed_size[0]:g}x0,{s.bed_size[0]:g}x{s.bed_size[1]:g},0x{s.bed_size[1]:g}",
        "max_print_height": f"{s.max_height:g}",
        "gcode_flavor": "marlin2" if p.flavour == "marlin2" else "klipper",
        "use_relative_e_distances": 1,
        "nozzle_diameter": p.nozzle_diameter,
        "filament_diameter": f.diameter,
        "filament_density": f.density,
        "extrusion_multiplier": f.extrusion_multiplier,
        "filament_max_volumetric_speed": f.max_volumetric_speed,
        "temperature": s.temperature,
        "first_layer_temperature": s.first_layer_temperature,
        "bed_temperature": s.bed_temperature,
        "first_layer_bed_temperature": s.first_layer_bed_temperature,
        "layer_height": s.layer_height,
        "first_layer_height": s.first_layer_height,
        "perimeters": s.perimeters,
        "fill_density": f"{s.fill_density * 100:g}%",
        "fill_pattern": pattern,
        "fill_angle": s.fill_angle,
        "top_solid_layers": s.top_solid_layers,
        "bottom_solid_layers": s.bottom_solid_layers,
        "top_solid_min_thickness": 0,
        "bottom_solid_min_thickness": 0,
        "skirts": s.skirts,
        "skirt_distance": s.skirt_distance,
        "skirt_height": s.skirt_height,
        "min_skirt_length": 0,
        "brim_width": s.brim_width,
        "external_perimeters_first": int(s.external_perimeters_first),
        "support_material": int(s.support_material),
        "seam_position": s.seam_position,
        "support_material_speed": p.support_material_speed,
        "perimeter_generator": "classic",
        "ensure_vertical_shell_thickness": 0,
        "gap_fill_enabled": 1,
        "thin_walls": 0,
        "extra_perimeters": 0,
        "infill_every_layers": 1,
        "infill_anchor": "600%",
        "infill_anchor_max": 12,
        "solid_infill_below_area": s.solid_infill_below_area,
        "infill_overlap": f"{p.infill_overlap * 100:g}%",
        "extrusion_width": p.extrusion_width,
        "perimeter_extrusion_width": p.extrusion_width,
        "external_perimeter_extrusion_width": p.external_perimeter_extrusion_width,
        "first_layer_extrusion_width": p.first_layer_extrusion_width,
        "infill_extrusion_width": p.extrusion_width,
        "solid_infill_extrusion_width": p.extrusion_width,
        "top_infill_extrusion_width": p.top_infill_extrusion_width,
        "perimeter_speed": p.perimeter_speed,
        "external_perimeter_speed": p.external_perimeter_speed,
        "small_perimeter_speed": p.small_perimeter_speed,
        "infill_speed": p.infill_speed,
        "solid_infill_speed": p.solid_infill_speed,
        "top_solid_infill_speed": p.top_solid_infill_speed,
        "bridge_speed": p.bridge_speed,
        "gap_fill_speed": p.perimeter_speed,
        "first_layer_speed": p.first_layer_speed,
        "travel_speed": s.travel_speed,
        "max_print_speed": max(p.infill_speed, p.perimeter_speed) * 2,
        "retract_length": p.retract_length,
        "retract_speed": p.retract_speed,
        "deretract_speed": p.deretract_speed,
        "retract_lift": p.retract_lift,
        "retract_before_travel": p.retract_before_travel,
        "retract_layer_change": 1,
        "only_retract_when_crossing_perimeters": 1,
        "wipe": 0,
        "avoid_crossing_perimeters": 0,
        "cooling": 1,
        "fan_always_on": 1,
        "min_fan_speed": f.fan_min,
        "max_fan_speed": f.fan_max,
        "disable_fan_first_layers": f.disable_fan_first_layers,
        "fan_below_layer_time": f.fan_below_layer_time,
        "slowdown_below_layer_time": f.slowdown_below_layer_time,
        "min_print_speed": f.min_print_speed,
        "machine_limits_usage": "time_estimate_only",
        **axis_limits(k),
        "machine_max_acceleration_extruding": k.accel,
        "machine_max_acceleration_retracting": k.retract_accel or k.max_accel.e,
        "machine_max_acceleration_travel": k.travel_accel or k.accel,
        "machine_max_jerk_x": jerk.x if jerk else 8,
        "machine_max_jerk_y": jerk.y if jerk else 8,
        "machine_max_jerk_z": jerk.z if jerk else 0.4,
        "machine_max_jerk_e": jerk.e if jerk else 2.5,
        "machine_min_extruding_rate": 0,
        "machine_min_travel_rate": 0,
        "start_gcode": start_gcode.replace("\n", "\\n"),
        "end_gcode": "",
        "layer_gcode": "G92 E0",
    }
    return "".join(f"{key} = {value}\n" for key, value in values.items())


@dataclass(frozen=True)
class ReferenceResult:
    time_s: float
    filament_mm: float
    gcode: Path | None


_TIME = re.compile(r"; estimated printing time \(normal mode\) = (.+)")
_FILAMENT = re.compile(r"; filament used \[mm\] = ([\d.]+)")


def parse_duration(text: str) -> float:
    """``"1d 2h 3m 4s"`` → seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([dhms])", text)))


def run_prusaslicer(
    model: Path,
    s: PrintSettings,
    machine: MachineProfile,
    keep: Path | None = None,
    copies: int = 1,
) -> ReferenceResult:
    """Slice ``model`` (``copies`` times, arranged by PrusaSlicer) and read its own estimates."""
    binary = available()
    if binary is None:
        raise FileNotFoundError("prusa-slicer is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        ini = tmpdir / "config.ini"
        ini.write_text(config_ini(s, machine))
        out = (keep or tmpdir) / "prusaslicer.gcode"
        subprocess.run(
            [
                *(binary, "--export-gcode", "--load", str(ini), "-o", str(out)),
                *(("--duplicate", str(copies)) if copies > 1 else ()),
                str(model),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        tail = out.read_bytes()[-20000:].decode("utf-8", "replace")
    time_match = _TIME.search(tail)
    fil_match = _FILAMENT.search(tail)
    if not time_match or not fil_match:
        raise ValueError("PrusaSlicer's G-code has no estimate comments")
    return ReferenceResult(
        parse_duration(time_match.group(1)), float(fil_match.group(1)), out if keep else None
    )
