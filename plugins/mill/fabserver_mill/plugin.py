"""The milling machine plugin: 2.5D from drawings, 3D from meshes, G-code and RML-1."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from fabserver.designs.types import Design, Drawing, Mesh
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.plugin import (
    MachinePlugin,
    MaterialUse,
    Option,
    OutputFile,
    OutputFormat,
    Plan,
    Progress,
    no_progress,
)
from fabserver.profiles import MachineProfile, MaterialProfile
from fabserver.toolpath import MoveKind

from . import messages
from .assemble import Assembly, Machine, assemble
from .gcode import write_gcode
from .plan2d import JobOptions2D, plan_drawing, too_small_messages
from .preview import mill_preview
from .rml import tool_ranges, write_rml
from .settings import (
    OPERATIONS,
    MachineSettings,
    MaterialSettings,
    machine_settings,
    material_settings,
)

GCODE = OutputFormat(
    ".nc", "text/x-gcode", Text("G-code (GRBL, LinuxCNC)", "G-code (GRBL, LinuxCNC)")
)
RML = OutputFormat(".rml", "application/x-rml", Text("Roland RML-1", "Roland RML-1"))

_OP_CHOICES = ("auto", *OPERATIONS, "ignore")


def _opt(name, type_, default, fr, en, help_fr="", help_en="", **kw) -> Option:
    return Option(name, type_, default, Text(fr, en), Text(help_fr, help_en), **kw)


OPTIONS = (
    _opt(
        "operation_map",
        "str",
        "",
        "Opérations par couleur ou calque",
        "Operations by colour or layer",
        "Remplace celles du profil, par ex. « #ff0000=pocket:2.5, layer:TROUS=inside ». "
        "Opérations : outside, inside, pocket, engrave, ignore ; « :profondeur » en mm.",
        "Overrides the profile's, e.g. '#ff0000=pocket:2.5, layer:HOLES=inside'. "
        "Operations: outside, inside, pocket, engrave, ignore; ':depth' in mm.",
    ),
    _opt(
        "unassigned",
        "choice",
        "auto",
        "Tracés sans opération",
        "Paths without an operation",
        "auto : contours fermés découpés (trous à l'intérieur), tracés ouverts gravés.",
        "auto: closed outlines cut out (holes inside them), open paths engraved.",
        choices=_OP_CHOICES,
    ),
    _opt(
        "tool",
        "str",
        "",
        "Outil de coupe (2D)",
        "Cutting tool (2D)",
        "Vide : celui du profil (par ex. flat-2).",
        "Empty: the profile's (e.g. flat-2).",
        advanced=True,
    ),
    _opt(
        "engrave_tool",
        "str",
        "",
        "Outil de gravure",
        "Engraving tool",
        "Vide : celui du profil (par ex. vbit-60).",
        "Empty: the profile's (e.g. vbit-60).",
        advanced=True,
    ),
    _opt(
        "cut_depth",
        "float",
        0.0,
        "Profondeur des contours",
        "Profile depth",
        "0 : toute l'épaisseur du brut.",
        "0: through the stock.",
        unit="mm",
        min=0,
        max=60,
    ),
    _opt(
        "pocket_depth",
        "float",
        0.0,
        "Profondeur des poches",
        "Pocket depth",
        "0 : celle du profil machine.",
        "0: the machine profile's.",
        unit="mm",
        min=0,
        max=60,
    ),
    _opt(
        "engrave_depth",
        "float",
        0.0,
        "Profondeur de gravure",
        "Engraving depth",
        "0 : celle du profil machine.",
        "0: the machine profile's.",
        unit="mm",
        min=0,
        max=10,
    ),
    _opt(
        "tabs",
        "int",
        4,
        "Attaches par pièce",
        "Tabs per part",
        "Ponts de matière qui tiennent la pièce découpée.",
        "Bridges that hold a cut-out part.",
        min=0,
        max=20,
    ),
    _opt(
        "tab_width", "float", 4.0, "Largeur des attaches", "Tab width", unit="mm", min=0.5, max=30
    ),
    _opt(
        "tab_height", "float", 1.0, "Hauteur des attaches", "Tab height", unit="mm", min=0, max=20
    ),
    _opt(
        "direction",
        "choice",
        "climb",
        "Sens de coupe",
        "Cutting direction",
        "En avalant (climb) ou en opposition (conventional).",
        "Climb or conventional milling.",
        choices=("climb", "conventional"),
    ),
    _opt(
        "entry",
        "choice",
        "ramp",
        "Entrée dans la matière",
        "Entry into the material",
        choices=("ramp", "plunge"),
    ),
    _opt(
        "ramp_angle",
        "float",
        5.0,
        "Angle de rampe",
        "Ramp angle",
        unit="°",
        min=0.5,
        max=45,
        advanced=True,
    ),
    _opt(
        "stock_margin",
        "float",
        5.0,
        "Marge du brut",
        "Stock margin",
        "Matière autour de la pièce.",
        "Material around the part.",
        unit="mm",
        min=0,
        max=50,
    ),
    _opt(
        "resolution",
        "float",
        0.2,
        "Résolution 3D",
        "3D resolution",
        "Pas de la carte de hauteur.",
        "Height map grid step.",
        unit="mm",
        min=0.05,
        max=2,
        advanced=True,
    ),
    _opt(
        "allowance",
        "float",
        0.3,
        "Surépaisseur d'ébauche",
        "Roughing allowance",
        "Matière laissée pour la finition.",
        "Material left for finishing.",
        unit="mm",
        min=0,
        max=3,
        advanced=True,
    ),
    _opt(
        "strategy",
        "choice",
        "rough+finish",
        "Stratégie 3D",
        "3D strategy",
        choices=("rough+finish", "rough", "finish"),
    ),
    _opt(
        "orientation",
        "choice",
        "auto",
        "Orientation 3D",
        "3D orientation",
        "auto : la face la plus accessible vers le haut ; as_is : Z du fichier vers le haut.",
        "auto: the most reachable side up; as_is: the file's Z up.",
        choices=("auto", "as_is"),
    ),
)


class MillPlugin(MachinePlugin):
    """Desktop mill: cut-outs, holes, pockets and engraving from drawings; reliefs from meshes."""

    id = "mill"
    name = Text("Fraiseuse", "Milling machine")
    accepts = frozenset({"mesh", "drawing"})
    material_kinds = frozenset({"stock"})
    formats = (GCODE, RML)
    options = OPTIONS

    def check_machine(self, machine: MachineProfile) -> None:
        ms = machine_settings(machine.settings)
        if ms.safe_z >= machine.work_area.z:
            raise ValueError("settings.safe_z: higher than the work area")

    def check_material(self, material: MaterialProfile) -> None:
        material_settings(material.settings)

    def plan(
        self,
        design: Design,
        machine: MachineProfile,
        material: MaterialProfile,
        options: Mapping[str, Any],
        progress: Progress = no_progress,
    ) -> Plan:
        ms = machine_settings(machine.settings)
        mat = material_settings(material.settings)
        if isinstance(design, Drawing):
            return self._plan_drawing(design, machine, material, ms, mat, options, progress)
        if isinstance(design, Mesh):
            from .plan3d import plan_mesh

            return plan_mesh(design, machine, material, ms, mat, options, progress)
        raise PlanError(Text("Type de fichier non pris en charge.", "Unsupported design type."))

    def _plan_drawing(
        self,
        design: Drawing,
        machine: MachineProfile,
        material: MaterialProfile,
        ms: MachineSettings,
        mat: MaterialSettings,
        options: Mapping[str, Any],
        progress: Progress,
    ) -> Plan:
        opts = JobOptions2D(
            operation_map=options.get("operation_map", ""),
            unassigned=options.get("unassigned", "auto"),
            tool=options.get("tool", ""),
            engrave_tool=options.get("engrave_tool", ""),
            cut_depth=options.get("cut_depth", 0.0),
            pocket_depth=options.get("pocket_depth", 0.0),
            engrave_depth=options.get("engrave_depth", 0.0),
            tabs=options.get("tabs", 4),
            tab_width=options.get("tab_width", 4.0),
            tab_height=options.get("tab_height", 1.0),
            climb=options.get("direction", "climb") == "climb",
            ramp_angle=options.get("ramp_angle", 5.0)
            if options.get("entry", "ramp") == "ramp"
            else 0.0,
        )
        progress(0.05, "operations")
        work = plan_drawing(design, ms, mat, opts, options.get("stock_margin", 5.0))
        sx, sy, thickness = work.stock_size
        check_height(machine, ms, thickness)
        copies = int(options.get("copies", 1))
        per_x = int(machine.work_area.x // sx)
        per_y = int(machine.work_area.y // sy)
        if per_x * per_y == 0:
            raise too_big(sx, sy, machine)
        per_run = per_x * per_y
        in_run = min(copies, per_run)
        runs = math.ceil(copies / per_run)
        shifts = [((i % per_x) * sx, (i // per_x) * sy) for i in range(in_run)]
        progress(0.3, "toolpath")
        n_groups = 1 + max((c.link_group or 0 for c in work.cuts), default=0)
        cuts = []
        for stage in sorted({c.stage for c in work.cuts}):
            stage_cuts = [c for c in work.cuts if c.stage == stage]
            for k, (dx, dy) in enumerate(shifts):
                cuts.extend(c.translated(dx, dy, k * n_groups) for c in stage_cuts)
        assembly = assemble(cuts, machine_for(machine, ms, mat))
        tp = assembly.builder.build()
        check_work_area(tp, machine, per_x * sx, per_y * sy)
        progress(0.8, "outputs")
        volume_cm3 = sx * sy * thickness / 1000.0
        warnings = [*work.warnings, *too_small_messages(work.too_small, work.offset)]
        if runs > 1:
            warnings.append(messages.runs(per_run, runs, copies))
        unreachable = []
        for dx, dy in shifts:
            unreachable.extend(shapely_translate(t.geometry, dx, dy) for t in work.too_small)
        facts = {
            "mode": "2.5D",
            "operations": {op: round(d, 3) for op, d in work.depths.items()},
            "tools": [
                {"tool": u.tool_id, "rpm": u.rpm, "description": u.tool.describe()}
                for u in assembly.tool_uses
            ],
            "stock_mm": [round(sx, 2), round(sy, 2), round(thickness, 2)],
            "origin_mm": [round(float(v), 4) for v in work.offset],
            "stock_cm3_per_copy": round(volume_cm3, 3),
            "copies_per_run": in_run,
            "too_small": [
                {
                    "operation": t.operation,
                    "tool": t.tool_id,
                    "area_mm2": round(sum(p.area for p in t.reported), 2),
                    "count": len(t.reported),
                }
                for t in work.too_small
                if t.reported
            ],
            "cut_length_m": round(tp.length_of(*WORK_KINDS) / 1000.0, 3),
        }
        return finish_plan(
            tp,
            assembly,
            ms,
            machine,
            material,
            copies,
            runs,
            volume_cm3 * copies,
            warnings,
            facts,
            mill_preview(
                tp, (min(in_run, per_x) * sx, math.ceil(in_run / per_x) * sy), unreachable
            ),
            title=f"fabserver mill 2.5D, {material.id}",
        )


def shapely_translate(geom, dx: float, dy: float):
    import shapely

    return shapely.transform(geom, lambda p: p + np.array([dx, dy]))


def machine_for(machine: MachineProfile, ms: MachineSettings, mat: MaterialSettings) -> Machine:
    return Machine(
        safe_z=ms.safe_z,
        clearance=ms.clearance,
        travel_feed=machine.kinematics.travel_feed,
        tools=ms.tools,
        cutting=mat.cutting,
        spin_up=ms.spin_up,
    )


WORK_KINDS = (MoveKind.CUT, MoveKind.ENGRAVE, MoveKind.PLUNGE)


def too_big(sx: float, sy: float, machine: MachineProfile) -> PlanError:
    return PlanError(messages.too_big(sx, sy, machine.work_area.x, machine.work_area.y))


def check_height(machine: MachineProfile, ms: MachineSettings, thickness: float) -> None:
    if thickness + ms.safe_z > machine.work_area.z:
        raise PlanError(messages.too_tall(thickness, machine.work_area.z, ms.safe_z))


def check_work_area(tp, machine: MachineProfile, sx: float, sy: float) -> None:
    """Every move inside the machine's travel (a bug here must never reach the machine)."""
    lo, hi = tp.bounds
    if (
        (lo[:2] < -1e-6).any()
        or hi[0] > machine.work_area.x + 1e-6
        or hi[1] > machine.work_area.y + 1e-6
    ):
        raise PlanError(
            messages.LEAVES_WORK_AREA,
            detail=f"toolpath bounds {lo} {hi}, stock {sx} x {sy}",
        )


def finish_plan(
    tp,
    assembly: Assembly,
    ms: MachineSettings,
    machine: MachineProfile,
    material: MaterialProfile,
    copies: int,
    runs: int,
    volume_cm3: float,
    warnings: list[Text],
    facts: dict[str, Any],
    preview_svg: str,
    title: str,
) -> Plan:
    """Outputs in both dialects (the profile's first), stock use and the plan."""
    tool_uses = assembly.tool_uses
    gcode_file = OutputFile(
        GCODE.suffix,
        GCODE.media_type,
        partial(
            write_gcode,
            tp=tp,
            tool_uses=tool_uses,
            safe_z=ms.safe_z,
            start=ms.gcode_start,
            end=ms.gcode_end,
            title=title,
        ),
        GCODE.label,
        main=ms.dialect == "gcode",
    )
    rml_files = []
    for k, (use, first, end) in enumerate(tool_ranges(tp, tool_uses)):
        suffix = RML.suffix if k == 0 else f".{k + 1}-{use.tool_id}{RML.suffix}"
        label = Text(
            f"Roland RML-1, outil {k + 1} : {use.tool_id}",
            f"Roland RML-1, tool {k + 1}: {use.tool_id}",
        )
        rml_files.append(
            OutputFile(
                suffix,
                RML.media_type,
                partial(_write_rml, tp=tp, use=use, first=first, end=end, safe_z=ms.safe_z),
                label,
                main=ms.dialect == "rml" and k == 0,
            )
        )
    outputs = (gcode_file, *rml_files) if ms.dialect == "gcode" else (*rml_files, gcode_file)
    if ms.dialect == "rml" and len(rml_files) > 1:
        warnings.append(messages.rml_files(len(rml_files)))
    uses = (
        MaterialUse(
            material.id,
            round(volume_cm3, 3),
            "cm3",
            Text("Brut", "Stock"),
        ),
    )
    return Plan(
        toolpath=tp,
        outputs=outputs,
        material_uses=uses,
        warnings=tuple(warnings),
        copies=copies,
        runs=runs,
        facts=facts,
        preview_svg=preview_svg,
    )


def _write_rml(f, *, tp, use, first, end, safe_z) -> None:
    write_rml(f, tp, use, first, end, safe_z=safe_z)
