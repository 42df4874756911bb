"""What a laser plan reports: machine files, facts for the pages, material used."""

from __future__ import annotations

from typing import IO, Any

import msgspec
import numpy as np

from fabserver.estimate import grbl_settings
from fabserver.i18n import Text
from fabserver.plugin import MaterialUse, OutputFile, OutputFormat
from fabserver.profiles import Kinematics, MaterialProfile
from fabserver.toolpath import EventKind, MoveKind, Toolpath
from fabserver.writers.gcode import write_grbl_laser

from .colours import Classified
from .parts import Layout
from .settings import MachineSettings, MaterialSettings, OperationSettings
from .svgout import write_svg
from .work import ROLE_OVERSCAN, SheetWork

GCODE = OutputFormat(".gcode", "text/x-gcode", Text("G-code GRBL", "GRBL G-code"))
SVG = OutputFormat(".svg", "image/svg+xml", Text("SVG pour pilote laser", "SVG for laser drivers"))


def plan_facts(
    layout: Layout,
    works: list[SheetWork],
    tp: Toolpath,
    mat: MaterialSettings,
    sheet_size: tuple[float, float],
    kerf: float,
    copies: int,
    overscan: float,
    classified: Classified,
) -> dict[str, Any]:
    """Figures for the pages (JSON-able), and every placement for checks."""
    sheet_area = sheet_size[0] * sheet_size[1]
    per_sheet_use = [100.0 * w.sheet.part_area / sheet_area for w in works]
    lengths = tp.lengths
    cut_len = float(lengths[tp.role_mask("cut")].sum())
    score_len = float(lengths[tp.role_mask("score")].sum())
    engrave_len = float(lengths[tp.role_mask("engrave") & (tp.kind == MoveKind.ENGRAVE)].sum())
    return {
        "sheets": len(works),
        "sheet_mm": list(sheet_size),
        "sheet_use_percent": round(float(np.mean(per_sheet_use)) if works else 0.0, 1),
        "sheet_use_percent_by_sheet": [round(u, 1) for u in per_sheet_use],
        # How far the work reaches on the last sheet: the rest is a reusable offcut.
        "last_sheet_reach_mm": round(_reach(works[-1]), 1) if works else 0.0,
        "identical_sheets": _identical_sheets(works),
        "parts_per_copy": int(layout.items),
        "copies": copies,
        "kerf_mm": kerf,
        "cut_length_mm": round(cut_len, 2),
        "score_length_mm": round(score_len, 2),
        "engrave_beam_on_mm": round(engrave_len, 2),
        "engrave_area_mm2": round(sum(float(w.sheet.engrave.area) for w in works), 1),
        "raster_lines": int(sum(w.raster_lines for w in works)) * mat.engrave.passes,
        "overscan_mm": round(overscan, 2),
        "pierces": len(tp.events_of(EventKind.PIERCE)),
        "operations": {
            "cut": _operation_facts(mat.cut, "line_interval"),
            "score": _operation_facts(mat.score, "line_interval", "kerf"),
            "engrave": _operation_facts(mat.engrave, "kerf"),
        },
        "unmapped_colours": [
            {"colour": u.colour, "paths": u.paths, "length_mm": round(u.length_mm, 1)}
            for u in classified.unmapped
        ],
        "duplicate_length_mm": round(layout.duplicate_length, 2),
        "placements": [
            {
                "sheet": p.sheet,
                "item": p.item,
                "angle": p.angle,
                "offset": [round(p.offset[0], 6), round(p.offset[1], 6)],
            }
            for w in works
            for p in w.sheet.placements
        ],
    }


def _operation_facts(op: OperationSettings, *unused: str) -> dict[str, Any]:
    """An operation's settings for the pages, without those it does not use."""
    return {k: v for k, v in msgspec.structs.asdict(op).items() if k not in unused}


def _identical_sheets(works: list[SheetWork]) -> list[list[int]]:
    """Sheet numbers (from 1) grouped by identical content: run one file many times."""
    groups: dict[tuple, list[int]] = {}
    for work in works:
        key = tuple(
            (p.item, p.angle, round(p.offset[0], 3), round(p.offset[1], 3))
            for p in work.sheet.placements
        )
        groups.setdefault(key, []).append(work.sheet.index + 1)
    return list(groups.values())


def _reach(work: SheetWork) -> float:
    """Largest y of the work on a sheet, millimetres."""
    tops = [c.points[:, 1].max() for c in work.sheet.contours]
    if not work.sheet.engrave.is_empty:
        tops.append(work.sheet.engrave.bounds[3])
    return float(max(tops, default=0.0))


def machine_files(
    tp: Toolpath,
    works: list[SheetWork],
    ms: MachineSettings,
    mat: MaterialSettings,
    material: MaterialProfile,
    sheet_size: tuple[float, float],
    kinematics: Kinematics | None = None,
) -> tuple[OutputFile, ...]:
    """A G-code program and an SVG per sheet; sheet 1's G-code is the main file.

    ``kinematics``: the Grbl settings the time estimate assumed go in the header.
    """
    files = []
    ops = {
        "engrave": f"engrave: {mat.engrave.power:g} % {mat.engrave.speed:g} mm/s, "
        f"line interval {mat.engrave.line_interval:g} mm",
        "score": f"score: {mat.score.power:g} % {mat.score.speed:g} mm/s",
        "cut": f"cut: {mat.cut.power:g} % {mat.cut.speed:g} mm/s x{mat.cut.passes}",
    }
    n = len(works)
    for work in works:
        i = work.sheet.index
        header = [
            f"fabserver laser, sheet {i + 1} of {n}: {material.name.en} "
            f"({mat.thickness:g} mm thick), {mat.sheet.x:g} x {mat.sheet.y:g} mm, "
            "origin front left",
            *ops.values(),
            *(grbl_settings(kinematics, ms.s_max, True) if kinematics else ()),
        ]

        def gcode(out: IO[bytes], i: int = i, header: list[str] = header) -> None:
            write_grbl_laser(
                out, tp, tp.layer == i, ms.s_max, ms.air_assist, header, ops, ROLE_OVERSCAN
            )

        def svg(out: IO[bytes], work: SheetWork = work) -> None:
            write_svg(out, work, sheet_size, f"{material.name.en}, sheet {work.sheet.index + 1}")

        tag = "" if i == 0 else f"-sheet{i + 1}"
        label = Text(f"G-code plaque {i + 1}", f"G-code sheet {i + 1}")
        files.append(OutputFile(f"{tag}.gcode", GCODE.media_type, gcode, label, main=i == 0))
        files.append(
            OutputFile(
                f"{tag or '-sheet1'}.svg",
                SVG.media_type,
                svg,
                Text(f"SVG plaque {i + 1}", f"SVG sheet {i + 1}"),
                main=False,
            )
        )
    return tuple(files)


def material_uses(
    material: MaterialProfile, mat: MaterialSettings, sheets: int
) -> tuple[MaterialUse, ...]:
    """Whole sheets (the lab sells sheets), and their area, shown or priced per m²."""
    return (
        MaterialUse(
            material.id,
            float(sheets),
            "sheet",
            Text(
                "{name_fr} : plaques de {x:g} × {y:g} mm",
                "{name_en}: {x:g} × {y:g} mm sheets",
            ).format(
                name_fr=material.name.fr,
                name_en=material.name.en,
                x=float(mat.sheet.x),
                y=float(mat.sheet.y),
            ),
            priced="sheet" in material.prices,
        ),
        MaterialUse(
            material.id,
            sheets * mat.sheet.x * mat.sheet.y / 1e6,
            "m2",
            Text(f"{material.name.fr} : surface", f"{material.name.en}: area"),
            priced="sheet" not in material.prices and "m2" in material.prices,
        ),
    )
