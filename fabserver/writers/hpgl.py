"""HPGL / CAMM-GL writer for drag-knife cutters.

The file is plain HPGL, which Roland CAMM-GL and most vinyl cutters read:
``IN;`` (initialise), ``PA;`` (absolute coordinates), ``SP`` (tool), ``VS``
(cutting speed, cm/s) and ``FS`` (blade force, the cutter's own unit: gram-force
on Roland machines), then one ``PU x,y;PD x,y,…;`` per cut, in plotter units
(40 per millimetre). Coordinates are in the plotter's frame, whose axes the
machine profile describes; the writer only scales and rounds them. Written by
hand: the handful of instructions a cutter needs do not call for a library.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

import numpy as np

#: Coordinate pairs per ``PD`` instruction: small cutters' buffers reject longer lines.
MAX_PAIRS_PER_INSTRUCTION = 256


@dataclass(frozen=True)
class PenSetup:
    """How the cutter is set up before it cuts."""

    force: float  # ``FS`` value, gram-force on Roland machines
    speed_cm_s: float  # ``VS`` value, cm/s
    tool: int = 1  # ``SP`` value
    units_per_mm: float = 40.0  # plotter units per millimetre


def plotter_units(points: np.ndarray, units_per_mm: float) -> np.ndarray:
    """Millimetres to whole plotter units, repeated points dropped.

    points : (n, 2) float, millimetres. Returns (m, 2) int64, m ≤ n.
    """
    units = np.rint(np.asarray(points, dtype=float) * units_per_mm).astype(np.int64)
    if len(units) < 2:
        return units
    moved = np.any(np.diff(units, axis=0) != 0, axis=1)
    return units[np.concatenate([[True], moved])]


def write_hpgl(
    stream: IO[bytes],
    cuts: Iterable[np.ndarray],
    setup: PenSetup,
    park: tuple[float, float] = (0.0, 0.0),
) -> None:
    """Write a whole job: set-up, one tool-down polyline per cut, then park the tool.

    cuts : holder paths, each (k, 2) float, millimetres in the plotter frame; the
        tool goes down on the first point of each.
    park : where the tool goes at the end, millimetres (e.g. past the job along
        the roll, so the maker can cut the piece off).
    """
    stream.write(
        f"IN;PA;SP{setup.tool};VS{setup.speed_cm_s:g};FS{setup.force:g};\n".encode("ascii")
    )
    for cut in cuts:
        units = plotter_units(cut, setup.units_per_mm)
        if len(units) < 2:
            continue
        x0, y0 = units[0]
        chunks = [f"PU{x0},{y0};"]
        rest = units[1:].reshape(-1)
        step = 2 * MAX_PAIRS_PER_INSTRUCTION
        for i in range(0, len(rest), step):
            chunks.append("PD" + ",".join(map(str, rest[i : i + step].tolist())) + ";")
        stream.write(("".join(chunks) + "\n").encode("ascii"))
    px, py = plotter_units(np.array([park]), setup.units_per_mm)[0]
    stream.write(f"PU{px},{py};SP0;\n".encode("ascii"))
