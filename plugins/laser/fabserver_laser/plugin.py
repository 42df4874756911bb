"""The laser cutter plugin: colours → operations → parts → sheets → G-code and SVG."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from fabserver.designs.types import Design, Drawing
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

from .colours import (
    ColourMap,
    boxes_hint,
    classify,
    looks_like_boxes,
    nothing_mapped_error,
    unmapped_warning,
)
from .gcode import write_gcode
from .nesting import fits
from .parts import build_layout
from .settings import MachineSettings, MaterialSettings, machine_settings, material_settings
from .shapenest import item_footprints, pack_shapes
from .sheets import fill_sheets, item_sizes, nest
from .svgout import preview_svg, write_svg
from .work import SheetWork, build_toolpath, plan_sheet_work

GCODE = OutputFormat(".gcode", "text/x-gcode", Text("G-code GRBL", "GRBL G-code"))
SVG = OutputFormat(".svg", "image/svg+xml", Text("SVG pour pilote laser", "SVG for laser drivers"))
PREVIEW_SHEETS = 6  # sheets drawn side by side in the preview


class LaserPlugin(MachinePlugin):
    """CO2 laser cutter: cut, score and engrave drawings, nested on sheets."""

    id = "laser"
    name = Text("Découpe laser", "Laser cutting")
    accepts = frozenset({"drawing"})
    material_kinds = frozenset({"sheet"})
    formats = (GCODE, SVG)
    options = (
        Option(
            "colour_map",
            "str",
            "",
            Text("Couleurs → opérations", "Colours → operations"),
            Text(
                "Ajoute ou remplace des correspondances de la machine, par ex. "
                "#000000=cut,#0000ff=score ; opérations cut, score, engrave, ignore ; "
                "layer:NOM=cut pour un calque ; « boxes » pour les fichiers Boxes.py.",
                "Adds to or replaces the machine's map, e.g. #000000=cut,#0000ff=score; "
                "operations cut, score, engrave, ignore; layer:NAME=cut for a layer; "
                "'boxes' for Boxes.py files.",
            ),
        ),
        Option(
            "kerf_compensation",
            "bool",
            True,
            Text("Compenser la largeur de coupe", "Compensate the kerf"),
            Text(
                "Décale les découpes fermées d'une demi-largeur de faisceau (vers l'extérieur "
                "des pièces, vers l'intérieur des trous) pour des cotes justes.",
                "Moves closed cuts by half the kerf (outwards on parts, inwards on holes) so "
                "parts come out at size.",
            ),
        ),
        Option(
            "nesting",
            "choice",
            "parts",
            Text("Placement", "Nesting"),
            Text(
                "parts : chaque pièce est placée séparément, par son rectangle englobant ; "
                "shape : par sa forme réelle (pièces imbriquées, petites pièces dans les "
                "grands trous ; plus lent) ; design : le dessin garde sa disposition, les "
                "exemplaires sont placés en blocs.",
                "parts: each part is placed on its own, by its bounding box; shape: by its "
                "true shape (parts interlock, small ones go into big holes; slower); design: "
                "the drawing keeps its layout, copies are placed as blocks.",
            ),
            choices=("parts", "shape", "design"),
            choice_labels=(
                Text("Pièce par pièce", "Part by part"),
                Text("Forme réelle", "True shape"),
                Text("Dessin entier", "Whole design"),
            ),
        ),
        Option(
            "rotation",
            "bool",
            True,
            Text("Rotation 90° permise", "Allow 90° rotation"),
            Text(
                "Décochez si le sens du fil du bois compte.",
                "Untick when the wood grain direction matters.",
            ),
            advanced=True,
        ),
    )

    def check_machine(self, machine: MachineProfile) -> None:
        settings = machine_settings(machine.settings)
        try:
            colour_map(settings)
            for name, preset in settings.presets.items():
                ColourMap.parse(preset)
                if not name.isidentifier():
                    raise ValueError(f"'presets.{name}': preset names are single words")
        except PlanError as exc:
            raise ValueError(f"'colour_map': {exc.message.en}") from None

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
        if not isinstance(design, Drawing):
            raise PlanError(
                Text(
                    "La découpe laser demande un dessin 2D (SVG ou DXF).",
                    "Laser cutting needs a 2D drawing (SVG or DXF).",
                )
            )
        ms = machine_settings(machine.settings)
        mat = material_settings(material.settings)
        copies = int(options.get("copies", 1))
        warnings: list[Text] = []

        cmap = colour_map(ms, str(options.get("colour_map", "") or ""))
        classified = classify(design.paths, cmap)
        if classified.empty:
            error = nothing_mapped_error(classified.unmapped)
            if looks_like_boxes(design.paths, classified.unmapped):
                hint = boxes_hint()
                error = PlanError(
                    Text(f"{error.message.fr} {hint.fr}", f"{error.message.en} {hint.en}")
                )
            raise error
        if classified.unmapped:
            warnings.append(unmapped_warning(classified.unmapped))
            if looks_like_boxes(design.paths, classified.unmapped):
                warnings.append(boxes_hint())
        progress(0.1, "contours")

        kerf = mat.cut.kerf if options.get("kerf_compensation", True) else 0.0
        layout = build_layout(
            design.paths,
            classified,
            kerf=kerf,
            tolerance=ms.merge_tolerance,
            attach_distance=ms.spacing,
            one_block=options.get("nesting", "parts") == "design",
        )
        warnings += _layout_warnings(layout, kerf)
        progress(0.3, "nesting")

        bed = (machine.work_area.x, machine.work_area.y)
        sheet_size = (min(mat.sheet.x, bed[0]), min(mat.sheet.y, bed[1]))
        usable = (sheet_size[0] - 2 * ms.margin, sheet_size[1] - 2 * ms.margin)
        sizes = item_sizes(layout)
        too_big = [s for s in sizes if not fits(s, usable)]
        if too_big:
            whole = layout.items == 1
            raise _too_big(too_big[0], usable, mat, bed, ms.margin, whole)
        if mat.sheet.x > bed[0] or mat.sheet.y > bed[1]:
            warnings.append(
                Text(
                    f"La plaque ({mat.sheet.x:g} × {mat.sheet.y:g} mm) dépasse le lit de la "
                    f"machine : seuls {sheet_size[0]:g} × {sheet_size[1]:g} mm sont utilisés.",
                    f"The sheet ({mat.sheet.x:g} × {mat.sheet.y:g} mm) is larger than the "
                    f"machine's bed: only {sheet_size[0]:g} × {sheet_size[1]:g} mm are used.",
                )
            )
        rotation = bool(options.get("rotation", True))
        placements = None
        if options.get("nesting") == "shape":
            footprints = item_footprints(layout, ms.spacing)
            try:
                placements = pack_shapes(
                    footprints, list(range(layout.items)) * copies, usable, ms.margin, rotation
                )
            except ValueError:
                # A part that fits only by a hair does not fit the grid: use boxes.
                placements = None
        if placements is None:
            placements = nest(layout, copies, usable, ms.margin, ms.spacing, rotation)
        sheets = fill_sheets(layout, placements, layout.item_area)
        progress(0.5, "ordering")

        overscan = (
            ms.overscan
            if ms.overscan is not None
            else mat.engrave.speed**2 / (2.0 * machine.kinematics.accel) + 1.0
        )
        works = [plan_sheet_work(sheet, mat, overscan, (0.0, bed[0])) for sheet in sheets]
        tp = build_toolpath(works, mat, machine.kinematics.travel_feed)
        progress(0.8, "writing")

        if len(sheets) > 1:
            warnings.append(
                Text(
                    f"{len(sheets)} plaques nécessaires : un fichier par plaque "
                    "(la plaque 1 est le fichier principal).",
                    f"{len(sheets)} sheets needed: one file per sheet (sheet 1 is the main file).",
                )
            )
        facts = _facts(layout, works, tp, mat, sheet_size, kerf, copies, overscan, classified)
        outputs = _outputs(tp, works, ms, mat, material, sheet_size)
        sheet_area_m2 = mat.sheet.x * mat.sheet.y / 1e6
        uses = [
            MaterialUse(
                material.id,
                float(len(sheets)),
                "sheet",
                Text(
                    f"{material.name.fr} : plaques de {mat.sheet.x:g} × {mat.sheet.y:g} mm",
                    f"{material.name.en}: {mat.sheet.x:g} × {mat.sheet.y:g} mm sheets",
                ),
                priced="sheet" in material.prices,
            ),
            MaterialUse(
                material.id,
                len(sheets) * sheet_area_m2,
                "m2",
                Text(f"{material.name.fr} : surface", f"{material.name.en}: area"),
                priced="sheet" not in material.prices and "m2" in material.prices,
            ),
        ]
        progress(1.0, "done")
        return Plan(
            toolpath=tp,
            outputs=outputs,
            material_uses=tuple(uses),
            warnings=tuple(warnings),
            copies=copies,
            runs=1,
            facts=facts,
            preview_svg=preview_svg(works, sheet_size, PREVIEW_SHEETS),
        )


def colour_map(ms: MachineSettings, job_map: str = "") -> ColourMap:
    """The machine's layer and colour maps, then the job's entries on top."""
    layers = ",".join(f"layer:{e.strip()}" for e in ms.layer_map.split(",") if e.strip())
    return ColourMap.parse(layers).updated(ms.colour_map, ms.presets).updated(job_map, ms.presets)


def _layout_warnings(layout, kerf: float) -> list[Text]:
    out = []
    if layout.open_cuts:
        out.append(
            Text(
                f"{layout.open_cuts} tracé(s) ouvert(s) à découper "
                f"({layout.open_cut_length:.0f} mm) : une découpe ouverte ne libère aucune "
                "pièce. Fermez le contour s'il doit en détacher une.",
                f"{layout.open_cuts} open path(s) to cut ({layout.open_cut_length:.0f} mm): "
                "an open cut frees no part. Close the contour if it should free one.",
            )
        )
    if layout.duplicate_length > 0:
        out.append(
            Text(
                f"Lignes en double ou superposées fusionnées : {layout.duplicate_length:.1f} mm "
                f"({layout.duplicate_paths} contour(s) entier(s) en double). Elles auraient "
                "brûlé deux fois.",
                f"Duplicate or overlapping lines merged: {layout.duplicate_length:.1f} mm "
                f"({layout.duplicate_paths} whole contour(s) drawn twice). They would have "
                "burnt twice.",
            )
        )
    if layout.shared_length > 0:
        out.append(
            Text(
                f"{layout.shared_length:.1f} mm de bords communs à deux contours fermés : "
                "ils seront découpés deux fois. Écartez les pièces si ce n'est pas voulu.",
                f"{layout.shared_length:.1f} mm of edges shared by two closed contours will be "
                "cut twice. Move the parts apart if that is not intended.",
            )
        )
    if layout.small_holes:
        out.append(
            Text(
                f"{layout.small_holes} trou(s) plus petit(s) que la largeur de coupe "
                f"({kerf:.2f} mm) : découpé(s) sans compensation.",
                f"{layout.small_holes} hole(s) smaller than the kerf ({kerf:.2f} mm): cut "
                "without compensation.",
            )
        )
    return out


def _too_big(size, usable, mat: MaterialSettings, bed, margin: float, whole: bool) -> PlanError:
    w, h = float(size[0]), float(size[1])
    what_fr, what_en = ("Le dessin", "The drawing") if whole else ("Une pièce", "A part")
    return PlanError(
        Text(
            f"Trop grand : {what_fr.lower()} mesure {w:.1f} × {h:.1f} mm, la zone utile "
            f"est de {usable[0]:.0f} × {usable[1]:.0f} mm (plaque {mat.sheet.x:g} × "
            f"{mat.sheet.y:g} mm, lit {bed[0]:g} × {bed[1]:g} mm, marges {margin:g} mm). "
            "Réduisez l'échelle ou coupez le dessin en plusieurs pièces.",
            f"Too large: {what_en.lower()} is {w:.1f} × {h:.1f} mm, the usable area "
            f"is {usable[0]:.0f} × {usable[1]:.0f} mm (sheet {mat.sheet.x:g} × "
            f"{mat.sheet.y:g} mm, bed {bed[0]:g} × {bed[1]:g} mm, margins {margin:g} mm). "
            "Scale it down or split the drawing into several parts.",
        )
    )


def _facts(layout, works: list[SheetWork], tp, mat, sheet_size, kerf, copies, overscan, classified):
    from fabserver.toolpath import MoveKind

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
        "parts_per_copy": int(layout.items),
        "copies": copies,
        "kerf_mm": kerf,
        "cut_length_mm": round(cut_len, 2),
        "score_length_mm": round(score_len, 2),
        "engrave_beam_on_mm": round(engrave_len, 2),
        "engrave_area_mm2": round(sum(float(w.sheet.engrave.area) for w in works), 1),
        "raster_lines": int(sum(w.raster_lines for w in works)) * mat.engrave.passes,
        "overscan_mm": round(overscan, 2),
        "pierces": len([e for e in tp.events if e.kind.name == "PIERCE"]),
        "operations": {
            "cut": mat.cut.model_dump(exclude={"line_interval"}),
            "score": mat.score.model_dump(exclude={"line_interval", "kerf"}),
            "engrave": mat.engrave.model_dump(exclude={"kerf"}),
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


def _outputs(tp, works, ms: MachineSettings, mat: MaterialSettings, material, sheet_size):
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
        ]

        def gcode(out: IO[bytes], i: int = i, header: list[str] = header) -> None:
            write_gcode(
                out, tp, tp.layer == i, ms.s_max, ms.air_assist, header, operation_names=ops
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
