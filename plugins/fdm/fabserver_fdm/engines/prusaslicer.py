"""PrusaSlicer (Debian's ``prusa-slicer``) as an engine.

The config starts from the one the comparison tests use
(:func:`fabserver_fdm.reference.config_ini`: the job's options, the printer's
speeds, widths, retraction and limits, the filament's temperatures and cooling
in PrusaSlicer's own keys), then turns back on what the comparison switches off
to measure like with like: Arachne variable-width walls, gap fill, vertical
shell thickening, wipe on retraction. The printer's limits are written into the
G-code (``M201``–``M205``), the ones the estimate assumes.
"""

from __future__ import annotations

from fabserver.profiles import MachineProfile

from ..reference import config_ini
from ..settings import PrintSettings
from .base import EngineRun, ExternalEngine

PRODUCTION = {
    "perimeter_generator": "arachne",
    "ensure_vertical_shell_thickness": 1,
    "gap_fill_enabled": 1,
    "thin_walls": 0,  # Arachne prints thin walls itself
    "wipe": 1,
    "only_retract_when_crossing_perimeters": 0,
    "machine_limits_usage": "emit_to_gcode",
    "complete_objects": 0,
    "gcode_comments": 0,
    "layer_gcode": "G92 E0",  # PrusaSlicer asks for it with relative extrusion
}


def config_values(
    s: PrintSettings, machine: MachineProfile, start_gcode: str, end_gcode: str
) -> dict[str, str]:
    """PrusaSlicer's keys and values for this job."""
    values: dict[str, str] = {}
    for line in config_ini(s, machine).splitlines():
        key, _, value = line.partition(" = ")
        values[key] = value
    values.update({k: str(v) for k, v in PRODUCTION.items()})
    values["start_gcode"] = _escaped(start_gcode)
    values["end_gcode"] = _escaped(end_gcode)
    return values


def _escaped(gcode: str) -> str:
    """One ini line (fabserver has already filled its own placeholders)."""
    return gcode.replace("\\", "\\\\").replace("\n", "\\n")


class PrusaSlicer(ExternalEngine):
    id = "prusaslicer"
    name = "PrusaSlicer"
    package = "prusa-slicer"
    executable = "prusa-slicer"

    def command(self, run: EngineRun) -> list[str]:
        ini = run.workdir / "prusaslicer.ini"
        values = config_values(run.s, run.machine, run.start_gcode, run.end_gcode)
        ini.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
        # --dont-arrange: the copies are already placed by fabserver's arrangement.
        return [
            self.binary() or self.executable,
            "--export-gcode",
            "--load",
            str(ini),
            "--dont-arrange",
            "--output",
            str(run.output),
            str(run.model),
        ]


PRUSASLICER = PrusaSlicer()
