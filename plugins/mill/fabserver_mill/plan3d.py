"""3D work from a mesh: orientation, placement in a stock block, roughing and finishing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from fabserver.designs.indexed import IndexedMesh
from fabserver.designs.types import Mesh
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.plugin import Plan

from . import messages
from .assemble import Cut
from .limits import check_height, too_big
from .outputs import WORK_KINDS, MillJob, tools_facts
from .preview import relief_preview
from .strategies3d import (
    choose_up,
    finishing_path,
    finishing_tips,
    mask_regions,
    place,
    roughing_cuts,
    transform_points,
    unreached,
    up_rotation,
)

STOCK_TOP = 1.0
"""mm of stock above the part's highest point, so the first pass cleans the block's top."""

MAX_DRAWN_CELLS = 200_000
"""Unreached areas with more grid cells than this are listed but not drawn."""


MAX_GRID_NODES = 8_000_000
"""Height-map nodes a job may use (~64 MB per map): beyond, the grid gets coarser."""


def coarsest_needed(sx: float, sy: float, res: float) -> float:
    """``res``, or the finest step (0.01 mm multiples) keeping the grid under the node cap."""

    def nodes(step: float) -> float:
        return (sx / step + 1) * (sy / step + 1)

    if nodes(res) <= MAX_GRID_NODES:
        return res
    step = math.ceil(math.sqrt(sx * sy / MAX_GRID_NODES) * 100) / 100  # a lower bound
    while nodes(step) > MAX_GRID_NODES:
        step = round(step + 0.01, 2)
    return step


def oriented(mesh: IndexedMesh, orientation: str) -> tuple[str, np.ndarray]:
    """Triangles ``(n, 3, 3)`` turned so the side to machine faces +Z, and that side's name."""
    if orientation == "auto":
        name, matrix = choose_up(mesh)
    else:
        name, matrix = "+z", up_rotation((0.0, 0.0, 1.0))
    tri = transform_points(mesh.triangles.reshape(-1, 3), matrix).reshape(-1, 3, 3)
    return name, tri


def fit_in_xy(
    triangles: np.ndarray, margin: float, area_x: float, area_y: float
) -> tuple[np.ndarray, bool]:
    """Turn the part a quarter turn about Z when that is the only way it fits."""
    size = np.ptp(triangles.reshape(-1, 3), axis=0)
    fits = size[0] + 2 * margin <= area_x and size[1] + 2 * margin <= area_y
    turned = size[1] + 2 * margin <= area_x and size[0] + 2 * margin <= area_y
    if fits or not turned:
        return triangles, False
    return np.stack([-triangles[..., 1], triangles[..., 0], triangles[..., 2]], axis=-1), True


def _cells_polygon(mask: np.ndarray, grid) -> object:
    """Union of the squares around masked nodes (for the preview)."""
    jj, ii = np.nonzero(mask)
    if len(ii) == 0 or len(ii) > MAX_DRAWN_CELLS:
        return shapely.Polygon()
    half = grid.res / 2
    x = grid.x0 + ii * grid.res
    y = grid.y0 + jj * grid.res
    return shapely.coverage_union_all(shapely.box(x - half, y - half, x + half, y + half))


def plan_mesh(design: Mesh, job: MillJob) -> Plan:
    """The 3D job: a height map of the part, roughing and finishing, files and facts."""
    request, ms, mat = job.request, job.ms, job.mat
    machine, options, progress = request.machine, request.options, request.progress
    strategy = options.get("strategy", "rough+finish")
    res = float(options.get("resolution", 0.2))
    margin = float(options.get("stock_margin", 5.0))
    allowance = float(options.get("allowance", 0.3)) if "rough" in strategy else 0.0
    ramp = float(options.get("ramp_angle", 5.0)) if options.get("entry", "ramp") == "ramp" else 0.0
    rough_id, finish_id = ms.rough_tool, ms.finish_tool
    for tool_id in (rough_id, finish_id):
        if tool_id not in mat.cutting:
            raise PlanError(messages.no_cutting_data(tool_id))
    rough_tool, finish_tool = ms.tools[rough_id], ms.tools[finish_id]
    margin = max(margin, rough_tool.diameter, finish_tool.diameter)

    # A part taller than the tools reach on every side it could lie on is refused
    # before the orientation is chosen (six height maps: seconds on a large mesh).
    lo, hi = design.mesh.bounds
    lowest = float(
        (hi - lo).min() if options.get("orientation", "auto") == "auto" else hi[2] - lo[2]
    )
    for tool_id, tool in ((rough_id, rough_tool), (finish_id, finish_tool)):
        if STOCK_TOP + lowest > tool.flute_length:
            raise PlanError(messages.part_too_tall_for_tool(lowest, tool_id, tool.flute_length))
    # So is a part whose stock (its extent and the margins, turned a quarter if need be)
    # fits the bed on none of those sides: the turns are exact, so the extents are the
    # bounds' own. The message gives the stock of the part lying flat.
    size = hi - lo
    flat = sorted(np.argsort(size, kind="stable")[1:].tolist())  # all but the thinnest
    sides = ((0, 1), (0, 2), (1, 2)) if options.get("orientation", "auto") == "auto" else ((0, 1),)
    sides = sorted(sides, key=lambda side: list(side) != flat)  # the flat one first
    stocks = [(float(size[i]) + 2 * margin, float(size[j]) + 2 * margin) for i, j in sides]
    area_x, area_y = machine.work_area.x, machine.work_area.y
    if not any((a <= area_x and b <= area_y) or (b <= area_x and a <= area_y) for a, b in stocks):
        raise too_big(*stocks[0], machine)

    warnings_before: list[Text] = []
    progress(0.05, "orientation")
    up, triangles = oriented(design.mesh, options.get("orientation", "auto"))
    triangles, turned = fit_in_xy(triangles, margin, machine.work_area.x, machine.work_area.y)
    height = float(np.ptp(triangles[..., 2]))
    bottom = min(margin, 5.0)
    extent = np.ptp(triangles.reshape(-1, 3)[:, :2], axis=0) + 2 * margin
    coarser = coarsest_needed(float(extent[0]), float(extent[1]), res)
    if coarser > res:
        warnings_before.append(messages.resolution_raised(res, coarser))
        res = coarser
    # The tools' reach needs only the height: a part too tall is refused before the
    # height map (seconds on a large mesh) is computed.
    depth = STOCK_TOP + height
    for tool_id, tool in ((rough_id, rough_tool), (finish_id, finish_tool)):
        if depth > tool.flute_length:
            raise PlanError(messages.part_too_tall_for_tool(height, tool_id, tool.flute_length))
    progress(0.15, "height map")
    relief = place(triangles, margin, STOCK_TOP, bottom, res)
    sx, sy, sz = relief.stock
    if sx > machine.work_area.x or sy > machine.work_area.y:
        raise too_big(sx, sy, machine)
    check_height(machine, ms, sz)

    cuts: list[Cut] = []
    warnings: list[Text] = [*warnings_before, *([messages.TURNED] if turned else [])]
    facts: dict[str, Any] = {"mode": "3D", "up": up, "turned": turned, "resolution_mm": res}
    if "rough" in strategy:
        progress(0.3, "roughing")
        data = mat.cutting[rough_id]
        rough = roughing_cuts(
            relief, rough_id, rough_tool, data.step_down, data.step_over, allowance, ramp
        )
        cuts.extend(rough)
        facts["rough_levels"] = len({float(c.levels[0]) for c in rough})
    tips = finishing_tips(relief, finish_tool)
    if "finish" in strategy:
        progress(0.55, "finishing")
        data = mat.cutting[finish_id]
        path = finishing_path(relief, tips, finish_tool, data.step_over)
        z_top = 0.0 if strategy == "finish" else float(path[0, 2]) + allowance
        cuts.append(
            Cut(path, False, max(z_top, float(path[0, 2])), path[:1, 2], "finish", finish_id)
        )
        if strategy == "finish" and depth > data.step_down:
            warnings.append(messages.finish_only(depth))
    progress(0.75, "toolpath")
    assembly, tp = job.toolpath(cuts, sx, sy)

    missed, surface = unreached(relief, tips, finish_tool)
    count, area, centres = mask_regions(missed, relief.grid)
    if count:
        warnings.append(messages.too_small_3d(count, finish_id, area, centres))
    copies = int(options.get("copies", 1))
    volume_cm3 = sx * sy * sz / 1000.0
    facts.update(
        {
            "stock_mm": [round(float(v), 2) for v in (sx, sy, sz)],
            "stock_cm3_per_copy": round(float(volume_cm3), 3),
            "grid": [relief.grid.nx, relief.grid.ny],
            "tools": tools_facts(assembly),
            "too_small": [{"tool": finish_id, "area_mm2": round(area, 2), "count": count}]
            if count
            else [],
            "cut_length_m": round(tp.length_of(*WORK_KINDS) / 1000.0, 3),
        }
    )
    if "finish" not in strategy:  # what roughing leaves: the part grown by the allowance
        surface = np.maximum(surface, relief.heights + allowance)
    preview = relief_preview(
        surface, relief.grid.res, (sx, sy), [_cells_polygon(missed, relief.grid)]
    )
    # One block per copy: the program runs once for each.
    return job.plan(
        tp, assembly, copies, volume_cm3 * copies, warnings, facts, preview, "3D", (sx, sy, sz)
    )
