"""What a print shows: which moves the top view draws (its roles' colours and legend are
in ``roles.toml``).

The core draws the top view and the per-layer data for the layer slider from
this (:mod:`fabserver.preview`), once per plan.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fabserver.preview_data import Preview
from fabserver.toolpath import MoveKind, Toolpath

SVG_MAX_MOVES = 60_000


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
