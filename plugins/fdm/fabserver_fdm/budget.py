"""A quick lower bound of a print's output size, before slicing (issue: tiny file, huge job).

A 684-byte box sliced at 0.05 mm with full infill makes 200 MB of G-code and layer
data; the server refuses such a job before planning when this guess already
passes the machine's output limit. The guess counts only the infill's moves
(layers × lines per layer), so it stays below the real size: it never refuses
a job that would have fitted.
"""

from __future__ import annotations

import math

from fabserver.designs.types import Mesh

from .settings import PrintSettings

# Measured on a 100 × 80 × 40 mm box at 0.2 mm, 100 % infill: 126 295 moves wrote
# 3.17 MB of G-code (25 B a move) and 1.65 MB of layer data for the preview (13 B).
BYTES_PER_MOVE = 36


def estimated_output_bytes(design: Mesh, s: PrintSettings, copies: int) -> int:
    """G-code and layer data of the infill alone, for ``copies`` copies."""
    lo, hi = design.bounds
    height = float(hi[2] - lo[2])
    if height <= 0 or s.layer_height <= 0:
        return 0
    layers = 1 + max(0, math.ceil((height - s.first_layer_height) / s.layer_height))
    # The mean cross-section, never more than the footprint (an open mesh's volume means little).
    footprint = float((hi[0] - lo[0]) * (hi[1] - lo[1]))
    mean_area = min(max(float(design.volume_mm3), 0.0) / height, footprint)
    # Rectilinear infill across a square of that area: one line every width/density,
    # each an extrusion and a link.
    spacing = s.printer.extrusion_width / max(s.fill_density, 1e-9)
    moves_per_layer = 2.0 * math.sqrt(mean_area) / spacing if s.fill_density > 0 else 0.0
    return int(layers * moves_per_layer * copies * BYTES_PER_MOVE)
