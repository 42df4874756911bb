"""Placing the design on the roll: mirror, quarter turn, copies side by side.

Everything here is in the plotter frame, millimetres. The roll runs along one
plotter axis (``feed_axis``, from the machine profile) and its usable width
lies along the other, starting at the origin. Copies are tiled across the roll
first, then row after row along it, ``spacing`` mm apart and ``spacing`` mm
from the origin both ways (so the blade never swings past the origin), turned a
quarter turn when that uses less roll:

    across = floor(width / (footprint_across + spacing))
    rows = ceil(copies / across)
    roll length = rows × footprint_along + (rows + 1) × spacing
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fabserver.designs import DrawingPath


@dataclass(frozen=True)
class Roll:
    """The part of the roll the cutter can reach (millimetres)."""

    width: float  # usable width across the roll, from the origin
    max_length: float  # longest run the cutter tracks along the roll without skewing
    feed_axis: int  # plotter axis along the roll: 0 for x, 1 for y

    @property
    def across_axis(self) -> int:
        return 1 - self.feed_axis


@dataclass(frozen=True)
class Tiling:
    """Where the copies go: ``offsets`` (copies, 2) float are their footprints' low corners."""

    across: int  # copies side by side across the roll
    rows: int  # rows of copies along the roll
    length: float  # roll used, millimetres along the roll
    offsets: np.ndarray


def bounds(paths: Sequence[DrawingPath]) -> np.ndarray:
    """``(2, 2) float``: low and high corners of all points, millimetres."""
    pts = np.vstack([p.points for p in paths])
    return np.array([pts.min(axis=0), pts.max(axis=0)])


def mirrored(paths: Sequence[DrawingPath]) -> list[DrawingPath]:
    """Left-right mirror image, in place (heat-transfer vinyl is cut from the back)."""
    (x0, _), (x1, _) = bounds(paths)
    flip = np.array([-1.0, 1.0])
    shift = np.array([x0 + x1, 0.0])
    return [p.with_points(p.points * flip + shift) for p in paths]


def quarter_turned(paths: Sequence[DrawingPath]) -> list[DrawingPath]:
    """Turned a quarter turn anticlockwise: (x, y) → (−y, x)."""
    return [p.with_points(p.points[:, ::-1] * np.array([-1.0, 1.0])) for p in paths]


def arrange(
    size: np.ndarray, copies: int, roll: Roll, spacing: float
) -> tuple[bool, Tiling] | None:
    """Whether to turn the design a quarter turn, and the tiling, using the least roll.

    size : (2,) float, footprint of one copy as drawn, plotter x and y.
    Returns ``None`` when the footprint fits across the roll neither way. A
    vinyl sticker has no right way up on the roll, so it is turned whenever that
    saves vinyl (a banner cut along the roll rather than across it).
    """
    best = None
    for turned, footprint in ((False, size), (True, size[::-1])):
        if footprint[roll.across_axis] + spacing <= roll.width:
            tiling = tile(footprint, copies, roll, spacing)
            if best is None or tiling.length < best[1].length:
                best = (turned, tiling)
    return best


def most_copies(size: np.ndarray, roll: Roll, spacing: float) -> int:
    """The most copies one run along the roll (``roll.max_length``) holds, either way round."""
    most = 0
    for footprint in (size, size[::-1]):
        if footprint[roll.across_axis] + spacing <= roll.width:
            across = math.floor(roll.width / (footprint[roll.across_axis] + spacing))
            rows = math.floor((roll.max_length - spacing) / (footprint[roll.feed_axis] + spacing))
            most = max(most, across * max(rows, 0))
    return most


def tile(size: np.ndarray, copies: int, roll: Roll, spacing: float) -> Tiling:
    """Tile ``copies`` footprints of ``size`` (2,) across the roll, then along it.

    The caller has checked that one footprint fits across the roll.
    """
    a, f = roll.across_axis, roll.feed_axis
    across = max(1, min(copies, math.floor(roll.width / (size[a] + spacing))))
    rows = math.ceil(copies / across)
    index = np.arange(copies)
    offsets = np.zeros((copies, 2))
    offsets[:, a] = spacing + (index % across) * (size[a] + spacing)
    offsets[:, f] = spacing + (index // across) * (size[f] + spacing)
    length = rows * size[f] + (rows + 1) * spacing
    return Tiling(across=across, rows=rows, length=float(length), offsets=offsets)
