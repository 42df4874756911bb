"""The laser cutter plugin: colours → operations → parts → sheets → G-code and SVG."""

from __future__ import annotations

from collections.abc import Mapping

from fabserver.designs.types import Drawing
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import OperationMap
from fabserver.plugin import MachinePlugin, Plan, PlanInput, options_from_toml
from fabserver.profiles import MachineProfile

from .colours import (
    OPERATIONS,
    boxes_hint,
    boxes_left_out,
    classify,
    nothing_mapped_error,
    unmapped_warning,
)
from .messages import (
    layout_warnings,
    nothing_to_make,
    sheet_over_bed,
    sheets_needed,
    too_big,
)
from .nesting import fits
from .parts import build_layout
from .report import GCODE, SVG, machine_files, material_uses, plan_facts
from .settings import MachineSettings, MaterialSettings, machine_settings
from .sheets import fill_sheets, item_sizes, place_copies
from .svgout import ROLES, preview
from .work import build_toolpath, plan_sheet_work

PREVIEW_SHEETS = 6  # sheets drawn side by side in the preview


class LaserPlugin(MachinePlugin):
    """CO2 laser cutter: cut, score and engrave drawings, nested on sheets."""

    id = "laser"
    name = Text("Découpe laser", "Laser cutting")
    accepts = frozenset({"drawing"})
    roles = ROLES
    material_kinds = frozenset({"sheet"})
    formats = (GCODE, SVG)
    operations_option = "colour_map"
    machine_settings = MachineSettings
    material_settings = MaterialSettings
    options = options_from_toml(__package__)

    def check_machine(self, machine: MachineProfile) -> None:
        """The base checks, and every preset (not only those the machine's map names)."""
        super().check_machine(machine)
        for name, preset in machine_settings(machine.settings).presets.items():
            if not name.isidentifier():
                raise ValueError(f"settings.presets.{name}: preset names are single words")
            try:
                OperationMap.parse(OPERATIONS, preset)
            except PlanError as exc:
                raise ValueError(f"settings.presets.{name}: {exc.message.en}") from None

    def operation_map(self, machine: MachineProfile, job_map: str = "") -> OperationMap:
        return colour_map(machine_settings(machine.settings), job_map)

    def operation_presets(self, machine: MachineProfile) -> Mapping[str, str]:
        return machine_settings(machine.settings).presets

    def plan(self, request: PlanInput) -> Plan:
        design, machine, options = request.design, request.machine, request.options
        assert isinstance(design, Drawing)  # ``accepts`` lets only drawings through run_plan
        ms = request.machine_settings(MachineSettings)
        warnings: list[Text] = []

        cmap = colour_map(ms, str(options.get("colour_map", "") or ""))
        classified = classify(design.paths, cmap)
        if classified.empty:
            raise nothing_mapped_error(
                classified.found, boxes_left_out(design.paths, classified.unmapped)
            )
        if classified.unmapped:
            warnings.append(unmapped_warning(classified.found))
            if boxes_left_out(design.paths, classified.unmapped):
                warnings.append(boxes_hint())
        request.progress(0.1, "contours")

        mat = request.material_settings(MaterialSettings)
        kerf = mat.cut.kerf if options.get("kerf_compensation", True) else 0.0
        layout = build_layout(
            design.paths,
            classified,
            kerf=kerf,
            tolerance=ms.merge_tolerance,
            attach_distance=ms.spacing,
            one_block=options.get("nesting", "parts") == "design",
        )
        if not layout.contours and not layout.engrave:
            raise nothing_to_make()
        warnings += layout_warnings(layout, kerf)
        request.progress(0.3, "nesting")

        bed = (machine.work_area.x, machine.work_area.y)
        sheet_size = (min(mat.sheet.x, bed[0]), min(mat.sheet.y, bed[1]))
        usable = (sheet_size[0] - 2 * ms.margin, sheet_size[1] - 2 * ms.margin)
        sizes = item_sizes(layout)
        oversized = [s for s in sizes if not fits(s, usable)]
        if oversized:
            whole = layout.items == 1
            raise too_big(oversized[0], usable, mat, bed, ms.margin, whole)
        if mat.sheet.x > bed[0] or mat.sheet.y > bed[1]:
            warnings.append(sheet_over_bed(mat, sheet_size))
        placements = place_copies(
            layout,
            request.copies,
            usable,
            ms.margin,
            ms.spacing,
            rotation=bool(options.get("rotation", True)),
            true_shape=options.get("nesting") == "shape",
        )
        sheets = fill_sheets(layout, placements, layout.item_area)
        request.progress(0.5, "ordering")

        overscan = (
            ms.overscan
            if ms.overscan is not None
            else mat.engrave.speed**2 / (2.0 * machine.kinematics.work_accel) + 1.0
        )
        works = [plan_sheet_work(sheet, mat, overscan, (0.0, bed[0])) for sheet in sheets]
        tp = build_toolpath(works, mat, machine.kinematics.travel_feed)
        request.progress(0.8, "writing")

        if len(sheets) > 1:
            warnings.append(sheets_needed(len(sheets)))
        facts = plan_facts(
            layout, works, tp, mat, sheet_size, kerf, request.copies, overscan, classified
        )
        outputs = machine_files(
            tp, works, ms, mat, request.material, sheet_size, machine.kinematics
        )
        uses = material_uses(request.material, mat, len(sheets))
        request.progress(1.0, "done")
        return Plan(
            toolpath=tp,
            outputs=outputs,
            material_uses=uses,
            warnings=tuple(warnings),
            copies=request.copies,
            runs=1,
            facts=facts,
            preview=preview(works, sheet_size, PREVIEW_SHEETS),
            operations=classified.found,
        )


def colour_map(ms: MachineSettings, job_map: str = "") -> OperationMap:
    """The machine's layer and colour maps, then the job's entries on top."""
    return OperationMap.of_machine(OPERATIONS, ms.colour_map, ms.layer_map, ms.presets, job_map)
