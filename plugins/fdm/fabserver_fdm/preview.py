"""What a print shows: its roles' colours and legend, and which moves the top view draws.

The core draws the top view and the per-layer data for the layer slider from
this (:mod:`fabserver.preview`), once per plan.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fabserver.i18n import Text
from fabserver.preview import Preview, RoleStyle
from fabserver.toolpath import MoveKind, Toolpath

SVG_MAX_MOVES = 60_000

ROLES = {
    "external_perimeter": RoleStyle("#d62728", Text("Paroi extérieure", "External perimeter")),
    "perimeter": RoleStyle("#e07b00", Text("Paroi", "Perimeter")),
    "infill": RoleStyle("#1f77b4", Text("Remplissage", "Infill")),
    "solid_infill": RoleStyle("#9467bd", Text("Remplissage plein", "Solid infill")),
    "top_solid_infill": RoleStyle("#e377c2", Text("Surface du dessus", "Top solid infill")),
    "bridge": RoleStyle("#17becf", Text("Pont", "Bridge")),
    "skirt": RoleStyle("#2ca02c", Text("Jupe", "Skirt")),
    "brim": RoleStyle("#2ca02c", Text("Bordure", "Brim")),
    "support": RoleStyle("#8c564b", Text("Support", "Support")),
    "support_interface": RoleStyle("#bcbd22", Text("Interface de support", "Support interface")),
    "retract": RoleStyle("#9e9e9e", Text("Rétraction", "Retraction")),
    "overhang_perimeter": RoleStyle("#0000ff", Text("Paroi en surplomb", "Overhang perimeter")),
    "gap_fill": RoleStyle("#b8a000", Text("Remplissage d'interstice", "Gap fill")),
}


def top_view(tp: Toolpath) -> Preview:
    """Top view of the print without travels; large prints show the outer walls only
    (one layer in k)."""
    if len(tp) <= SVG_MAX_MOVES:
        return Preview(show_travel=False)
    outer = tp.role_mask("external_perimeter")
    step = max(1, math.ceil(int(outer.sum()) / SVG_MAX_MOVES))
    keep = outer & (tp.layer % step == 0)
    kind = np.where(keep, tp.kind, np.uint8(MoveKind.TRAVEL)).astype(np.uint8)
    return Preview(toolpath=replace(tp, kind=kind), show_travel=False)
