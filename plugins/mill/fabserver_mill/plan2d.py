"""2.5D work from a drawing: operations → cuts, with what the tool cannot reach.

The stock's top is z = 0 and its lower-left corner x = y = 0; the drawing is
placed ``margin`` mm inside the stock, copies side by side in a grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from fabserver.designs.types import Drawing
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import Found, report, resolve
from fabserver.plugin import Plan
from fabserver.toolpath import MoveKind

from . import messages, offsets
from .assemble import Cut, Tabs
from .limits import check_height, too_big
from .outputs import WORK_KINDS, MillJob, tools_facts
from .passes import step_levels, tab_spans
from .preview import mill_preview
from .regions import assign, operation_map
from .settings import OPERATIONS, MachineSettings, MaterialSettings, Tool


@dataclass(frozen=True)
class JobOptions2D:
    operation_map: str = ""
    unassigned: str = "auto"
    tool: str = ""
    engrave_tool: str = ""
    cut_depth: float = 0.0
    pocket_depth: float = 0.0
    engrave_depth: float = 0.0
    tabs: int = 4
    tab_width: float = 4.0
    tab_height: float = 1.0
    climb: bool = True
    ramp_angle: float = 5.0  # degrees, 0 = plunge

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> JobOptions2D:
        """From the resolved job options (names as declared by the plugin)."""
        ramp = options.get("entry", "ramp") == "ramp"
        return cls(
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
            ramp_angle=options.get("ramp_angle", 5.0) if ramp else 0.0,
        )


@dataclass
class TooSmall:
    """Area of one operation the tool cannot reach, in design coordinates."""

    operation: str
    tool_id: str
    geometry: object  # shapely (Multi)Polygon, everything
    reported: list[Polygon]  # the pieces worth listing


@dataclass
class Work2D:
    """Cuts of one copy (design placed in its stock), and facts about them."""

    cuts: list[Cut]
    too_small: list[TooSmall]
    warnings: list[Text]
    depths: dict[str, float]
    tools: list[str]
    stock_size: tuple[float, float, float]
    offset: np.ndarray  # design → stock coordinates
    engrave_width: float | None = None  # mm, groove width at the engraving depth
    operations: tuple[Found, ...] = ()  # what the maps found in the drawing


def resolve_tool(name: str, tools: dict[str, Tool], what: Text) -> str:
    if name not in tools:
        raise PlanError(messages.unknown_tool(name, what, tools))
    return name


def operation_depth(
    op: str,
    rule_depth: float | None,
    opts: JobOptions2D,
    ms: MachineSettings,
    thickness: float,
) -> float:
    """Depth of an operation: the map's, else the job option's, else the profile's; 0 = through."""
    option = {
        "outside": opts.cut_depth,
        "inside": opts.cut_depth,
        "pocket": opts.pocket_depth,
        "engrave": opts.engrave_depth,
    }[op]
    depth = rule_depth or option or ms.operations[op].depth
    through = thickness + ms.breakthrough
    if depth <= 0:
        return through
    return min(depth, through)


def plan_drawing(
    drawing: Drawing,
    ms: MachineSettings,
    mat: MaterialSettings,
    opts: JobOptions2D,
    margin: float,
) -> Work2D:
    rules = resolve(drawing.paths, operation_map(ms.colour_map, ms.layer_map, opts.operation_map))
    groups = assign(drawing, rules, opts.unassigned)
    groups = [g for g in groups if g.areas or g.lines]
    if not groups:
        raise PlanError(messages.nothing_to_mill(report(drawing.paths, rules)))
    groups.sort(key=lambda g: OPERATIONS.index(g.operation))
    warnings: list[Text] = []
    tools_used: dict[str, None] = {}
    cut_tools = {}
    for op in OPERATIONS:
        override = opts.engrave_tool if op == "engrave" else opts.tool
        cut_tools[op] = resolve_tool(
            override or ms.operations[op].tool, ms.tools, messages.OPERATION_NAMES[op]
        )
    for op, tool_id in cut_tools.items():
        if any(g.operation == op for g in groups) and tool_id not in mat.cutting:
            raise PlanError(messages.no_cutting_data(tool_id))
    biggest = max(ms.tools[cut_tools[g.operation]].diameter for g in groups)
    margin = max(margin, biggest + 1.0)
    lo, hi = drawing.bounds
    offset = margin - lo
    size = hi - lo
    stock = (float(size[0] + 2 * margin), float(size[1] + 2 * margin), mat.thickness)

    cuts: list[Cut] = []
    too_small: list[TooSmall] = []
    engrave_width = None
    depths: dict[str, float] = {}
    group_id = 0
    for g in groups:
        tool_id = cut_tools[g.operation]
        tool = ms.tools[tool_id]
        data = mat.cutting[tool_id]
        depth = operation_depth(g.operation, g.depth, opts, ms, mat.thickness)
        depths[g.operation] = max(depths.get(g.operation, 0.0), depth)
        if depth > tool.flute_length:
            raise PlanError(
                messages.too_deep_for_tool(g.operation, depth, tool_id, tool.flute_length)
            )
        if tool.shape == "vbit" and g.operation != "engrave":
            raise PlanError(messages.VBIT_ONLY_ENGRAVES)
        tools_used[tool_id] = None
        if g.operation == "engrave":
            engrave_width = max(engrave_width or 0.0, tool.width_at(depth))
        levels = step_levels(0.0, -depth, data.step_down)
        r = tool.radius
        shift = lambda geom: shapely.transform(geom, lambda p: p + offset)  # noqa: E731
        common = dict(tool=tool_id, ramp_angle=opts.ramp_angle, stage=OPERATIONS.index(g.operation))
        for line, closed in zip(g.lines, g.closed_lines, strict=True):
            work = MoveKind.ENGRAVE if g.operation == "engrave" else MoveKind.CUT
            role = "engrave" if g.operation == "engrave" else "profile"
            cuts.append(Cut(line + offset, closed, 0.0, levels, role, work=work, **common))
        if g.lines and g.operation != "engrave":
            warnings.append(messages.open_paths(len(g.lines), g.operation))
        for area in g.areas:
            placed = shift(area)
            if g.operation == "outside":
                unreachable = offsets.unreachable(placed, r, outward=True)
                span = opts.tab_width + tool.diameter
                tab_top = -depth + opts.tab_height
                for ring in offsets.outside_rings(placed, r, opts.climb):
                    tabs = None
                    if opts.tabs > 0 and opts.tab_height > 0 and tab_top < 0:
                        length = float(
                            np.linalg.norm(
                                np.diff(np.vstack([ring, ring[:1]]), axis=0), axis=1
                            ).sum()
                        )
                        starts = tab_spans(length, opts.tabs, span)
                        if len(starts):
                            tabs = Tabs(starts, span, tab_top)
                    cuts.append(Cut(ring, True, 0.0, levels, "profile", tabs=tabs, **common))
            elif g.operation == "inside":
                unreachable = offsets.unreachable(placed, r)
                rings = offsets.inside_rings(placed, r, opts.climb)
                for ring in rings:
                    entry = {**common, "ramp_angle": ramp_on(ring, tool, opts.ramp_angle)}
                    cuts.append(Cut(ring, True, 0.0, levels, "profile", **entry))
            else:  # pocket
                unreachable = offsets.unreachable(placed, r)
                rings = offsets.pocket_rings(placed, r, data.step_over * tool.diameter, opts.climb)
                link_area = placed.buffer(-r + 1e-6, quad_segs=offsets.quad_segs(r))
                shapely.prepare(link_area)
                z_top = 0.0
                for z in levels:
                    for ring in rings:
                        entry = {**common, "ramp_angle": ramp_on(ring, tool, opts.ramp_angle)}
                        cuts.append(
                            Cut(
                                ring,
                                True,
                                z_top,
                                np.array([z]),
                                "pocket",
                                link_group=group_id,
                                link_area=link_area,
                                **entry,
                            )
                        )
                    z_top = float(z)
                group_id += 1
            reported = offsets.significant(unreachable, r)
            if not unreachable.is_empty:
                too_small.append(TooSmall(g.operation, tool_id, unreachable, reported))
    return Work2D(
        cuts=cuts,
        too_small=too_small,
        warnings=warnings,
        depths=depths,
        tools=list(tools_used),
        stock_size=stock,
        offset=offset,
        engrave_width=engrave_width,
        operations=report(drawing.paths, rules),
    )


def ramp_on(ring: np.ndarray, tool: Tool, angle: float) -> float:
    """Ramp angle for a ring; 0 (plunge) when the ring is shorter than the tool's diameter.

    Around such a ring the helix would be narrower than the tool's own centre:
    the cutter bores the hole like a drill whatever the path, so a plunge is
    shorter and honest about it.
    """
    length = float(np.linalg.norm(np.diff(np.vstack([ring, ring[:1]]), axis=0), axis=1).sum())
    return 0.0 if length < tool.diameter else angle


def too_small_messages(items: list[TooSmall], offset: np.ndarray) -> list[Text]:
    """One line per operation and tool, with where the pieces are in the design's coordinates."""
    out = []
    for item in items:
        if item.reported:
            centres = [(p.centroid.x - offset[0], p.centroid.y - offset[1]) for p in item.reported]
            area = sum(p.area for p in item.reported)
            out.append(
                messages.too_small_2d(
                    item.operation, len(item.reported), item.tool_id, area, centres
                )
            )
    return out


def tab_centres(cuts: list[Cut]) -> np.ndarray:
    """``(k, 2)`` middle of every tab span along its ring, for the preview."""
    points = []
    for cut in cuts:
        ring = np.vstack([cut.path, cut.path[:1]])
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ring, axis=0), axis=1))])
        at = cut.tabs.starts + cut.tabs.span / 2
        points.append(np.column_stack([np.interp(at, s, ring[:, 0]), np.interp(at, s, ring[:, 1])]))
    return np.vstack(points) if points else np.zeros((0, 2))


def quarter_turn(drawing: Drawing) -> Drawing:
    """The drawing turned 90° anticlockwise: (x, y) → (-y, x)."""
    return replace(
        drawing,
        paths=tuple(p.with_points(p.points[:, ::-1] * [-1.0, 1.0]) for p in drawing.paths),
    )


def plan_drawing_job(design: Drawing, job: MillJob) -> Plan:
    """The 2.5D job: cuts of one copy, copies side by side on the block, files and facts."""
    request, ms, mat = job.request, job.ms, job.mat
    machine, options, progress = request.machine, request.options, request.progress
    opts = JobOptions2D.from_options(options)
    progress(0.05, "operations")
    margin = options.get("stock_margin", 5.0)
    work = plan_drawing(design, ms, mat, opts, margin)
    sx, sy, thickness = work.stock_size
    area_x, area_y = machine.work_area.x, machine.work_area.y
    turned = (sx > area_x or sy > area_y) and sy <= area_x and sx <= area_y
    if turned:  # it only fits a quarter turn round: turn the drawing
        design = quarter_turn(design)
        work = plan_drawing(design, ms, mat, opts, margin)
        sx, sy, thickness = work.stock_size
    check_height(machine, ms, thickness)
    copies = int(options.get("copies", 1))
    per_x = int(area_x // sx)
    per_y = int(area_y // sy)
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
    assembly, tp = job.toolpath(cuts, per_x * sx, per_y * sy)
    progress(0.8, "outputs")
    volume_cm3 = sx * sy * thickness / 1000.0
    warnings = [*work.warnings, *too_small_messages(work.too_small, work.offset)]
    if runs > 1:
        warnings.append(messages.runs(per_run, runs, copies))
    if turned:
        warnings.append(messages.TURNED)
    unreachable = []
    for dx, dy in shifts:
        unreachable.extend(
            shapely.transform(t.geometry, lambda p, d=(dx, dy): p + d) for t in work.too_small
        )
    facts = {
        "mode": "2.5D",
        "turned": turned,
        "operations": {op: round(d, 3) for op, d in work.depths.items()},
        "engrave_width_mm": None if work.engrave_width is None else round(work.engrave_width, 3),
        "tools": tools_facts(assembly),
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
    used = (min(in_run, per_x) * sx, math.ceil(in_run / per_x) * sy)
    tabs = tab_centres([c for c in cuts if c.tabs is not None])
    preview = mill_preview(used, unreachable, tabs=tabs, tab_size=opts.tab_width)
    stock = (*used, thickness)
    volume = volume_cm3 * copies
    return job.plan(
        tp, assembly, runs, volume, warnings, facts, preview, "2.5D", stock, work.operations
    )
