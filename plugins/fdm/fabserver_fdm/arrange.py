"""Copies on the bed: a centred grid, and the number of plates when they do not fit."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COPY_SPACING = 6.0  # mm between copies (PrusaSlicer's default arrange distance)


@dataclass(frozen=True)
class Arrangement:
    offsets: np.ndarray  # (k, 2) float, mm — where each copy on one plate is centred
    per_plate: int  # copies on a full plate
    plates: int  # plates needed for all copies


def arrange(
    footprint: tuple[float, float], copies: int, bed: tuple[float, float], margin: float
) -> Arrangement:
    """Place up to ``copies`` parts of ``footprint`` (x, y mm) in a grid centred on the bed.

    ``margin`` is kept free around the group (skirt, brim).
    """
    w, h = footprint
    usable_x, usable_y = bed[0] - 2 * margin, bed[1] - 2 * margin
    cols = max(1, int((usable_x + COPY_SPACING) // (w + COPY_SPACING)))
    rows = max(1, int((usable_y + COPY_SPACING) // (h + COPY_SPACING)))
    per_plate = cols * rows
    on_plate = min(copies, per_plate)
    # As square a block as the bed allows.
    use_cols = min(
        cols, max(1, math.ceil(math.sqrt(on_plate * (h + COPY_SPACING) / (w + COPY_SPACING))))
    )
    use_rows = math.ceil(on_plate / use_cols)
    if use_rows > rows:
        use_rows = rows
        use_cols = math.ceil(on_plate / rows)
    i = np.arange(on_plate)
    col, row = i % use_cols, i // use_cols
    pitch_x, pitch_y = w + COPY_SPACING, h + COPY_SPACING
    x = (col - (use_cols - 1) / 2.0) * pitch_x + bed[0] / 2.0
    y = (row - (use_rows - 1) / 2.0) * pitch_y + bed[1] / 2.0
    plates = math.ceil(copies / per_plate)
    return Arrangement(np.column_stack([x, y]), per_plate, plates)
