"""Previews for the web pages: per-layer data for a slider and a top view.

``layers_preview`` is what the layer slider reads (the core's
:func:`fabserver.preview.layer_data`); the plugin puts it in ``Plan.facts`` only
for small prints, and the web app calls it on the stored toolpath otherwise.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from fabserver.preview import layer_data, toolpath_svg
from fabserver.toolpath import MoveKind, Toolpath

LAYER_FACTS_MAX_MOVES = 20_000  # larger prints: the web app calls layers_preview itself
SVG_MAX_MOVES = 60_000


def layers_preview(tp: Toolpath) -> dict[str, Any]:
    """Per-layer polylines and colours for a layer slider (JSON-ready)."""
    return layer_data(tp)


def top_view_svg(tp: Toolpath) -> str:
    """Top view of the print; large prints show the outer walls only (one layer in k)."""
    if len(tp) <= SVG_MAX_MOVES:
        return toolpath_svg(tp, show_travel=False)
    outer = tp.role_mask("external_perimeter")
    step = max(1, math.ceil(int(outer.sum()) / SVG_MAX_MOVES))
    keep = outer & (tp.layer % step == 0)
    kind = np.where(keep, tp.kind, np.uint8(MoveKind.TRAVEL)).astype(np.uint8)
    return toolpath_svg(replace(tp, kind=kind), show_travel=False)
