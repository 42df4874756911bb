"""The support body's own layers (:class:`~.support.SupportLayers`) among the part's, in
print height order: their paths, and the part layers' paths renumbered around them.

PrusaSlicer prints the support body in layers thicker than the part's, between them
(``support_material_synchronize_layers`` off): a support layer is a layer of the file
of its own (``;LAYER_CHANGE``, its own z), or is printed first in the part layer that
ends at the same height. Each is the same sheath and sparse lines as the support
printed with the part's layers (:func:`~.layers.plan_layers`), at its own height's flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .flow import Flow, e_per_mm
from .geos import buffer
from .infill import hatch
from .layers import ROLE, LayerPaths, feature_speed, point_arrays, without_slivers
from .linking import link_lines
from .ordering import nearest_order
from .regions import MITRE
from .settings import PrintSettings
from .support import BODY_SPACING, SupportLayers


@dataclass(frozen=True)
class PrintLayers:
    """The layers of the file, in print order: the part's and the support's own.

    part, support : (M,) int — the part layer / support layer printed in each (-1: none)
    z : (M,) print height; step : (M,) rise from the layer before (PrusaSlicer's ``;HEIGHT:``)
    """

    paths: LayerPaths
    part: np.ndarray
    support: np.ndarray
    z: np.ndarray
    step: np.ndarray


def interleave(
    part_paths: LayerPaths, z_top: np.ndarray, layers: SupportLayers, s: PrintSettings
) -> PrintLayers:
    """``part_paths`` (layers numbered as ``z_top``) with the support layers' paths put in
    at their own heights; layers numbered in print order, z never going down."""
    n_part = len(z_top)
    own = _SupportPaths(layers, s)
    # A support layer with no line left (all slivers) is no layer of the file.
    printed = np.array([len(idx) > 0 for idx in own.by_layer], dtype=bool)
    alone = np.flatnonzero((layers.part_layer < 0) & printed)
    z = np.concatenate([z_top, layers.z[alone]])
    part = np.concatenate([np.arange(n_part), np.full(alone.size, -1)])
    support = np.full(n_part + alone.size, -1, dtype=np.int64)
    with_part = np.flatnonzero(layers.part_layer >= 0)
    support[layers.part_layer[with_part]] = with_part
    support[n_part:] = alone
    order = np.argsort(z, kind="stable")
    z, part, support = z[order], part[order], support[order]
    step = np.diff(np.concatenate([[0.0], z]))

    part_layer = np.asarray(part_paths.layer, dtype=np.int64)
    part_first = np.searchsorted(part_layer, np.arange(n_part + 1))  # paths grouped by layer
    out = LayerPaths()
    position = np.zeros(2)
    for m in range(len(z)):
        if support[m] >= 0:
            for pts, epm, feed in own.ordered(int(support[m]), position):
                out.add(pts, m, ROLE["support"], epm, feed)
                position = pts[-1]
        if part[m] >= 0:
            for i in range(part_first[part[m]], part_first[part[m] + 1]):
                out.add(
                    part_paths.points[i],
                    m,
                    part_paths.role[i],
                    part_paths.e_per_mm[i],
                    part_paths.feed[i],
                    part_paths.e_scale.get(i),
                )
                position = part_paths.points[i][-1]
    return PrintLayers(out, part, support, z, step)


class _SupportPaths:
    """The sheath and lines of every support layer, laid out at once, ordered per layer."""

    def __init__(self, layers: SupportLayers, s: PrintSettings) -> None:
        p, fil = s.printer, s.filament
        n = len(layers)
        self.flows = [Flow(p.extrusion_width, float(h)) for h in layers.height]
        half = np.array([f.width / 2.0 for f in self.flows])
        sheath = shapely.boundary(buffer(layers.body, -half, **MITRE))
        lines = hatch(layers.body, np.full(n, BODY_SPACING), np.zeros(n))
        self.pieces: list[np.ndarray] = []
        piece_layer = []
        for geoms in (sheath, lines):
            arrays, layer = without_slivers(*point_arrays(geoms), 2.0 * half)
            self.pieces.extend(arrays)
            piece_layer.append(layer)
        layer_of = np.concatenate(piece_layer) if piece_layer else np.zeros(0, np.int64)
        order = np.argsort(layer_of, kind="stable")
        first = np.searchsorted(layer_of[order], np.arange(n + 1))
        self.by_layer = [order[first[j] : first[j + 1]] for j in range(n)]
        self.area = buffer(layers.body, 0.1, **MITRE)
        self.epm = [e_per_mm(f, fil.diameter, fil.extrusion_multiplier) for f in self.flows]
        self.feed = [feature_speed(s, "support", f, False) for f in self.flows]

    def ordered(self, j: int, position: np.ndarray) -> list[tuple[np.ndarray, float, float]]:
        """Support layer ``j``'s paths from ``position``, nearest first, consecutive lines
        joined when the link stays inside the body (as for the part's layers)."""
        idx = self.by_layer[j]
        if len(idx) == 0:
            return []
        starts = np.array([self.pieces[i][0] for i in idx])
        ends = np.array([self.pieces[i][-1] for i in idx])
        go, flip = nearest_order(starts, ends, position)
        seq = [
            self.pieces[i][::-1] if rev else self.pieces[i]
            for i, rev in zip(idx[go], flip, strict=True)
        ]
        roles = np.full(len(seq), ROLE["support"])
        linked = link_lines(seq, roles, {ROLE["support"]: 1.5 * BODY_SPACING}, self.area[j])
        return [(pts, self.epm[j], self.feed[j]) for pts, _ in linked]
