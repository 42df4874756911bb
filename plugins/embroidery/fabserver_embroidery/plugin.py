"""The embroidery plugin: a drawing in, stitches out (DST, PES, JEF, EXP)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import shapely

from fabserver.designs.types import Drawing
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import OperationMap, report, resolve
from fabserver.plugin import (
    MachinePlugin,
    MaterialUse,
    OutputFile,
    Plan,
    PlanInput,
    Progress,
    options_from_toml,
    roles_from_toml,
)
from fabserver.preview_data import Preview, RoleStyle
from fabserver.profiles import MachineProfile, parse_settings
from fabserver.toolpath import EventKind, MoveKind, Toolpath

from .column import shape_satin
from .elements import STITCHES, Element, ElementRules, cut_hidden, drawing_elements, is_bar
from .fill import FillParams, column_satin, fill_polylines, shape_angle
from .hoop import choose_hoop, place
from .ordering import sewing_order
from .sequence import Limits, SewnBlock, build_toolpath
from .settings import MachineSettings, MaterialSettings
from .strokes import running_stitch, stroke_satin
from .threads import Thread, ThreadMatch, match_threads
from .writer import FORMATS, toolpath_pattern, write_pattern

OPTIONS = options_from_toml(__package__)


class EmbroideryPlugin(MachinePlugin):
    """Fills, satins and running stitches from a drawing, through pyembroidery."""

    id = "embroidery"
    name = Text("Broderie", "Embroidery")
    accepts = frozenset({"drawing"})
    material_kinds = frozenset({"embroidery"})
    roles = roles_from_toml(__package__)  # the threads' own come with each design
    formats = tuple(f.output for f in FORMATS.values())
    options = OPTIONS
    operations_option = "stitch_map"
    machine_settings = MachineSettings
    material_settings = MaterialSettings

    def operation_map(self, machine: MachineProfile, job_map: str = "") -> OperationMap:
        stitch_map = parse_settings(MachineSettings, machine.settings).stitch_map
        return OperationMap.of_machine(STITCHES, stitch_map, job_map=job_map)

    def plan(self, request: PlanInput) -> Plan:
        design, opts, progress = request.design, request.options, request.progress
        assert isinstance(design, Drawing)  # ``accepts`` lets only drawings through run_plan
        ms = request.machine_settings(MachineSettings)
        fmt = FORMATS[ms.default_format if opts["format"] == "machine" else opts["format"]]
        rules = ElementRules(
            satin_min_width=float(opts["satin_min_width"]), auto_satin=bool(opts["auto_satin"])
        )
        progress(0.05, "shapes")

        chosen = resolve(design.paths, self.operation_map(request.machine, opts["stitch_map"]))
        elements, warnings = drawing_elements(design, rules, chosen)
        if opts["cut_hidden"]:
            elements = cut_hidden(elements, rules)
        if not elements:
            raise PlanError(
                Text(
                    "Rien à broder : le dessin n'a ni surface remplie ni trait coloré.",
                    "Nothing to embroider: the drawing has no filled area and no coloured stroke.",
                )
            )
        # Fail early on a design far too big, before sewing it (what is sewn, not hidden parts).
        extent = shapely.bounds(np.array([e.footprint for e in elements], dtype=object))
        choose_hoop(extent[:, 2:].max(axis=0) - extent[:, :2].min(axis=0), ms.hoops)

        colours = list(dict.fromkeys(e.colour for e in elements))
        mat = request.material_settings(MaterialSettings)
        matches = match_threads(colours, mat.catalogue)
        thread_of_colour = {m.colour: m for m in matches}
        # Colours that map to one catalogue thread are one thread: one fewer change.
        thread_keys = list(dict.fromkeys(m.thread for m in matches))
        thread_index = [thread_keys.index(thread_of_colour[e.colour].thread) for e in elements]
        order = sewing_order(elements, thread_index)
        progress(0.15, "stitches")

        fill = FillParams(
            spacing=float(opts["row_spacing"]),
            stitch_length=float(opts["fill_stitch_length"]),
            pull_compensation=float(opts["pull_compensation"]),
            underlay=bool(opts["underlay"]),
            running_length=float(opts["running_length"]),
        )
        fixed_angle = (
            None if opts["fill_direction"] == "shape" else math.radians(float(opts["fill_angle"]))
        )
        blocks, kinds = _sew_in_order(
            elements, order, thread_index, thread_keys, fill, opts, fixed_angle, rules, progress
        )
        blocks = [b for b in blocks if b.polylines]
        if not blocks:
            raise PlanError(
                Text(
                    "Rien à broder : les formes sont trop petites.",
                    "Nothing to embroider: the shapes are too small.",
                )
            )

        # The smallest hoop that holds the stitches (pull compensation and satins included).
        placement = place([p for b in blocks for p in b.polylines], ms.hoops)
        hoop, turned = placement.hoop, placement.turned
        blocks = [
            SewnBlock(b.thread, b.colour_hex, [placement.apply(p) for p in b.polylines])
            for b in blocks
        ]
        if turned:
            warnings.append(
                Text(
                    f"Motif tourné de 90° pour tenir dans le cadre {hoop.name}.",
                    f"Design turned 90° to fit the {hoop.name} hoop.",
                )
            )

        limits = Limits(
            min_stitch=ms.min_stitch_mm,
            max_stitch=min(ms.max_stitch_mm, fmt.max_stitch_mm),
            max_jump=fmt.max_jump_mm,
            jump_threshold=ms.jump_threshold_mm,
            trim_threshold=ms.trim_threshold_mm,
            lock_length=ms.lock_stitch_mm,
            lock=bool(opts["lock_stitches"]),
        )
        progress(0.8, "sequence")
        toolpath = build_toolpath(
            blocks, limits, ms.stitch_rate_spm / 60.0, request.machine.kinematics.travel_feed
        )
        block_threads = [thread_keys[b.thread] for b in blocks]
        pattern = toolpath_pattern(toolpath, block_threads)

        def write(stream) -> None:
            write_pattern(pattern, fmt, stream)

        facts = _facts(
            toolpath, blocks, thread_keys, matches, hoop, turned, fmt.name, ms, kinds, limits
        )
        # Where the drawing went: hoop point = turn(drawing point) + offset.
        facts["design_offset_mm"] = [float(v) for v in placement.offset]
        copies = request.copies
        uses = _material_uses(
            toolpath, blocks, thread_keys, hoop, placement.bounds, request.material, mat, copies
        )
        warnings.extend(_colour_warnings(matches))
        progress(1.0, "done")
        return Plan(
            toolpath=toolpath,
            outputs=(
                OutputFile(
                    fmt.output.suffix,
                    fmt.output.media_type,
                    write,
                    Text(
                        f"Fichier de broderie {fmt.name.upper()}",
                        f"{fmt.name.upper()} embroidery file",
                    ),
                ),
            ),
            material_uses=uses,
            warnings=tuple(warnings),
            copies=copies,
            runs=copies,
            # Hooping the fabric for each copy: hands-on time the toolpath cannot show.
            extra_time_s=copies * ms.hooping_time_s,
            facts=facts,
            preview=Preview(styles=_thread_styles(thread_keys[b.thread] for b in blocks)),
            operations=report(design.paths, chosen),
        )


def _thread_styles(threads: Iterable[Thread]) -> dict[str, RoleStyle]:
    """Each thread's stitches (role: its colour) drawn in its colour, named as the catalogue
    names it."""
    return {
        t.hex: RoleStyle(
            t.hex,
            Text(
                f"Fil {t.catalogue_number} « {t.name} »", f"Thread {t.catalogue_number} '{t.name}'"
            ),
        )
        for t in threads
    }


def _sew_in_order(
    elements: list[Element],
    order: list[int],
    thread_index: list[int],
    thread_keys: list[Thread],
    fill: FillParams,
    opts: Mapping[str, Any],
    fixed_angle: float | None,
    rules: ElementRules,
    progress: Progress,
) -> tuple[list[SewnBlock], dict[str, int]]:
    """Stitch every element in sewing order, each starting near where the last ended.

    Consecutive elements of one thread share a block. Returns the blocks and a
    count of elements per stitch type.
    """
    blocks: list[SewnBlock] = []
    here = np.zeros(2)
    kinds: dict[str, int] = {}
    for n, k in enumerate(order):
        e = elements[k]
        t = thread_index[k]
        if not blocks or blocks[-1].thread != t:
            blocks.append(SewnBlock(t, thread_keys[t].hex))
        polys = [p for p in _stitch_element(e, fill, opts, fixed_angle, here, rules) if len(p)]
        if polys:
            blocks[-1].polylines.extend(polys)
            here = polys[-1][-1]
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        progress(0.15 + 0.6 * (n + 1) / len(order), "stitches")
    return blocks, kinds


def _stitch_element(
    e: Element,
    fill: FillParams,
    opts: Mapping[str, Any],
    fixed_angle: float | None,
    here: np.ndarray,
    rules: ElementRules,
) -> list[np.ndarray]:
    spacing = fill.spacing
    if e.kind == "column":
        # A straight bar: rows straight across; else along its centre line; else a fill.
        col = column_satin(e.shape, fill, spacing / 2, here) if is_bar(e.shape, rules) else None
        if col is None:
            col = shape_satin(
                e.shape,
                spacing,
                fill.pull_compensation,
                rules.satin_max_width,
                fill.underlay,
                fill.running_length,
                here,
            )
        if col is not None:
            return [col]
    if e.kind in ("fill", "column"):
        angle = fixed_angle if fixed_angle is not None else shape_angle(e.shape)
        return fill_polylines(e.shape, angle, fill, here)
    if e.kind == "satin":
        return [
            stroke_satin(
                e.points,
                e.closed,
                e.width,
                spacing,
                fill.pull_compensation,
                fill.underlay,
                fill.running_length,
                here,
            )
        ]
    return [
        running_stitch(
            e.points, e.closed, float(opts["running_length"]), bool(opts["triple_run"]), here
        )
    ]


def _stitch_lengths(tp: Toolpath) -> np.ndarray:
    return np.where(tp.kind == int(MoveKind.STITCH), tp.lengths, 0.0)


def _facts(tp, blocks, thread_keys, matches, hoop, turned, fmt, ms, kinds, limits) -> dict:
    stitch = tp.kind == int(MoveKind.STITCH)
    lengths = tp.lengths
    n_stitches = int(stitch.sum())
    return {
        "format": fmt,
        "hoop": {
            "name": hoop.name,
            "width_mm": hoop.width,
            "height_mm": hoop.height,
            "turned": turned,
        },
        "stitches": n_stitches,
        "jumps": int((tp.kind == int(MoveKind.JUMP)).sum()),
        "trims": len(tp.events_of(EventKind.TRIM)),
        "colour_changes": len(tp.events_of(EventKind.COLOUR_CHANGE)),
        "stitch_rate_time_s": n_stitches / (ms.stitch_rate_spm / 60.0),
        "longest_stitch_mm": float(lengths[stitch].max()) if n_stitches else 0.0,
        "shortest_stitch_mm": float(lengths[stitch].min()) if n_stitches else 0.0,
        "max_stitch_mm": limits.max_stitch,
        "min_stitch_mm": limits.min_stitch,
        "design_size_mm": [float(v) for v in (tp.work_bounds[1] - tp.work_bounds[0])[:2]],
        "elements": kinds,
        "colour_blocks": [
            {
                "thread": thread_keys[b.thread].name,
                "number": thread_keys[b.thread].catalogue_number,
                "brand": thread_keys[b.thread].brand,
                "hex": thread_keys[b.thread].hex,
            }
            for b in blocks
        ],
        "threads": [
            {
                "drawing": "#{:02x}{:02x}{:02x}".format(*m.colour),
                "thread": m.thread.name,
                "number": m.thread.catalogue_number,
                "brand": m.thread.brand,
                "hex": m.thread.hex,
                "delta_e": round(m.delta_e, 2),
            }
            for m in matches
        ],
    }


def _material_uses(tp, blocks, thread_keys, hoop, bounds, material, mat, copies):
    """Thread per colour (stitches and untrimmed jumps × take-up), bobbin, stabiliser."""
    lengths = tp.lengths
    roles = np.asarray(tp.roles)
    sewn = np.where(tp.kind == int(MoveKind.STITCH), lengths, 0.0)
    per_role = np.bincount(tp.role, weights=sewn, minlength=len(roles))
    uses: list[MaterialUse] = []
    total_top = 0.0
    seen: set[int] = set()
    for b in blocks:
        if b.thread in seen:
            continue
        seen.add(b.thread)
        t = thread_keys[b.thread]
        mm = float(per_role[list(roles).index(t.hex)]) if t.hex in roles else 0.0
        metres = mm * mat.take_up_factor / 1000.0 * copies
        total_top += metres
        uses.append(
            MaterialUse(
                material.id,
                metres,
                "m",
                Text(
                    f"Fil {t.brand} {t.catalogue_number} « {t.name} » ({t.hex})",
                    f"{t.brand} thread {t.catalogue_number} '{t.name}' ({t.hex})",
                ),
            )
        )
    uses.append(
        MaterialUse(
            material.id, total_top * mat.bobbin_ratio, "m", Text("Fil de canette", "Bobbin thread")
        )
    )
    margin = 2 * mat.stabiliser_margin_mm
    if mat.stabiliser == "hoop":
        w, h = hoop.width + margin, hoop.height + margin
    else:
        size = bounds[1] - bounds[0]
        w, h = size[0] + margin, size[1] + margin
    uses.append(
        MaterialUse(material.id, w * h / 1e6 * copies, "m2", Text("Stabilisateur", "Stabiliser"))
    )
    return tuple(uses)


def _colour_warnings(matches: list[ThreadMatch]) -> list[Text]:
    far = [m for m in matches if m.delta_e > 10]
    if not far:
        return []
    listing = ", ".join(
        f"#{m.colour[0]:02x}{m.colour[1]:02x}{m.colour[2]:02x} → {m.thread.name}" for m in far
    )
    return [
        Text(
            f"Couleur(s) sans fil proche en stock (écart ΔE > 10) : {listing}. "
            "Vérifiez le rendu ou choisissez une autre couleur.",
            f"Colour(s) with no close thread in stock (ΔE over 10): {listing}. "
            "Check the look or pick another colour.",
        )
    ]


__all__ = ["EmbroideryPlugin"]
