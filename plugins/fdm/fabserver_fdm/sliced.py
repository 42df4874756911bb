"""A print already sliced — a maker's G-code or an external engine's — checked and planned.

The core's reader (:mod:`fabserver.designs.gcode`) has turned the file into a
toolpath; here it is checked against the chosen printer and filament (firmware
flavour, bed and height, temperatures, filament and nozzle diameters), each
refusal with a message that says what to do, and wrapped in a :class:`Plan`
whose machine file is the G-code itself, byte for byte. The preview, the time
(fabserver's firmware model, not the slicer's claim) and the checks are the
same as for the builtin slicer's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fabserver.designs.types import Gcode
from fabserver.errors import PlanError
from fabserver.i18n import Text, french_number
from fabserver.plugin import MaterialUse, OutputFile, Plan
from fabserver.profiles import LocalName, MachineProfile, MaterialProfile
from fabserver.toolpath import MoveKind, Toolpath

from .flow import filament_area
from .preview import top_view
from .settings import PrintSettings

BED_TOLERANCE_MM = 0.5  # extrusions this far past the bed edge are still accepted
NOZZLE_MARGIN_C = 25.0  # °C around the filament's temperatures
BED_MARGIN_C = 15.0  # °C above the filament's bed temperatures
DIAMETER_TOLERANCE_MM = 0.1
NOZZLE_TOLERANCE_MM = 0.01

# Flavour names slicers write (PrusaSlicer's gcode_flavor, Cura's ;FLAVOR:) → firmware family.
FLAVOUR_FAMILIES = {
    "marlin2": "marlin",
    "marlin": "marlin",
    "marlinlegacy": "marlin",
    "marlin(volumetric)": "marlin",
    "reprap (marlin/sprinter)": "marlin",
    "klipper": "klipper",
    "reprapfirmware": "reprapfirmware",
    "reprap (rrf)": "reprapfirmware",
    "repetier": "repetier",
    "griffin": "ultimaker",
    "ultigcode": "ultimaker",
    "makerware": "makerbot",
    "sailfish": "makerbot",
    "bfb": "bits-from-bytes",
    "smoothie": "smoothieware",
    "teacup": "teacup",
    "mach3": "mach3",
    "machinekit": "machinekit",
    "no-extrusion": "no-extrusion",
}
# Firmware families each printer flavour runs as they are (Klipper runs Marlin's G-code).
RUNS = {"marlin2": {"marlin"}, "klipper": {"klipper", "marlin"}}


@dataclass(frozen=True)
class FilamentUse:
    """The filament a plan lays down, per copy and for the whole job."""

    extruded_mm: float  # on one plate
    per_copy_mm: float
    total_mm: float
    grams: float

    @classmethod
    def of(cls, tp: Toolpath, s: PrintSettings, on_plate: int, copies: int) -> FilamentUse:
        """From the extrusions of a plate of ``on_plate`` copies, for ``copies`` copies."""
        extruded = float(tp.e[tp.kind == MoveKind.EXTRUDE].sum())
        per_copy_mm = extruded / max(on_plate, 1)
        total_mm = per_copy_mm * copies
        grams = total_mm * filament_area(s.filament.diameter) * s.filament.density / 1000.0
        return cls(extruded, per_copy_mm, total_mm, grams)

    def material_uses(self, material_id: str) -> tuple[MaterialUse, MaterialUse]:
        """The length (not priced: the mass is) and the mass."""
        return (
            MaterialUse(
                material_id,
                round(self.total_mm / 1000.0, 3),
                "m",
                Text("Filament (longueur)", "Filament (length)"),
                priced=False,
            ),
            MaterialUse(
                material_id, round(self.grams, 3), "g", Text("Filament (masse)", "Filament (mass)")
            ),
        )


@dataclass(frozen=True)
class SlicedFile:
    """Where a G-code came from, for the plan's facts and file name."""

    source: str  # "upload", "prusaslicer", "curaengine"
    label: Text


def check_gcode(design: Gcode, machine: MachineProfile, s: PrintSettings) -> list[Text]:
    """Refuse a G-code this printer cannot run safely; return warnings for what is doubtful."""
    info = design.info
    warnings: list[Text] = []
    name = machine.name
    _check_flavour(design, machine, s)
    _check_bounds(design, machine)
    _check_size(
        info.filament_diameter,
        s.filament.diameter,
        DIAMETER_TOLERANCE_MM,
        name,
        Text(
            "Ce G-code est tranché pour du filament de {file} mm ; « {name_fr} » utilise "
            "du {ours} mm. Tranchez-le à nouveau avec un diamètre de {ours} mm.",
            "This G-code is sliced for {file} mm filament; '{name_en}' uses {ours} mm. "
            "Slice it again with a {ours} mm diameter.",
        ),
    )
    _check_size(
        info.nozzle_diameter,
        s.printer.nozzle_diameter,
        NOZZLE_TOLERANCE_MM,
        name,
        Text(
            "Ce G-code est tranché pour une buse de {file} mm ; « {name_fr} » a une buse "
            "de {ours} mm. Tranchez-le à nouveau avec le profil de cette imprimante.",
            "This G-code is sliced for a {file} mm nozzle; '{name_en}' has a {ours} mm "
            "nozzle. Slice it again with this printer's profile.",
        ),
    )
    warnings.extend(_check_temperatures(design, s))
    warnings.extend(_limit_warnings(design, machine))
    return warnings


def _check_size(
    file: float | None, ours: float, tolerance: float, name: LocalName, why: Text
) -> None:
    """Refuse a file sliced for another filament or nozzle size (``file``: what it declares)."""
    if file is not None and abs(file - ours) > tolerance:
        raise PlanError(
            why.format(file=f"{file:g}", ours=f"{ours:g}", name_fr=name.fr, name_en=name.en)
        )


LIMIT_SLACK = 1.05  # limits within 5 % of the profile's are the same for the estimate


def _limit_warnings(design: Gcode, machine: MachineProfile) -> list[Text]:
    """The file raises the printer's limits: the firmware obeys it, the estimate assumes the profile."""
    k = machine.kinematics
    ours = {
        "accel": k.accel,
        "max_accel_x": k.max_accel.x,
        "max_accel_y": k.max_accel.y,
        "max_feed_x": k.max_feed.x,
        "max_feed_y": k.max_feed.y,
        "max_velocity": max(k.max_feed.x, k.max_feed.y),
    }
    above = [
        f"{key} {value:g} > {ours[key]:g}"
        for key, value in design.info.limits.items()
        if key in ours and value > ours[key] * LIMIT_SLACK
    ]
    if not above:
        return []
    shown = ", ".join(above)
    return [
        Text(
            "Ce G-code relève les limites de la machine ({limits}) : l'imprimante les suivra, "
            "mais le temps estimé suppose celles de son profil. Vérifiez que la machine les "
            "supporte.",
            "This G-code raises the machine's limits ({limits}): the printer will follow it, "
            "but the estimated time assumes its profile's. Check that the machine can take them.",
        ).format(limits=shown)
    ]


def _check_flavour(design: Gcode, machine: MachineProfile, s: PrintSettings) -> None:
    info = design.info
    runs = RUNS[s.printer.flavour]
    family = FLAVOUR_FAMILIES.get(info.flavour.strip().lower()) if info.flavour else None
    if family is not None and family not in runs:
        raise PlanError(
            Text(
                "Ce G-code est écrit pour un autre micrologiciel ({flavour}) ; « {name_fr} » "
                "fonctionne sous {ours}. Tranchez-le à nouveau avec le profil de cette "
                "imprimante (saveur G-code : {ours}).",
                "This G-code is written for another firmware ({flavour}); '{name_en}' runs "
                "{ours}. Slice it again with this printer's profile (G-code flavour: {ours}).",
            ).format(
                flavour=info.flavour,
                ours=s.printer.flavour,
                name_fr=machine.name.fr,
                name_en=machine.name.en,
            )
        )
    if info.extended_commands and "klipper" not in runs:
        shown = ", ".join(info.extended_commands[:3])
        raise PlanError(
            Text(
                "Ce G-code contient des commandes Klipper ({commands}) que « {name_fr} » "
                "(Marlin) ne comprend pas. Tranchez-le à nouveau avec le profil de cette "
                "imprimante.",
                "This G-code holds Klipper commands ({commands}) that '{name_en}' (Marlin) "
                "does not understand. Slice it again with this printer's profile.",
            ).format(commands=shown, name_fr=machine.name.fr, name_en=machine.name.en)
        )


def _check_bounds(design: Gcode, machine: MachineProfile) -> None:
    area = machine.work_area
    low, high = design.bounds
    limit = np.array([area.x, area.y, area.z])
    outside = (low < -BED_TOLERANCE_MM) | (high > limit + BED_TOLERANCE_MM)
    if not outside.any():
        return
    raise PlanError(
        Text(
            "Ce G-code sort du volume d'impression de « {name_fr} » ({lx:.0f} × {ly:.0f} × "
            "{lz:.0f} mm) : il imprime de x = {x0} à {x1}, y = {y0} à {y1} et jusqu'à "
            "z = {z1} mm. Il a sans doute été tranché pour une autre imprimante : tranchez-le "
            "à nouveau avec le profil de celle-ci, ou envoyez le modèle 3D (STL).",
            "This G-code goes beyond the build volume of '{name_en}' ({lx:.0f} × {ly:.0f} × "
            "{lz:.0f} mm): it prints from x = {x0_en} to {x1_en}, y = {y0_en} to {y1_en} and up "
            "to z = {z1_en} mm. It was probably sliced for another printer: slice it again "
            "with this one's profile, or upload the 3D model (STL).",
        ).format(
            name_fr=machine.name.fr,
            name_en=machine.name.en,
            lx=float(area.x),
            ly=float(area.y),
            lz=float(area.z),
            x0=french_number(float(low[0]), ".1f"),
            x1=french_number(float(high[0]), ".1f"),
            y0=french_number(float(low[1]), ".1f"),
            y1=french_number(float(high[1]), ".1f"),
            z1=french_number(float(high[2]), ".1f"),
            x0_en=f"{low[0]:.1f}",
            x1_en=f"{high[0]:.1f}",
            y0_en=f"{low[1]:.1f}",
            y1_en=f"{high[1]:.1f}",
            z1_en=f"{high[2]:.1f}",
        )
    )


def _check_temperatures(design: Gcode, s: PrintSettings) -> list[Text]:
    info = design.info
    f = s.filament
    nozzle = [t for t in info.nozzle_temperatures if t > 0]
    if not nozzle:
        if info.extended_commands:  # a start macro (PRINT_START EXTRUDER=…) heats the nozzle
            return [
                Text(
                    "Ce G-code chauffe la buse par une macro Klipper : sa température n'a pas "
                    "pu être vérifiée.",
                    "This G-code heats the nozzle through a Klipper macro: its temperature "
                    "could not be checked.",
                )
            ]
        raise PlanError(
            Text(
                "Ce G-code ne chauffe jamais la buse (pas de M104 ni de M109) : l'imprimante "
                "refusera d'extruder. Tranchez-le à nouveau avec un G-code de démarrage.",
                "This G-code never heats the nozzle (no M104 or M109): the printer will refuse "
                "to extrude. Slice it again with a start G-code.",
            )
        )
    low = min(f.temperature, f.first_layer_temperature) - NOZZLE_MARGIN_C
    high = max(f.temperature, f.first_layer_temperature) + NOZZLE_MARGIN_C
    bad = [t for t in nozzle if not low <= t <= high]
    if bad:
        raise PlanError(
            Text(
                "La buse est réglée à {t:.0f} °C dans ce G-code ; le filament {type} se "
                "travaille entre {low:.0f} et {high:.0f} °C. Tranchez-le à nouveau avec le "
                "profil de filament {type}.",
                "This G-code sets the nozzle to {t:.0f} °C; {type} filament is printed between "
                "{low:.0f} and {high:.0f} °C. Slice it again with the {type} filament profile.",
            ).format(t=bad[0], type=f.type, low=low, high=high)
        )
    bed_high = max(f.bed_temperature, f.first_layer_bed_temperature) + BED_MARGIN_C
    hot = [t for t in info.bed_temperatures if t > bed_high]
    if hot:
        raise PlanError(
            Text(
                "Le plateau est réglé à {t:.0f} °C dans ce G-code ; pour le filament {type}, "
                "pas plus de {high:.0f} °C. Tranchez-le à nouveau avec le profil de filament "
                "{type}.",
                "This G-code sets the bed to {t:.0f} °C; {type} filament takes at most "
                "{high:.0f} °C. Slice it again with the {type} filament profile.",
            ).format(t=hot[0], type=f.type, high=bed_high)
        )
    return []


def gcode_plan(
    design: Gcode,
    machine: MachineProfile,
    material: MaterialProfile,
    s: PrintSettings,
    *,
    copies: int,
    on_plate: int,
    runs: int,
    warnings: list[Text],
    origin: SlicedFile,
    facts: dict[str, Any] | None = None,
) -> Plan:
    """A plan that prints ``design`` ``runs`` times, ``on_plate`` copies each time."""
    tp = design.toolpath
    filament = FilamentUse.of(tp, s, on_plate, copies)
    size = design.size
    data = design.data

    def write(out) -> None:
        out.write(data)

    all_facts: dict[str, Any] = {
        "engine": origin.source,
        "slicer": design.info.slicer,
        "flavour": design.info.flavour or s.printer.flavour,
        "layer_count": tp.n_layers,
        "height_mm": round(float(design.bounds[1][2]), 3),
        "size_mm": [round(float(v), 2) for v in size],
        "copies_per_plate": on_plate,
        "plates": runs,
        "filament_mm_per_copy": round(filament.per_copy_mm, 1),
        "filament_g_per_copy": round(filament.grams / max(copies, 1), 2),
        "slicer_time_s": design.info.declared_time_s,
        "moves": len(tp),
        **(facts or {}),
    }
    return Plan(
        toolpath=tp,
        outputs=(OutputFile(".gcode", "text/x-gcode", write, origin.label),),
        material_uses=filament.material_uses(material.id),
        warnings=tuple(warnings),
        copies=copies,
        runs=runs,
        facts=all_facts,
        preview=top_view(tp),
    )


UPLOADED = SlicedFile("upload", Text("G-code envoyé", "Uploaded G-code"))


def plan_uploaded(
    design: Gcode,
    machine: MachineProfile,
    material: MaterialProfile,
    s: PrintSettings,
    copies: int,
) -> Plan:
    """A maker's G-code: checked, then printed once per copy (one copy per run)."""
    warnings = check_gcode(design, machine, s)  # the loader's own reach the maker through the core
    return gcode_plan(
        design,
        machine,
        material,
        s,
        copies=copies,
        on_plate=1,
        runs=copies,
        warnings=warnings,
        origin=UPLOADED,
    )
