"""Reading G-code back: positions, extrusion and layers, as a firmware would see them.

Used by the tests (an independent read of what the writer produced) and the
benchmark (PrusaSlicer's and CuraEngine's files read the same way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_WORDS = re.compile(r"([XYZEF])([-+]?(?:\d+\.?\d*|\.\d+))")


@dataclass(frozen=True)
class ReadBack:
    """Extruding moves' end points and totals of a G-code file.

    points : (n, 3) float — positions after every G0/G1 with X, Y or Z
    extruding : (n,) bool — the move extruded (E > 0 with XY motion)
    filament_mm : float — sum of positive E on moves (relative extrusion)
    layers : int — ``;LAYER_CHANGE`` comments
    """

    points: np.ndarray
    extruding: np.ndarray
    filament_mm: float
    net_e_mm: float
    layers: int
    types: tuple[str, ...]


def read_gcode(text: str, from_first_layer: bool = True, relative_e: bool = True) -> ReadBack:
    """Follow G0/G1 moves in absolute XYZ and relative E (``M83``).

    With ``from_first_layer``, moves before the first ``;LAYER_CHANGE`` (the
    start G-code's homing and purge line, often outside the bed) are skipped.
    ``relative_e=False`` reads absolute extrusion (``M82``, CuraEngine's default),
    with ``G92 E`` resets.
    """
    e_abs = 0.0
    x = y = z = 0.0
    pts, ext = [], []
    fil = net = 0.0
    layers = 0
    types: list[str] = []
    for line in text.splitlines():
        if line.startswith(";LAYER_CHANGE"):
            layers += 1
            continue
        if line.startswith(";TYPE:"):
            types.append(line[6:].strip())
            continue
        code = line.split(";", 1)[0].strip()
        if code.startswith("G92"):
            reset = dict(_WORDS.findall(code))
            if "E" in reset:
                e_abs = float(reset["E"])
            continue
        if not (code.startswith("G1 ") or code.startswith("G0 ")):
            continue
        words = dict(_WORDS.findall(code))
        if not relative_e and "E" in words:
            target = float(words["E"])
            words["E"], e_abs = str(target - e_abs), target
        moved = False
        if "X" in words:
            x, moved = float(words["X"]), True
        if "Y" in words:
            y, moved = float(words["Y"]), True
        if "Z" in words:
            z, moved = float(words["Z"]), True
        e = float(words.get("E", 0.0))
        if from_first_layer and layers == 0:
            e = 0.0
        net += e
        if moved and not (from_first_layer and layers == 0):
            pts.append((x, y, z))
            ext.append(e > 0 and ("X" in words or "Y" in words))
            if e > 0:
                fil += e
    return ReadBack(
        np.array(pts).reshape(-1, 3), np.array(ext, dtype=bool), fil, net, layers, tuple(types)
    )
