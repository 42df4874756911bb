"""What a mill plan hands back: files in both dialects, the stock it uses, the plan itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

from fabserver.estimate import grbl_settings
from fabserver.i18n import Text
from fabserver.operations import Found
from fabserver.plugin import MaterialUse, OutputFile, OutputFormat, Plan, PlanInput
from fabserver.preview_data import Preview
from fabserver.toolpath import MoveKind, Toolpath
from fabserver.writers.gcode import ToolChange, write_grbl_mill

from . import messages
from .assemble import Assembly, Cut, Machine, ToolUse, assemble
from .limits import check_work_area
from .rml import tool_ranges, write_rml
from .settings import MachineSettings, MaterialSettings

GCODE = OutputFormat(
    ".nc", "text/x-gcode", Text("G-code (GRBL, LinuxCNC)", "G-code (GRBL, LinuxCNC)")
)
RML = OutputFormat(".rml", "application/x-rml", Text("Roland RML-1", "Roland RML-1"))

WORK_KINDS = (MoveKind.CUT, MoveKind.ENGRAVE, MoveKind.PLUNGE)
"""Moves that remove material (for the cut length in the facts)."""


@dataclass(frozen=True)
class MillJob:
    """One job as both planners (2.5D drawings, 3D meshes) take it: what the plugin was
    given, and the machine's and material's settings, read once."""

    request: PlanInput
    ms: MachineSettings
    mat: MaterialSettings

    @classmethod
    def of(cls, request: PlanInput) -> MillJob:
        return cls(
            request,
            request.machine_settings(MachineSettings),
            request.material_settings(MaterialSettings),
        )

    def toolpath(self, cuts: Sequence[Cut], sx: float, sy: float) -> tuple[Assembly, Toolpath]:
        """The cuts linked into one toolpath, checked inside the machine's travel over the
        ``sx`` × ``sy`` mm block."""
        assembly = assemble(
            list(cuts), Machine.from_profiles(self.request.machine, self.ms, self.mat)
        )
        tp = assembly.builder.build()
        check_work_area(tp, self.request.machine, self.ms, sx, sy)
        return assembly, tp

    def plan(
        self,
        tp: Toolpath,
        assembly: Assembly,
        runs: int,
        volume_cm3: float,
        warnings: list[Text],
        facts: dict[str, Any],
        preview: Preview,
        mode: str,
        stock: tuple[float, float, float],
        operations: tuple[Found, ...] = (),
    ) -> Plan:
        """The plan of ``runs`` runs of the program using ``volume_cm3`` of stock in all:
        files in both dialects (the profile's first) and the stock used. ``mode`` (2.5D,
        3D) and ``stock`` (one run's block, mm) go into the operator's notes."""
        ms, material, kinematics = self.ms, self.request.material, self.request.machine.kinematics
        copies = self.request.copies
        title = f"fabserver mill {mode}, {material.id}"
        tool_uses = assembly.tool_uses
        gcode_file = OutputFile(
            GCODE.suffix,
            GCODE.media_type,
            partial(
                write_grbl_mill,
                tp=tp,
                tool_changes=tool_changes(tool_uses),
                safe_z=ms.safe_z,
                start=ms.gcode_start,
                end=ms.gcode_end,
                notes=[
                    *operator_notes(title, stock, tool_uses),
                    # What the time estimate assumed the controller is set to.
                    *grbl_settings(kinematics, ms.spindle_max_rpm, False),
                ],
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
        uses = (MaterialUse(material.id, round(volume_cm3, 3), "cm3", Text("Brut", "Stock")),)
        return Plan(
            toolpath=tp,
            outputs=outputs,
            material_uses=uses,
            warnings=tuple(warnings),
            copies=copies,
            runs=runs,
            facts=facts,
            preview=preview,
            operations=operations,
        )


def tools_facts(assembly: Assembly) -> list[dict[str, Any]]:
    """Each tool the job uses, its spindle speed and description, for the plan's facts."""
    return [
        {"tool": u.tool_id, "rpm": u.rpm, "description": u.tool.describe().to_dict()}
        for u in assembly.tool_uses
    ]


def tool_changes(tool_uses: list[ToolUse]) -> list[ToolChange]:
    """Every tool, the first included, is mounted during a pause that names it (fr / en)."""
    changes = []
    for use in tool_uses:
        desc = use.tool.describe()
        changes.append(ToolChange(use.index, f"{use.tool_id}: {desc.fr} / {desc.en}", use.rpm))
    return changes


def operator_notes(
    title: str, stock: tuple[float, float, float], tool_uses: list[ToolUse]
) -> list[str]:
    """Header lines for whoever sets the job up at the machine."""
    sx, sy, sz = stock
    tools = ", ".join(f"{k + 1}. {u.tool_id}" for k, u in enumerate(tool_uses))
    return [
        title,
        f"Brut / stock: {sx:.1f} x {sy:.1f} x {sz:.1f} mm",
        "Zero: X0 Y0 coin avant gauche / front left corner, Z0 dessus du brut / top of stock",
        f"Outils / tools: {tools}",
    ]


def _write_rml(
    f: IO[bytes], *, tp: Toolpath, use: ToolUse, first: int, end: int, safe_z: float
) -> None:
    write_rml(f, tp, use, first, end, safe_z=safe_z)
