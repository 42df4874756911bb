"""The FDM machine plugin: a mesh, a printer and a filament → G-code and its estimate."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import shapely

from fabserver.designs.indexed import sorted_unique
from fabserver.designs.types import Gcode, Mesh
from fabserver.errors import PlanError
from fabserver.estimate import event_seconds, move_accelerations
from fabserver.i18n import Text
from fabserver.plugin import (
    MachinePlugin,
    OutputFile,
    OutputFormat,
    Plan,
    PlanInput,
    roles_from_toml,
)
from fabserver.profiles import MachineProfile
from fabserver.toolpath import MoveKind
from fabserver.writers.printer import (
    DIALECTS,
    PrintFigures,
    PrintFile,
    PrintProgram,
    check_lines,
    fill_placeholders,
    placeholders_in,
)

from . import geos
from .arrange import arrange
from .assemble import fan_speeds
from .budget import estimated_output_bytes
from .checks import check_fits, prepare
from .engines import ENGINE_OPTION, engine_problem, resolve_engine
from .flow import filament_area
from .pipeline import slice_layers, slice_to_toolpath
from .preview import top_view
from .settings import (
    OPTIONS,
    FilamentSettings,
    PrinterSettings,
    PrintSettings,
    printer_settings,
)
from .sliced import FilamentUse, plan_uploaded

PLACEHOLDERS = (
    "first_layer_temperature",
    "temperature",
    "first_layer_bed_temperature",
    "bed_temperature",
    "material_type",
    "filament_type",
    "nozzle_diameter",
    "filament_diameter",
    "layer_height",
    "first_layer_height",
    "bed_size_x",
    "bed_size_y",
    "max_print_height",
    "max_z_lift",
    "total_layers",
)
THIN_WALL_MIN_AREA = 0.5  # mm² per layer lost before the thin-wall warning


class FdmPlugin(MachinePlugin):
    id = "fdm"
    name = Text("Impression 3D (FDM)", "3D printing (FDM)")
    accepts = frozenset({"mesh", "gcode"})
    material_kinds = frozenset({"filament"})
    roles = roles_from_toml(__package__)
    formats = (OutputFormat(".gcode", "text/x-gcode", Text("G-code", "G-code")),)
    options = (*OPTIONS, ENGINE_OPTION)
    machine_settings = PrinterSettings
    material_settings = FilamentSettings

    def check_machine(self, machine: MachineProfile) -> None:
        """The base checks, then the start and end G-code and the engine."""
        super().check_machine(machine)
        settings = printer_settings(machine)
        dialect = DIALECTS[settings.flavour]
        for key in ("start_gcode", "end_gcode"):
            text = getattr(settings, key)
            unknown = placeholders_in(text) - set(PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"settings.{key}: unknown placeholder {{{sorted(unknown)[0]}}} "
                    f"(known: {', '.join(PLACEHOLDERS)})"
                )
            problems = check_lines(fill_placeholders(text, _dummy_values()), dialect)
            if problems:
                number, problem = problems[0]
                raise ValueError(f"settings.{key}, line {number}: {problem}")
        missing = engine_problem(settings.engine)
        if missing:
            raise ValueError(f"settings.engine: {missing}")

    def estimate_output_bytes(self, request: PlanInput) -> int | None:
        if not isinstance(request.design, Mesh):
            return None
        settings = PrintSettings.resolve(request.machine, request.material, request.options)
        return estimated_output_bytes(request.design, settings, request.copies)

    def plan(self, request: PlanInput) -> Plan:
        design, machine, material = request.design, request.machine, request.material
        options, progress, copies = request.options, request.progress, request.copies
        s = PrintSettings.resolve(machine, material, options)
        if isinstance(design, Gcode):  # sliced already: checked and printed as it is
            return plan_uploaded(design, machine, material, s, copies)
        assert isinstance(design, Mesh)  # ``accepts`` lets only meshes and G-code through
        # The loader may already have said the mesh is open: one message is enough. The
        # loader's own warnings reach the maker through the core, beside the plan's.
        prepared = prepare(design, report_open=not design.warnings, supported=s.support_material)
        warnings = list(prepared.warnings)
        size = prepared.size
        check_fits(size, s.bed_size, s.max_height)

        # Room around the group for the skirt and brim; dropped if the part is too big for it.
        skirt_room = s.skirt_distance + s.skirts * s.printer.first_layer_extrusion_width
        margin = s.brim_width + (skirt_room if s.skirts else 0.0) + 1.0
        if size[0] + 2 * margin > s.bed_size[0] or size[1] + 2 * margin > s.bed_size[1]:
            s = _without_skirt_and_brim(s)
            margin = 0.0
            warnings.append(
                Text(
                    "La pièce occupe tout le plateau : ni jupe ni bordure.",
                    "The part fills the bed: no skirt and no brim.",
                )
            )
        layout = arrange((size[0], size[1]), copies, s.bed_size, margin)
        vertices, faces = _copies_on_bed(prepared.vertices, prepared.faces, layout.offsets)
        mesh_facts = prepared.facts
        del prepared  # its vertices: the placed copies' replace them for the rest of the plan
        progress(0.02, "prepare")
        engine, engine_warnings = resolve_engine(s.printer.engine, options)
        warnings.extend(engine_warnings)
        if engine is not None:
            # (with the G-code reader it needs: not imported for the builtin slicer)
            from .engines.external import plan_with_engine, total_layers

            return plan_with_engine(
                engine,
                vertices,
                faces,
                s,
                machine,
                material,
                copies=copies,
                on_plate=len(layout.offsets),
                plates=layout.plates,
                warnings=warnings,
                placeholders=_placeholder_values(s, float(size[2]), total_layers(size[2], s)),
                facts=mesh_facts,
                progress=progress,
            )
        layers = slice_layers(vertices, faces, s, progress)
        del vertices, faces  # the placed copies: not read again
        sliced = slice_to_toolpath(layers, s, machine.kinematics, progress)
        del layers  # kept in ``sliced``
        tp = sliced.toolpath
        if len(tp) == 0 or not (tp.kind == MoveKind.EXTRUDE).any():
            raise PlanError(
                Text(
                    "Rien à imprimer : le modèle ne renferme aucun volume (surfaces ouvertes, "
                    "ou pièce plus fine qu'une couche). Réparez-le ou agrandissez-le.",
                    "Nothing to print: the model encloses no volume (open surfaces, or a part "
                    "thinner than one layer). Repair or enlarge it.",
                )
            )
        own = (tp.kind == MoveKind.EXTRUDE) & ~tp.role_mask("skirt") & ~tp.role_mask("brim")
        if not (own & (tp.layer == 0)).any():
            raise PlanError(
                Text(
                    "La première couche n'a rien à imprimer : la pièce ne touche le plateau que "
                    "par une arête ou un point, ou elle est plus fine que le trait de la buse. "
                    "Posez-la sur une face plate (tournez-la dans votre logiciel), vérifiez "
                    "ses dimensions, et renvoyez-la.",
                    "The first layer has nothing to print: the part touches the bed only along "
                    "an edge or at a point, or it is thinner than the nozzle's line. Stand it "
                    "on a flat face (turn it in your software), check its size, and send it "
                    "again.",
                )
            )
        progress(0.9, "estimate")
        warnings.extend(_slice_warnings(sliced, s))
        if layout.plates > 1:
            warnings.append(
                Text(
                    f"{copies} exemplaires ne tiennent pas sur un plateau ({layout.per_plate} "
                    f"au plus) : {layout.plates} plateaux à imprimer, l'un après l'autre.",
                    f"{copies} copies do not fit on one bed ({layout.per_plate} at most): "
                    f"{layout.plates} plates to print, one after the other.",
                )
            )

        on_plate = len(layout.offsets)
        filament = FilamentUse.of(tp, s, on_plate, copies)
        plate_time = float(sliced.layer_time.sum()) + event_seconds(tp, machine)
        program = _print_program(
            s, machine, material, sliced, on_plate, filament.extruded_mm, plate_time
        )

        gcode = PrintFile(tp, program)

        def write(out) -> None:
            if _core_to_spare():
                # The later half of the moves' text is made on the other core.
                gcode.start_helper(threads_left=geos.FORK_SAFE_THREADS)
            gcode.write(out)

        facts: dict[str, Any] = {
            "layer_count": sliced.printed_layer_count,
            "height_mm": round(float(sliced.slices.top_z[-1]), 3),
            "size_mm": [round(float(v), 2) for v in size],
            "layer_height_mm": s.layer_height,
            "copies_per_plate": on_plate,
            "plates": layout.plates,
            "filament_mm_per_copy": round(filament.per_copy_mm, 1),
            "filament_g_per_copy": round(filament.grams / copies, 2),
            "plate_time_s": round(plate_time, 1),
            "retractions": sliced.retractions,
            "slowed_layers": int(
                (sliced.layer_time < s.filament.slowdown_below_layer_time + 0.5).sum()
            ),
            "flavour": s.printer.flavour,
            "support_mm": round(
                float(
                    tp.lengths_where(
                        tp.role_mask("support") | tp.role_mask("support_interface")
                    ).sum()
                ),
                1,
            ),
            "moves": len(tp),
            **mesh_facts,
        }
        progress(1.0, "done")
        return Plan(
            toolpath=tp,
            outputs=(OutputFile(".gcode", "text/x-gcode", write, Text("G-code", "G-code")),),
            material_uses=filament.material_uses(material.id),
            warnings=tuple(warnings),
            copies=copies,
            runs=layout.plates,
            facts=facts,
            preview=top_view(tp),
        )


def _core_to_spare() -> bool:
    """Whether a core is idle for the G-code helper now: more than one core, and fewer
    threads running on the machine than cores, this one among them. Where the system
    does not tell (no ``/proc/loadavg``), the last minute's load average below the
    cores by a margin. With every core taken the helper saves no time and adds its own
    cost (the fork, and the pages both processes copy while it lives: some 0.03 s of
    CPU for 3DBenchy's file). The helper lives a tenth of a second: what runs now
    tells more than the last minute's average, which still counts work just ended."""
    if geos.WORKERS < 2:
        return False
    running = _threads_running()
    if running is not None:
        return running < geos.WORKERS
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        return False
    return load < geos.WORKERS - 0.25


def _threads_running() -> int | None:
    """Threads runnable on the machine at this instant, the calling one included
    (Linux's ``/proc/loadavg``, its fourth field: running/total); None elsewhere."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _copies_on_bed(
    vertices: np.ndarray, faces: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The copies' mesh: the same faces over vertices translated by each ``(x, y)`` offset.

    One copy keeps the faces it has (no copy of the largest array of the mesh).
    """
    shift = np.column_stack([offsets, np.zeros(len(offsets))])
    if len(shift) == 1:
        return vertices + shift[0], faces
    placed = (vertices[None] + shift[:, None]).reshape(-1, 3)
    nv = len(vertices)
    return placed, (faces[None] + nv * np.arange(len(shift))[:, None, None]).reshape(-1, 3)


def _without_skirt_and_brim(s: PrintSettings) -> PrintSettings:
    return replace(s, skirts=0, brim_width=0.0)


def _print_program(
    s: PrintSettings, machine, material, sliced, on_plate, extruded_mm, plate_time
) -> PrintProgram:
    """What the writer needs: filled start/end code, fan and progress per layer, comments."""
    top = float(sliced.slices.top_z[-1]) if len(sliced.slices.top_z) else 0.0
    values = _placeholder_values(s, top, sliced.printed_layer_count)
    header = (
        "generated by fabserver-fdm",
        f"machine: {machine.id} ({s.printer.flavour}), material: {material.id}",
        f"layer_height = {s.layer_height:g}, first_layer_height = {s.first_layer_height:g}",
        f"perimeters = {s.perimeters}, fill_density = {s.fill_density * 100:g}%, "
        f"fill_pattern = {s.fill_pattern}",
        f"top_solid_layers = {s.top_solid_layers}, bottom_solid_layers = {s.bottom_solid_layers}",
        f"copies on this plate = {on_plate}",
    )
    cm3 = extruded_mm * filament_area(s.filament.diameter) / 1000.0
    figures = PrintFigures(extruded_mm, cm3, cm3 * s.filament.density, plate_time)
    return PrintProgram(
        dialect=s.printer.flavour,
        # The writer sets these limits first, so the printer runs at what the estimate assumed.
        kinematics=machine.kinematics,
        start_gcode=fill_placeholders(s.printer.start_gcode, values),
        end_gcode=fill_placeholders(s.printer.end_gcode, values),
        temperature=s.temperature,
        bed_temperature=s.bed_temperature,
        first_layer_temperature=s.first_layer_temperature,
        first_layer_bed_temperature=s.first_layer_bed_temperature,
        layer_fan=fan_speeds(sliced.layer_time, s),
        bridge_fan=s.filament.bridge_fan_speed,
        layer_height=sliced.layer_step,
        layer_time=sliced.layer_time,
        header=header,
        figures=figures,
        move_accel=move_accelerations(sliced.toolpath, machine.kinematics, machine.settings),
    )


def _dummy_values() -> dict[str, object]:
    return {name: 0 for name in PLACEHOLDERS} | {"material_type": "PLA", "filament_type": "PLA"}


def _placeholder_values(s: PrintSettings, top: float, total_layers: int) -> dict:
    """Values of the start and end G-code's placeholders; ``top``: the print's height, mm."""
    return {
        "first_layer_temperature": s.first_layer_temperature,
        "temperature": s.temperature,
        "first_layer_bed_temperature": s.first_layer_bed_temperature,
        "bed_temperature": s.bed_temperature,
        "material_type": s.filament.type,
        "filament_type": s.filament.type,
        "nozzle_diameter": s.printer.nozzle_diameter,
        "filament_diameter": s.filament.diameter,
        "layer_height": s.layer_height,
        "first_layer_height": s.first_layer_height,
        "bed_size_x": float(s.bed_size[0]),
        "bed_size_y": float(s.bed_size[1]),
        "max_print_height": float(s.max_height),
        "max_z_lift": round(min(top + 10.0, s.max_height), 3),
        "total_layers": total_layers,
    }


def _slice_warnings(sliced, s: PrintSettings) -> list[Text]:
    warnings = []
    thin = np.asarray(sliced.thin_area)
    bad = np.flatnonzero(thin > THIN_WALL_MIN_AREA)
    if bad.size:
        z0 = float(sliced.slices.top_z[bad[0]])
        z1 = float(sliced.slices.top_z[bad[-1]])
        width = s.printer.external_perimeter_extrusion_width
        warnings.append(
            Text(
                "Des parois sont plus fines que la largeur d'extrusion ({width:.2f} mm) entre "
                "z = {z0:.1f} et {z1:.1f} mm ({layers} couches) : elles ne seront pas "
                "imprimées. Épaississez-les dans le modèle.",
                "Some walls are thinner than the extrusion width ({width:.2f} mm) between "
                "z = {z0:.1f} and {z1:.1f} mm ({layers} layers): they will not be printed. "
                "Make them thicker in the model.",
            ).format(width=width, z0=z0, z1=z1, layers=int(bad.size))
        )
    floating = _floating_islands(sliced.slices.polygons)
    if floating.size and not s.support_material:
        z = float(sliced.slices.top_z[floating[0]] - sliced.slices.height[floating[0]])
        warnings.append(
            Text(
                "Une partie du modèle commence en l'air à z = {z:.1f} mm, sans rien dessous : "
                "elle tombera. Activez les supports, ou reliez-la au reste du modèle.",
                "Part of the model starts in mid-air at z = {z:.1f} mm with nothing under it: "
                "it will fall. Turn supports on, or join it to the rest of the model.",
            ).format(z=z)
        )
    if sliced.slices.open_chains:
        warnings.append(
            Text(
                f"{sliced.slices.open_chains} contours ouverts ont été refermés ou ignorés "
                "pendant le découpage (trous dans le maillage).",
                f"{sliced.slices.open_chains} open outlines were closed or skipped while "
                "slicing (holes in the mesh).",
            )
        )
    return warnings


def _floating_islands(slices: np.ndarray) -> np.ndarray:
    """Layers (sorted) where an island starts with nothing of the layer below under it.

    An island touching nothing below is printed onto air: a boss under a wing, a
    handle whose join is missing, a second body above the first.
    """
    islands, layer = shapely.get_parts(slices, return_index=True)
    real = (layer > 0) & ~shapely.is_empty(islands)
    islands, layer = islands[real], layer[real]
    if len(islands) == 0:
        return np.zeros(0, dtype=np.int64)
    held = shapely.intersects(islands, slices[layer - 1])
    return sorted_unique(layer[~held])


__all__ = ["FdmPlugin"]
