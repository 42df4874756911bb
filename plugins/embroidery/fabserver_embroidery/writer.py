"""Machine files through pyembroidery: the toolpath as an EmbPattern, then DST/PES/JEF/EXP.

The toolpath is already on the 0.1 mm grid, split to the format's limits and
centred on the hoop, so pyembroidery's encoder has nothing to add: the file
holds exactly the planned stitches. pyembroidery's y axis points down (as in
SVG); ours points up, so y changes sign here and only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
import pyembroidery
from pyembroidery import (
    COLOR_CHANGE,
    END,
    JUMP,
    STITCH,
    TRIM,
    DstWriter,
    EmbPattern,
    ExpWriter,
    JefWriter,
    PesWriter,
)

from fabserver.i18n import Text
from fabserver.plugin import OutputFormat
from fabserver.toolpath import EventKind, MoveKind, Toolpath

from .threads import Thread

UNITS_PER_MM = 10


@dataclass(frozen=True)
class EmbroideryFormat:
    name: str
    output: OutputFormat
    writer: object  # pyembroidery writer module
    settings: dict

    @property
    def max_stitch_mm(self) -> float:
        return self.writer.MAX_STITCH_DISTANCE / UNITS_PER_MM

    @property
    def max_jump_mm(self) -> float:
        return self.writer.MAX_JUMP_DISTANCE / UNITS_PER_MM


FORMATS: dict[str, EmbroideryFormat] = {
    "dst": EmbroideryFormat(
        "dst",
        OutputFormat(".dst", "application/x-dst", Text("Tajima DST", "Tajima DST")),
        DstWriter,
        # The extended header keeps the thread colours (TC lines).
        {"version": "extended"},
    ),
    "pes": EmbroideryFormat(
        "pes",
        OutputFormat(".pes", "application/x-pes", Text("Brother PES", "Brother PES")),
        PesWriter,
        {"version": 6},
    ),
    "jef": EmbroideryFormat(
        "jef",
        OutputFormat(".jef", "application/x-jef", Text("Janome JEF", "Janome JEF")),
        JefWriter,
        {},
    ),
    "exp": EmbroideryFormat(
        "exp",
        OutputFormat(".exp", "application/x-exp", Text("Melco EXP", "Melco EXP")),
        ExpWriter,
        {},
    ),
}


def toolpath_pattern(
    tp: Toolpath, threads: Sequence[Thread], name: str = "fabserver"
) -> EmbPattern:
    """An EmbPattern with the toolpath's stitches, jumps, trims and colour changes.

    ``threads`` are the colour blocks in sewing order (one per colour change + 1).
    """
    pattern = EmbPattern()
    pattern.metadata("name", name[:16])
    for t in threads:
        pattern.add_thread(
            {"hex": t.hex, "description": t.name, "catalog": t.catalogue_number, "brand": t.brand}
        )
    n = len(tp)
    xy = np.rint(tp.xyz[:, :2] * UNITS_PER_MM).astype(np.int64) * np.array([1, -1])
    command = np.where(tp.kind == int(MoveKind.JUMP), JUMP, STITCH)
    rows = np.column_stack([xy, command]).tolist()
    inserts: list[tuple[int, int]] = []
    for ev in tp.events:
        if ev.kind == EventKind.TRIM:
            inserts.append((ev.index, TRIM))
        elif ev.kind == EventKind.COLOUR_CHANGE:
            inserts.append((ev.index, COLOR_CHANGE))
    out: list[list[int]] = []
    previous = 0
    last = [0, 0]
    for index, cmd in inserts:
        out.extend(rows[previous:index])
        if out:
            last = out[-1][:2]
        out.append([last[0], last[1], cmd])
        previous = index
    out.extend(rows[previous:n])
    end_at = out[-1][:2] if out else [0, 0]
    out.append([end_at[0], end_at[1], END])
    pattern.stitches = out
    return pattern


def write_pattern(pattern: EmbPattern, fmt: EmbroideryFormat, stream: IO[bytes]) -> None:
    pyembroidery.write_embroidery(fmt.writer, pattern, stream, dict(fmt.settings))
