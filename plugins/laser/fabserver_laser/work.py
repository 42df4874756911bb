"""The toolpath of the sheets: engrave, then score, then cut, sheet after sheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fabserver.toolpath import EventKind, MoveKind, Toolpath, ToolpathBuilder

from .geometry import containers, containment, make_lines, ring_polygons
from .ordering import Ordered, order_contours
from .parts import Contour
from .raster import RasterMoves, raster_moves, scan_segments
from .settings import MaterialSettings
from .sheets import Sheet

ROLE_TRAVEL = "travel"
ROLE_OVERSCAN = "overscan"  # beam off at engraving speed (G1 S0)


@dataclass
class SheetWork:
    """The ordered work of one sheet (kept for the SVG and the facts)."""

    sheet: Sheet
    scores: list[Ordered]
    cuts: list[Ordered]
    raster: RasterMoves
    raster_lines: int


def plan_sheet_work(
    sheet: Sheet,
    material: MaterialSettings,
    overscan: float,
    x_limits: tuple[float, float],
    start: tuple[float, float] = (0.0, 0.0),
) -> SheetWork:
    """Order one sheet's work: raster first, scores next, cuts last (holes first)."""
    y, x = scan_segments(sheet.engrave, material.engrave.line_interval)
    raster = raster_moves(y, x, overscan, x_limits)
    here = tuple(raster.points[-1]) if len(raster.points) else start

    def ordered(op: str, here: tuple[float, float], with_parents: bool) -> list[Ordered]:
        idx = [k for k, c in enumerate(sheet.contours) if c.op == op]
        if not idx:
            return []
        contours = [sheet.contours[k] for k in idx]
        parent = sheet_parents(contours) if with_parents else np.full(len(idx), -1)
        result = order_contours(
            [c.points for c in contours], [c.closed for c in contours], parent, here
        )
        return [Ordered(idx[o.index], o.points) for o in result]

    scores = ordered("score", here, with_parents=False)
    if scores:
        here = tuple(scores[-1].points[-1])
    cuts = ordered("cut", here, with_parents=True)
    return SheetWork(sheet, scores, cuts, raster, len(np.unique(y)))


def sheet_parents(contours: Sequence[Contour]) -> np.ndarray:
    """For each contour, the innermost closed contour of the sheet around it (``-1``).

    Computed on the placed geometry, not per part: a small part nested inside a
    big part's hole must be cut before that hole drops out with it.
    """
    closed = [k for k, c in enumerate(contours) if c.closed]
    opened = [k for k, c in enumerate(contours) if not c.closed]
    parent = np.full(len(contours), -1, dtype=int)
    if not closed:
        return parent
    polys = ring_polygons([contours[k].points for k in closed])
    depth, ring_parent = containment(polys)
    closed_idx = np.asarray(closed)
    has = ring_parent >= 0
    parent[closed_idx[has]] = closed_idx[ring_parent[has]]
    if opened:
        around = containers(make_lines([contours[k].points for k in opened]), polys, depth)
        inside = around >= 0
        parent[np.asarray(opened)[inside]] = closed_idx[around[inside]]
    return parent


def build_toolpath(
    works: Sequence[SheetWork], material: MaterialSettings, travel_feed: float
) -> Toolpath:
    """All sheets in one toolpath: layer = sheet, a pause to change sheets between."""
    b = ToolpathBuilder()
    engrave, score, cut = material.engrave, material.score, material.cut
    for work in works:
        if work.sheet.index > 0:
            b.event(EventKind.PAUSE, note=f"sheet {work.sheet.index + 1}")
        b.new_layer(0.0, work.sheet.index)
        r = work.raster
        if len(r.points):
            raster = _raster_toolpath(r, engrave, travel_feed, work.sheet.index)
            for _ in range(engrave.passes):
                b.extend(raster)
        for ordered in work.scores:
            _vector(
                b,
                ordered,
                work.sheet,
                score.speed,
                score.power,
                score.passes,
                "score",
                MoveKind.ENGRAVE,
                travel_feed,
                pierce=False,
            )
        for ordered in work.cuts:
            _vector(
                b,
                ordered,
                work.sheet,
                cut.speed,
                cut.power,
                cut.passes,
                "cut",
                MoveKind.CUT,
                travel_feed,
                pierce=True,
            )
    return b.build()


def _raster_toolpath(r: RasterMoves, engrave, travel_feed: float, layer: int) -> Toolpath:
    """The raster moves as one toolpath, built from arrays (no call per stroke)."""
    n = len(r.points)
    beam = r.kind == RasterMoves.ENGRAVE
    kind = np.where(beam, int(MoveKind.ENGRAVE), int(MoveKind.TRAVEL)).astype(np.uint8)
    feed = np.where(r.kind == RasterMoves.TRAVEL, travel_feed, engrave.speed)
    roles = (ROLE_TRAVEL, ROLE_OVERSCAN, "engrave")  # indexed by RasterMoves kinds
    return Toolpath(
        xyz=np.column_stack([r.points, np.zeros(n)]),
        kind=kind,
        feed=feed.astype(float),
        e=np.zeros(n),
        power=np.where(beam, engrave.power / 100.0, 0.0),
        layer=np.full(n, layer, dtype=np.int32),
        role=r.kind.astype(np.uint8),
        roles=roles,
    )


def _vector(
    b: ToolpathBuilder,
    ordered: Ordered,
    sheet: Sheet,
    speed: float,
    power: float,
    passes: int,
    role: str,
    kind: MoveKind,
    travel_feed: float,
    pierce: bool,
) -> None:
    """One contour, ``passes`` times without lifting the beam (open ones go back and forth)."""
    pts = ordered.points
    b.move_to(float(pts[0, 0]), float(pts[0, 1]), 0.0, feed=travel_feed, role=ROLE_TRAVEL)
    if pierce:
        b.event(EventKind.PIERCE)
    closed = sheet.contours[ordered.index].closed
    path = pts[1:]
    for p in range(passes):
        if not closed and p % 2 == 1:
            path = pts[::-1][1:]
        elif not closed:
            path = pts[1:]
        b.add_path(path, kind, speed, role=role, power=power / 100.0, z=0.0)
