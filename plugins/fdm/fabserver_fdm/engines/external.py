"""Planning with an external engine: the copies as one model, the engine's G-code read back."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fabserver.designs.gcode import load_gcode
from fabserver.errors import DesignError, PlanError
from fabserver.i18n import Text
from fabserver.plugin import Plan, Progress
from fabserver.profiles import MachineProfile, MaterialProfile
from fabserver.writers.printer import fill_placeholders

from ..settings import PrintSettings
from ..sliced import SlicedFile, check_gcode, gcode_plan
from .base import EngineRun, ExternalEngine


def plan_with_engine(
    engine: ExternalEngine,
    vertices: np.ndarray,
    faces: np.ndarray,
    s: PrintSettings,
    machine: MachineProfile,
    material: MaterialProfile,
    *,
    copies: int,
    on_plate: int,
    plates: int,
    warnings: list[Text],
    placeholders: dict[str, object],
    facts: dict[str, Any],
    progress: Progress,
) -> Plan:
    """Slice the plate (``vertices``/``faces``: every copy, placed on the bed) with ``engine``."""
    start = fill_placeholders(s.printer.start_gcode, placeholders)
    end = fill_placeholders(s.printer.end_gcode, placeholders)
    import trimesh  # only when an external engine slices: trimesh brings scipy

    with tempfile.TemporaryDirectory(prefix=f"fabserver-{engine.id}-") as tmp:
        workdir = Path(tmp)
        model = workdir / "plate.stl"
        if engine.centred_models:
            vertices = vertices - np.array([s.bed_size[0] / 2.0, s.bed_size[1] / 2.0, 0.0])
        trimesh.Trimesh(vertices=vertices, faces=faces, process=False).export(model)
        output = workdir / "plate.gcode"
        progress(0.1, engine.id)
        engine.slice(EngineRun(model, output, s, machine, start, end, workdir))
        data = output.read_bytes()
    progress(0.8, "read")
    try:
        design = load_gcode(data, output.name)
    except DesignError as exc:
        raise PlanError(exc.message, detail=f"{engine.id} output: {exc.detail}") from None
    warnings = warnings + check_gcode(design, machine, s)
    return gcode_plan(
        design,
        machine,
        material,
        s,
        copies=copies,
        on_plate=on_plate,
        runs=plates,
        warnings=warnings,
        origin=SlicedFile(engine.id, Text(f"G-code ({engine.name})", f"G-code ({engine.name})")),
        facts={"layer_height_mm": s.layer_height, **facts},
    )


def total_layers(height: float, s: PrintSettings) -> int:
    """Layers of a part ``height`` mm tall (for the start and end G-code's placeholders)."""
    if height <= s.first_layer_height:
        return 1
    return 1 + math.ceil((height - s.first_layer_height) / s.layer_height - 1e-9)
