"""True-shape nesting on a grid: parts interlock and small ones go into big holes.

Each part's footprint (its material: outline minus holes, plus engraving and
scores, grown by half the spacing) is drawn on a grid of ``cell`` mm, cells
touched by the footprint counted as taken, so parts never come closer than the
spacing. For each part, in each quarter turn, one FFT correlation of its mask
with the sheet's occupancy (``scipy.signal.fftconvolve``) gives every position
where it fits; the lowest, then leftmost, wins. Copies are identical, so once a
part did not fit a sheet it is not tried there again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from .geometry import even_odd_area, make_lines
from .nesting import Placement, turn
from .parts import Layout

MAX_CELLS = 60_000
"""Cells on a sheet at most: the grid coarsens on big sheets to keep each FFT fast."""


def item_footprints(layout: Layout, spacing: float) -> list[shapely.Geometry]:
    """The material each item takes on the sheet, grown by half the spacing."""
    out = []
    for item in range(layout.items):
        mine = [c for c in layout.contours if c.item == item]
        closed = [c.points for c in mine if c.closed and c.op == "cut"]
        lines = [c.points for c in mine if not (c.closed and c.op == "cut")]
        lines += [np.vstack([c.points, c.points[:1]]) for c in mine if c.closed and c.op == "score"]
        parts = [even_odd_area(closed)] if closed else []
        if lines:
            parts.append(shapely.buffer(shapely.union_all(make_lines(lines)), 0.1))
        parts += [g for g, it in layout.engrave if it == item]
        footprint = shapely.union_all(parts)
        out.append(shapely.buffer(footprint, spacing / 2, join_style="mitre"))
    return out


@dataclass(frozen=True)
class _Mask:
    cells: np.ndarray  # (rows, cols) float32, 1 where taken
    origin: tuple[float, float]  # item coordinates of the mask's lower-left corner


def _mask(footprint: shapely.Geometry, angle: int, cell: float) -> _Mask:
    turned = shapely.transform(footprint, lambda p: turn(p, angle))
    x0, y0, x1, y1 = turned.bounds
    cols = max(1, int(np.ceil((x1 - x0) / cell - 1e-9)))
    rows = max(1, int(np.ceil((y1 - y0) / cell - 1e-9)))
    xs = x0 + cell * np.arange(cols)
    ys = y0 + cell * np.arange(rows)
    gx, gy = np.meshgrid(xs, ys)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell, gy.ravel() + cell)
    shapely.prepare(turned)
    taken = shapely.intersects(turned, boxes).reshape(rows, cols)
    return _Mask(taken.astype(np.float32), (x0, y0))


def pack_shapes(
    footprints: Sequence[shapely.Geometry],
    sequence: Sequence[int],
    usable: tuple[float, float],
    margin: float,
    allow_rotation: bool = True,
) -> list[Placement]:
    """Place items ``sequence`` (item indices, copies repeated) on as few sheets as found.

    Returns placements in the order of ``sequence``. Raises ``ValueError`` when an
    item fits no empty sheet.
    """
    W, H = usable
    cell = max(1.0, float(np.sqrt(W * H / MAX_CELLS)))
    cols, rows = int(W // cell), int(H // cell)
    angles = (0, 90, 180, 270) if allow_rotation else (0,)
    masks = {}
    for item in set(sequence):
        for a in angles:
            masks[item, a] = _mask(footprints[item], a, cell)
    areas = {item: float(masks[item, 0].cells.sum()) for item in set(sequence)}
    order = sorted(range(len(sequence)), key=lambda k: (-areas[sequence[k]], sequence[k], k))
    sheets: list[np.ndarray] = []
    no_room: set[tuple[int, int]] = set()
    result: list[Placement | None] = [None] * len(sequence)
    for k in order:
        item = sequence[k]
        placed = False
        for index in range(len(sheets) + 1):
            if index == len(sheets):
                sheets.append(np.zeros((rows, cols), dtype=np.float32))
            if (item, index) in no_room:
                continue
            best = _best_spot(sheets[index], [(a, masks[item, a]) for a in angles])
            if best is None:
                no_room.add((item, index))
                if index == len(sheets) - 1 and not sheets[index].any():
                    raise ValueError(f"item {item} fits no sheet")
                continue
            angle, r, c = best
            m = masks[item, angle]
            sheets[index][r : r + m.cells.shape[0], c : c + m.cells.shape[1]] += m.cells
            offset = (margin + c * cell - m.origin[0], margin + r * cell - m.origin[1])
            result[k] = Placement(item, index, angle, offset)
            placed = True
            break
        if not placed:  # pragma: no cover - an empty sheet either fits or raises
            raise ValueError(f"item {item} could not be placed")
    return [p for p in result if p is not None]


def _best_spot(
    occupancy: np.ndarray, masks: list[tuple[int, _Mask]]
) -> tuple[int, int, int] | None:
    """``(angle, row, col)`` of the lowest, then leftmost, free spot over all turns."""
    from scipy.signal import fftconvolve  # heavy import, only for true-shape nesting

    best = None
    for angle, m in masks:
        mr, mc = m.cells.shape
        if mr > occupancy.shape[0] or mc > occupancy.shape[1]:
            continue
        if occupancy.any():
            hits = fftconvolve(occupancy, m.cells[::-1, ::-1], mode="valid")
            free = hits < 0.5
        else:
            free = np.ones((occupancy.shape[0] - mr + 1, occupancy.shape[1] - mc + 1), bool)
        rows_free = free.any(axis=1)
        if not rows_free.any():
            continue
        r = int(np.argmax(rows_free))
        c = int(np.argmax(free[r]))
        key = (r + mr, c)
        if best is None or key < best[0]:
            best = (key, angle, r, c)
    return None if best is None else best[1:]
