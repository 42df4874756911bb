"""Weeding aids: extra cuts in the waste vinyl that make it easier to peel off.

A *border* is a rectangle around the design, ``margin`` mm away: the copy comes
off the roll as a neat piece and the waste around it lifts in one go. *Lines*
split the waste between separate parts of the design (letters, say), so it
comes off in strips instead of tearing round each part. They cross the design's
long side in each gap between parts, from border to border, and stop
``clearance`` mm short of any part (they never cut the design itself).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from fabserver.designs import DrawingPath

#: Weeding-line pieces shorter than this (mm) are dropped: they would lift nothing.
MIN_LINE_LENGTH = 2.0


def border(low: np.ndarray, high: np.ndarray, margin: float) -> np.ndarray:
    """``(4, 2) float``: the closed rectangle ``margin`` mm around the box low–high."""
    (x0, y0), (x1, y1) = low - margin, high + margin
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def lines_between(
    parts: Sequence[DrawingPath], margin: float, clearance: float
) -> list[np.ndarray]:
    """Open weeding lines between separate parts of a design.

    parts : the outermost path of each part (a closed outline, or an open path
        that nothing encloses), millimetres.
    Returns (2, 2) float segments spanning the box ``margin`` mm around
    everything, clipped ``clearance`` mm away from every part.
    """
    if len(parts) < 2:
        return []
    shapes = shapely.make_valid(
        np.array(
            [
                shapely.Polygon(p.points)
                if p.closed and len(p.points) >= 3
                else shapely.LineString(p.points)
                for p in parts
            ],
            dtype=object,
        )
    )
    box = shapely.total_bounds(shapes)  # xmin, ymin, xmax, ymax
    low, high = box[:2] - margin, box[2:] + margin
    along = 0 if (high - low)[0] >= (high - low)[1] else 1  # the design's long side
    lo = shapely.bounds(shapes)[:, along]
    hi = shapely.bounds(shapes)[:, along + 2]
    order = np.argsort(lo)
    # A line in each gap along the long side: where everything before a part ends
    # before the part begins.
    reach = np.maximum.accumulate(hi[order])[:-1]
    nxt = lo[order][1:]
    where = ((reach + nxt) / 2)[reach < nxt]
    keep_out = shapely.union_all(shapely.buffer(shapes, clearance))
    other = 1 - along
    segments = []
    for position in where:
        ends = np.empty((2, 2))
        ends[:, along] = position
        ends[:, other] = (low[other], high[other])
        pieces = shapely.get_parts(shapely.LineString(ends).difference(keep_out))
        for piece in pieces:
            if isinstance(piece, shapely.LineString) and piece.length >= MIN_LINE_LENGTH:
                segments.append(np.asarray(piece.coords)[:, :2])
    return segments
