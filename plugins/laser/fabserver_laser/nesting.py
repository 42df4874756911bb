"""Copies on sheets: a skyline bottom-left packer over bounding boxes, 0° or 90°.

Each item is the bounding box of a part (kerf and spacing included). The
skyline keeps, per sheet, the height of the highest part above every x; an item
goes where its top ends lowest (then leftmost), in whichever of its two
orientations does better. Items go on the first sheet where they fit; a new
sheet is opened when none has room. Hand-written because the well-kept packers
(rectpack) add a dependency for a few dozen lines, and this one is easy to test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUARTER_TURNS = {
    0: np.array([[1.0, 0.0], [0.0, 1.0]]),
    90: np.array([[0.0, -1.0], [1.0, 0.0]]),
    180: np.array([[-1.0, 0.0], [0.0, -1.0]]),
    270: np.array([[0.0, 1.0], [-1.0, 0.0]]),
}


def turn(points: np.ndarray, angle: int) -> np.ndarray:
    """``(n, 2)`` points turned anticlockwise by ``angle`` (0, 90, 180 or 270) degrees."""
    return np.asarray(points, dtype=float) @ QUARTER_TURNS[angle % 360].T


@dataclass(frozen=True)
class Placement:
    """Where one item goes.

    A point ``p`` of the item is placed at ``turn(p, angle) + offset``, with
    ``angle`` a multiple of 90 degrees, anticlockwise.
    """

    item: int
    sheet: int
    angle: int
    offset: tuple[float, float]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """``(n, 2)`` points of the item → sheet coordinates, millimetres."""
        return turn(points, self.angle) + np.asarray(self.offset)


class _Skyline:
    """Heights of the packed parts along x, as ``[x, width, y]`` segments."""

    def __init__(self, width: float, height: float):
        self.width = width
        self.height = height
        self.segments: list[list[float]] = [[0.0, width, 0.0]]

    def fit(self, w: float, h: float) -> tuple[float, float, int] | None:
        """Best ``(top, x, index)`` for a ``w × h`` box, or ``None``."""
        best = None
        segs = self.segments
        for i, (x, _, _) in enumerate(segs):
            if x + w > self.width + 1e-9:
                break
            y, reach, j = 0.0, x, i
            while reach < x + w - 1e-9:
                y = max(y, segs[j][2])
                reach = segs[j][0] + segs[j][1]
                j += 1
            if y + h > self.height + 1e-9:
                continue
            if best is None or (y + h, x) < (best[0], best[1]):
                best = (y + h, x, i)
        return best

    def place(self, x: float, w: float, top: float) -> None:
        """Raise the skyline to ``top`` over ``[x, x + w]``."""
        new: list[list[float]] = []
        end = x + w
        for sx, sw, sy in self.segments:
            s_end = sx + sw
            if s_end <= x + 1e-9 or sx >= end - 1e-9:
                new.append([sx, sw, sy])
                continue
            if sx < x:
                new.append([sx, x - sx, sy])
            if s_end > end:
                new.append([end, s_end - end, sy])
        new.append([x, w, top])
        new.sort(key=lambda s: s[0])
        merged = [new[0]]
        for seg in new[1:]:
            last = merged[-1]
            if abs(last[2] - seg[2]) < 1e-9:
                last[1] = seg[0] + seg[1] - last[0]
            else:
                merged.append(seg)
        self.segments = merged


def fits(size: np.ndarray, usable: tuple[float, float]) -> bool:
    """Whether a ``(w, h)`` box fits ``usable`` in one of its two orientations."""
    w, h = float(size[0]), float(size[1])
    W, H = usable
    return (w <= W + 1e-9 and h <= H + 1e-9) or (h <= W + 1e-9 and w <= H + 1e-9)


def pack(
    sizes: Sequence[tuple[float, float]],
    usable: tuple[float, float],
    spacing: float = 0.0,
    allow_rotation: bool = True,
) -> list[tuple[int, bool, float, float]]:
    """Pack ``(w, h)`` boxes on as few ``usable`` sheets as the heuristic finds.

    Returns, per item in input order, ``(sheet, rotated, x, y)``: the lower-left
    corner of its box (rotated if ``rotated``) on the sheet. ``spacing`` is kept
    between boxes, not along the edges. Raises ``ValueError`` for an item that
    fits no sheet.
    """
    W, H = usable
    sheets: list[_Skyline] = []
    result: list[tuple[int, bool, float, float]] = [(0, False, 0.0, 0.0)] * len(sizes)
    arr = np.asarray(sizes, dtype=float).reshape(-1, 2)
    # Big items first (by area, then longest side): small ones fill the gaps.
    order = np.lexsort((-arr.max(axis=1), -arr.prod(axis=1)))
    for k in order:
        w, h = arr[k]
        if not fits(arr[k], usable):
            raise ValueError(f"item {k} ({w:.1f} x {h:.1f}) fits no sheet {W:.1f} x {H:.1f}")
        options = [(False, w, h)]
        if allow_rotation and abs(w - h) > 1e-9:
            options.append((True, h, w))
        placed = False
        for index, sky in enumerate([*sheets, None]):
            if sky is None:
                sky = _Skyline(W + spacing, H + spacing)
                sheets.append(sky)
            best = None
            for rotated, bw, bh in options:
                found = sky.fit(bw + spacing, bh + spacing)
                if found and (best is None or found[:2] < best[0][:2]):
                    best = (found, rotated, bw, bh)
            if best is None:
                continue
            (top, x, _), rotated, bw, bh = best
            sky.place(x, bw + spacing, top)
            result[k] = (index, rotated, x, top - bh - spacing)
            placed = True
            break
        if not placed:  # pragma: no cover - a fresh sheet always fits a checked item
            raise ValueError(f"item {k} could not be placed")
    return result
