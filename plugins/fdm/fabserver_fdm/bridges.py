"""Bridge direction: span the gap the short way, both ends on something solid.

A bridge line holds only if both its ends rest on the layer below. For every
bridged area, twelve directions are tried at once (one shapely clip over all
areas × directions); the one with the largest share of its length in lines
anchored at both ends wins. Areas supported everywhere (solid over sparse
infill) tie on every direction and keep the layer's usual angle.
"""

from __future__ import annotations

import numpy as np
import shapely

from .infill import hatch
from .regions import EMPTY

ANGLES = np.arange(0.0, 180.0, 15.0)
ANCHOR_REACH = 0.3  # mm: a line end this close to the layer below rests on it
TIE = 0.02  # within 2 % of the best, the usual angle is kept


def bridge_lines(
    bridge: np.ndarray, below: np.ndarray, spacing: np.ndarray, usual_angle: np.ndarray
) -> np.ndarray:
    """Bridge lines of every layer: ``(L,)`` geometries.

    bridge : (L,) geometries to bridge; below : (L,) the layer under each one
    spacing, usual_angle : (L,) float (mm, degrees)
    """
    n = len(bridge)
    parts, layer = shapely.get_parts(bridge, return_index=True)
    bridged = ~shapely.is_empty(parts)  # a layer without a bridge is one empty part
    parts, layer = parts[bridged], layer[bridged]
    if len(parts) == 0:
        return np.full(n, EMPTY, dtype=object)
    angle = np.asarray(usual_angle, dtype=float)[layer].copy()
    # Only areas spanning air need a direction: the others rest on the layer below.
    # Most rest on the layer below itself (solid over sparse infill); the layer below
    # is grown (a costly round buffer) only for the others, once per layer.
    over_air = ~shapely.covered_by(parts, below[layer])
    if over_air.any():
        present, which = np.unique(layer[over_air], return_inverse=True)
        reach = shapely.buffer(below[present], ANCHOR_REACH)
        over_air[over_air] = ~shapely.covered_by(parts[over_air], reach[which])
    if over_air.any():
        angle[over_air] = _best_angles(
            parts[over_air], layer[over_air], below, spacing, angle[over_air]
        )
    chosen = hatch(parts, spacing[layer], angle)
    out = np.full(n, EMPTY, dtype=object)
    pieces, piece_part = _lines_of(chosen)
    if len(pieces):
        piece_layer = layer[piece_part]
        order = np.argsort(piece_layer, kind="stable")
        present, dense = np.unique(piece_layer[order], return_inverse=True)
        out[present] = shapely.multilinestrings(pieces[order], indices=dense)
    return out


def _best_angles(
    parts: np.ndarray, layer: np.ndarray, below: np.ndarray, spacing: np.ndarray, usual: np.ndarray
) -> np.ndarray:
    """Per part, the direction whose lines rest on ``below`` at both ends (``usual`` on a tie)."""
    score = anchored_share(parts, layer, below, spacing)
    best = ANGLES[np.argmax(score, axis=1)]
    nearest_usual = np.argmin(np.abs(ANGLES[None, :] - np.mod(usual, 180.0)[:, None]), axis=1)
    keep_usual = score[np.arange(len(parts)), nearest_usual] >= score.max(axis=1) - TIE
    return np.where(keep_usual, usual, best)


def anchored_share(
    parts: np.ndarray,
    layer: np.ndarray,
    below: np.ndarray,
    spacing: np.ndarray,
    reach: float = ANCHOR_REACH,
) -> np.ndarray:
    """``(p, len(ANGLES))``: per part and direction, the share of the length of lines
    across it that rest on ``below[layer]`` at both ends (within ``reach``)."""
    k = len(ANGLES)
    cand_layer = np.repeat(layer, k)
    cand_angle = np.tile(ANGLES, len(parts))
    lines = hatch(np.repeat(parts, k), spacing[cand_layer], cand_angle)
    segs, seg_cand = _lines_of(lines)
    score = np.zeros(len(parts) * k)
    if len(segs):
        ends = np.stack(
            [shapely.get_point(segs, 0), shapely.get_point(segs, -1)], axis=1
        )  # (s, 2) points
        support = below[cand_layer[seg_cand]]
        held = shapely.dwithin(ends[:, 0], support, reach) & shapely.dwithin(
            ends[:, 1], support, reach
        )
        length = shapely.length(segs)
        anchored = np.bincount(seg_cand, weights=length * held, minlength=len(score))
        total = np.bincount(seg_cand, weights=length, minlength=len(score))
        score = np.divide(anchored, total, out=np.zeros_like(total), where=total > 0)
    return score.reshape(len(parts), k)


def _lines_of(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Line parts of ``geoms`` with the index of the geometry each comes from."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    is_line = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)
    return parts[is_line], index[is_line]
