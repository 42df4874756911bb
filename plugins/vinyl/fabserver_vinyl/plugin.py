"""The vinyl cutter plugin: a drawing in, an HPGL file for a drag-knife cutter out.

Read this file first when writing a plugin. The settings models say what the
machine and material profiles hold; the class declares what the plugin takes,
writes and lets a maker choose; ``plan`` is the whole job in five steps, each
in a module of its own:

1. lay the copies out on the roll (``layout``): mirror, quarter turn, tiling;
2. list what to cut, weeding aids included (``weeding``), in order (``order``);
3. turn each blade path into the holder's path (``knife``);
4. build the shared :class:`~fabserver.toolpath.Toolpath` (the core estimates
   time and draws the preview from it) and the machine file (``hpgl``);
5. say how much vinyl the job uses.

Checks that only warn live in ``checks``; a design that cannot be cut raises
:class:`~fabserver.errors.PlanError` with a message for the maker.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from msgspec import Meta

from fabserver.designs import Drawing, DrawingPath
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import OperationMap, Operations, Rule, report, resolve
from fabserver.plugin import (
    MachinePlugin,
    MaterialUse,
    OutputFile,
    OutputFormat,
    Plan,
    PlanInput,
    options_from_toml,
    roles_from_toml,
)
from fabserver.preview_data import Frames, Lines, Preview
from fabserver.profiles import (
    MachineProfile,
    MaterialProfile,
    NonNegative,
    PluginSettings,
    Positive,
    parse_settings,
)
from fabserver.toolpath import EventKind, MoveKind, Toolpath, ToolpathBuilder
from fabserver.writers.hpgl import PenSetup, write_hpgl

from . import layout, order, weeding
from .checks import narrow_parts_warning, small_details_warning
from .knife import START_HEADING, Knife, holder_path, swivel_count, with_overcut

OPERATIONS = Operations(("cut",), example="*=cut,#0000ff=ignore")
"""A path is cut or left out."""

BladeOffset = Annotated[float, Meta(ge=0, le=2)]
"""How far the blade tip trails the holder's axis, mm (0.25 for a 45° blade)."""
Overcut = Annotated[float, Meta(ge=0, le=10)]
"""How far a closed path is cut again past its start, mm."""


class MachineSettings(PluginSettings):
    """``[settings]`` of a vinyl cutter's machine profile (lengths in mm).

    A field's type carries its bounds (``Annotated[float, Meta(ge=0, le=2)]``;
    ``Positive`` and ``NonNegative`` are the common ones), its default follows, and
    its meaning is the comment. ``fabserver profiles check`` names the key and the
    bound a profile breaks; a key the model lacks is refused as a typo.
    """

    units_per_mm: Positive = 40.0  # HPGL plotter units per millimetre
    feed_axis: Literal["x", "y"] = "x"  # plotter axis along the roll
    tool: Annotated[int, Meta(ge=0, le=9)] = 1  # HPGL pen (tool) number
    blade_offset: BladeOffset = 0.25  # blade tip behind the holder axis
    swivel_angle: Annotated[float, Meta(ge=0, le=180)] = 25.0  # turns sharper get a swivel arc
    overcut: Overcut = 1.0  # closed paths cut again past the start
    roll_margin: NonNegative = 8.0  # unusable width at each roll edge
    feed_band: Positive = 100.0  # band along the roll cut before the next
    min_detail: NonNegative = 1.0  # smallest detail the blade cuts
    min_area: NonNegative = 1.0  # smallest closed shape, mm²
    colour_map: str = "*=cut"  # colour or layer → cut / ignore (see OPERATIONS)


class MaterialSettings(PluginSettings):
    """``[settings]`` of a vinyl material profile. A field without a default must be given."""

    roll_width: Positive  # mm
    force: Positive  # blade force, FS value (gram-force on Roland)
    speed_cm_s: Annotated[float, Meta(gt=0, le=100)]  # cutting speed, VS value
    cut_mirrored: bool = False  # heat-transfer vinyl: cut from the back
    # A material that needs another blade (a 60° blade for thick flock) says so;
    # None (the key left out): the machine's.
    blade_offset: BladeOffset | None = None
    overcut: Overcut | None = None


class VinylPlugin(MachinePlugin):
    """Drag-knife vinyl cutters speaking HPGL / CAMM-GL."""

    id = "vinyl"
    name = Text("Plotter de découpe vinyle", "Vinyl cutter")
    accepts = frozenset({"drawing"})
    material_kinds = frozenset({"vinyl"})
    formats = (OutputFormat(".hpgl", "application/vnd.hp-hpgl", Text("HPGL", "HPGL")),)
    machine_settings = MachineSettings  # checked by the base class before the server starts
    material_settings = MaterialSettings
    roles = roles_from_toml(__package__)
    options = options_from_toml(__package__)

    operations_option = "colour_map"

    def operation_map(self, machine: MachineProfile, job_map: str = "") -> OperationMap:
        cutter: MachineSettings = parse_settings(MachineSettings, machine.settings)
        return OperationMap.of_machine(OPERATIONS, cutter.colour_map, job_map=job_map)

    def plan(self, request: PlanInput) -> Plan:
        """Lay out, order, compensate and write the cuts of ``request.copies`` copies."""
        design = request.design
        assert isinstance(design, Drawing)  # ``accepts`` lets only drawings through
        machine, material, options = request.machine, request.material, request.options
        cutter = request.machine_settings(MachineSettings)
        vinyl = request.material_settings(MaterialSettings)
        paths = [p for p in design.paths if len(p.points) >= 2 and np.ptp(p.points, axis=0).any()]
        rules = resolve(paths, self.operation_map(machine, options["colour_map"]))
        found = report(paths, rules)
        paths = [p for p, r in zip(paths, rules, strict=True) if r.rule == Rule("cut")]
        if not paths:
            raise PlanError(
                Text(
                    "Le dessin ne contient aucun tracé à découper.",
                    "The drawing has no path to cut.",
                )
            )
        warnings = _warnings(paths, cutter, vinyl, material, options)

        # 1. Layout on the roll, in the plotter's frame (millimetres).
        roll = layout.Roll(
            width=min(machine.work_area.x, vinyl.roll_width - 2 * cutter.roll_margin),
            max_length=machine.work_area.y,
            feed_axis=0 if cutter.feed_axis == "x" else 1,
        )
        spacing = float(options["spacing"])
        aids = options["weeding_border"] or options["weeding_lines"]
        margin = float(options["weeding_margin"]) if aids else 0.0
        if options["mirror"]:
            paths = layout.mirrored(paths)
        size = np.ptp(layout.bounds(paths), axis=0)
        copies = request.copies
        arrangement = layout.arrange(size + 2 * margin, copies, roll, spacing)
        if arrangement is None:
            raise PlanError(_too_wide(size, roll, vinyl))
        turned, tiling = arrangement  # a fact, not a warning: the preview shows it
        if turned:
            paths = layout.quarter_turned(paths)
        if tiling.length > roll.max_length:
            most = layout.most_copies(size + 2 * margin, roll, spacing)
            raise PlanError(_too_long(tiling, roll, most))
        low, high = layout.bounds(paths)
        footprint = high - low + 2 * margin  # one copy with its weeding margin
        request.progress(0.2, "layout")

        # 2. The cuts of one copy (moved to its footprint's corner), then of every copy, in order.
        one_copy = _pieces(paths, margin - low, margin, options)
        sequence = order.cut_sequence(
            _every_copy(one_copy, tiling), roll.feed_axis, cutter.feed_band, np.zeros(2)
        )
        request.progress(0.5, "order")

        # 3. Drag-knife compensation: the blade path of each cut → the holder's path.
        knife = Knife(
            vinyl.blade_offset if vinyl.blade_offset is not None else cutter.blade_offset,
            cutter.swivel_angle,
            vinyl.overcut if vinyl.overcut is not None else cutter.overcut,
        )
        heading, holders, swivels = START_HEADING, [], 0
        for piece in sequence:
            blade = with_overcut(piece.points, piece.closed, knife.overcut)
            swivels += swivel_count(blade, knife, heading)
            holder, heading = holder_path(blade, knife, heading)
            holders.append(holder)
        request.progress(0.8, "knife")

        # 4. The toolpath and the HPGL file; the tool parks past the job, along the roll.
        park = np.zeros(2)
        park[roll.feed_axis] = tiling.length
        roles = [piece.role for piece in sequence]
        toolpath = _toolpath(holders, roles, vinyl.speed_cm_s * 10.0, machine, park)
        setup = PenSetup(vinyl.force, vinyl.speed_cm_s, cutter.tool, cutter.units_per_mm)
        cuts = [h for h in holders if len(h) >= 2]
        hpgl = OutputFile(
            ".hpgl",
            "application/vnd.hp-hpgl",
            lambda stream: write_hpgl(stream, cuts, setup, park=(park[0], park[1])),
            label=Text("Fichier de découpe HPGL", "HPGL cutting file"),
        )

        # 5. Vinyl used: the whole width of the roll over the length the job takes.
        request.progress(1.0, "done")
        return Plan(
            toolpath=toolpath,
            outputs=(hpgl,),
            material_uses=_vinyl_used(tiling.length, vinyl, material),
            warnings=tuple(warnings),
            copies=copies,
            preview=_preview(sequence, roll, tiling.length),
            operations=found,
            facts={
                "roll_width_mm": vinyl.roll_width,
                "usable_width_mm": roll.width,
                "roll_length_mm": round(tiling.length, 2),
                "copies_across": tiling.across,
                "rows": tiling.rows,
                "copy_size_mm": [round(float(v), 2) for v in footprint],
                "turned": turned,
                "mirrored": bool(options["mirror"]),
                "cuts": len(cuts),
                "swivels": swivels,
                "blade_offset_mm": knife.offset,
                "force": vinyl.force,
                "speed_cm_s": vinyl.speed_cm_s,
            },
        )


def _warnings(
    paths: list[DrawingPath],
    cutter: MachineSettings,
    vinyl: MaterialSettings,
    material: MaterialProfile,
    options: Mapping[str, Any],
) -> list[Text]:
    """What the maker should know before cutting (the design is still cut)."""
    warnings = []
    for warning in (
        small_details_warning(paths, cutter.min_detail, cutter.min_area),
        narrow_parts_warning(paths, cutter.min_detail),
    ):
        if warning:
            warnings.append(warning)
    if vinyl.cut_mirrored and not options["mirror"]:
        warnings.append(
            Text(
                f"« {material.name.fr} » se découpe d'habitude en miroir : "
                "cochez « Miroir » si le motif doit se lire à l'endroit une fois posé.",
                f"'{material.name.en}' is usually cut mirrored: tick 'Mirror' "
                "if the design must read the right way once applied.",
            )
        )
    return warnings


def _pieces(
    paths: list[DrawingPath], shift: np.ndarray, margin: float, options: Mapping[str, Any]
) -> list[order.Piece]:
    """The cuts of one copy, moved by ``shift``: the design (batch 0), then its
    weeding lines (batch 1), then its border (batch 2), which encloses all."""
    depth, outermost = order.nesting(paths)
    pieces = [
        order.Piece(p.points + shift, p.closed, batch=0, group=int(g), depth=int(d))
        for p, g, d in zip(paths, outermost, depth, strict=True)
    ]
    new_group = itertools.count(len(paths))
    if options["weeding_lines"]:
        parts = [paths[g].with_points(paths[g].points + shift) for g in np.unique(outermost)]
        for line in weeding.lines_between(parts, margin, min(margin, 0.5)):
            pieces.append(order.Piece(line, False, 1, next(new_group), role="weed"))
    if options["weeding_border"]:
        low, high = layout.bounds(paths)
        box = weeding.border(low + shift, high + shift, margin)
        pieces.append(order.Piece(box, True, 2, next(new_group), role="weed"))
    return pieces


def _every_copy(pieces: list[order.Piece], tiling: layout.Tiling) -> list[order.Piece]:
    """``pieces`` repeated at each copy's place; a row of copies is cut before the next."""
    groups = 1 + max(p.group for p in pieces)
    return [
        order.Piece(
            p.points + offset,
            p.closed,
            batch=3 * (copy // tiling.across) + p.batch,  # row, then design / lines / border
            group=copy * groups + p.group,
            depth=p.depth,
            role=p.role,
        )
        for copy, offset in enumerate(tiling.offsets)
        for p in pieces
    ]


def _toolpath(
    holders: list[np.ndarray],
    roles: list[str],
    speed: float,
    machine: MachineProfile,
    park: np.ndarray,
) -> Toolpath:
    """Travel to each cut, drop the blade, cut at ``speed`` mm/s; then park.

    Dropping and lifting the blade takes a moment per cut, recorded as a PIERCE
    event and timed by the machine profile's ``timing.pierce``.
    """
    travel = machine.kinematics.travel_feed
    builder = ToolpathBuilder()
    for holder, role in zip(holders, roles, strict=True):
        if len(holder) < 2:
            continue
        builder.move_to(*holder[0], z=0.0, feed=travel)
        builder.event(EventKind.PIERCE)
        builder.add_path(holder[1:], MoveKind.CUT, speed, role=role, z=0.0)
    builder.move_to(*park, z=0.0, feed=travel)
    return builder.build()


def _preview(sequence: list[order.Piece], roll: layout.Roll, length: float) -> Preview:
    """The blade paths (what the maker gets, without the holder's swivels) on the
    part of the roll the job uses."""
    used = np.zeros((2, 2))
    used[1, roll.feed_axis], used[1, roll.across_axis] = length, roll.width
    lines = tuple(
        Lines(
            role,
            [p.points for p in sequence if p.role == role],
            [p.closed for p in sequence if p.role == role],
        )
        for role in dict.fromkeys(p.role for p in sequence)
    )
    return Preview(
        toolpath=Toolpath.empty(),
        overlays=(Frames("roll", used.reshape(1, 4)), *lines),
        show_travel=False,
        frame_work=True,
    )


def _vinyl_used(
    length: float, vinyl: MaterialSettings, material: MaterialProfile
) -> tuple[MaterialUse, ...]:
    """Square metres and metres of roll; the one the material is priced by is charged."""
    metres = length / 1000.0
    by_area = "m2" in material.prices or "m" not in material.prices
    return (
        MaterialUse(
            material.id,
            metres * vinyl.roll_width / 1000.0,
            "m2",
            material.name.text(),
            priced=by_area,
        ),
        MaterialUse(
            material.id, metres, "m", Text("Longueur de rouleau", "Roll length"), priced=not by_area
        ),
    )


def _too_wide(size: np.ndarray, roll: layout.Roll, vinyl: MaterialSettings) -> Text:
    return Text(
        "Le motif mesure {w:.0f} × {h:.0f} mm : il ne tient pas dans la largeur utile "
        "du rouleau ({usable:.0f} mm sur un rouleau de {roll:.0f} mm), même tourné. "
        "Réduisez-le ou découpez-le en plusieurs morceaux.",
        "The design is {w:.0f} × {h:.0f} mm: it does not fit the roll's usable width "
        "({usable:.0f} mm of a {roll:.0f} mm roll), even turned. "
        "Scale it down or split it into pieces.",
    ).format(w=float(size[0]), h=float(size[1]), usable=roll.width, roll=float(vinyl.roll_width))


def _too_long(tiling: layout.Tiling, roll: layout.Roll, most: int) -> Text:
    if most < 1:
        return Text(
            "Le motif est plus long que les {max:.0f} mm que ce plotter découpe d'une traite. "
            "Réduisez-le ou coupez-le en morceaux.",
            "The design is longer than the {max:.0f} mm this cutter cuts in one go. "
            "Scale it down or split it into pieces.",
        ).format(max=roll.max_length)
    return Text(
        "Ces exemplaires prendraient {length:.0f} mm de rouleau, plus que les {max:.0f} mm "
        "que ce plotter découpe d'une traite. Demandez-en {most} au plus par travail.",
        "These copies would take {length:.0f} mm of roll, more than the {max:.0f} mm this "
        "cutter cuts in one go. Ask for at most {most} per job.",
    ).format(length=tiling.length, max=roll.max_length, most=most)
