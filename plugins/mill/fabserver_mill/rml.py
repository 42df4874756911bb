"""Roland RML-1 for Roland-type mills: 0.01 mm integer units, ``Z x,y,z;`` moves.

RML-1 has no operator pause with a message, so a program that needs several
tools becomes one file per tool; the file name says which tool to mount.
Speeds: ``VS`` (mm/s, along the path) and ``!VZ`` (mm/s, vertical), spindle
``!RC`` (rpm) and ``!MC1``/``!MC0`` (on/off).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import IO

import numpy as np

from fabserver.toolpath import EventKind, MoveKind, Toolpath
from fabserver.writers.gcode import CHUNK, run_starts

from .assemble import ToolUse

UNITS_PER_MM = 100
"""RML-1 counts 0.01 mm steps."""


def tool_ranges(tp: Toolpath, tool_uses: Sequence[ToolUse]) -> list[tuple[ToolUse, int, int]]:
    """``(tool, first move, end)`` for each mounted tool."""
    ends = [u.index for u in tool_uses[1:]] + [len(tp)]
    return [(u, u.index, e) for u, e in zip(tool_uses, ends, strict=True)]


def write_rml(
    f: IO[bytes],
    tp: Toolpath,
    use: ToolUse,
    first: int,
    end: int,
    *,
    safe_z: float,
) -> None:
    """The moves ``first:end`` made with one tool, as one RML-1 program."""
    safe = round(safe_z * UNITS_PER_MM)
    dwells = {ev.index: ev.value for ev in tp.events if ev.kind == EventKind.DWELL}
    f.write(f"PA;PA;!RC{use.rpm:.0f};!MC1;\n".encode())
    rapid = tp.kind == MoveKind.TRAVEL
    breaks = run_starts(len(tp), rapid, tp.feed, extra=[i for i in dwells if first <= i < end])
    breaks = np.unique(np.clip(np.concatenate([breaks, [first, end]]), first, end))
    for a, b in itertools.pairwise(breaks):
        if a in dwells:
            f.write(f"!DW{dwells[a] * 1000:.0f};\n".encode())
        speed = max(0.1, float(tp.feed[a]))
        f.write(f"VS{speed:.1f};!VZ{speed:.1f};\n".encode())
        for c in range(a, b, CHUNK):
            d = min(c + CHUNK, b)
            steps = np.rint(tp.xyz[c:d] * UNITS_PER_MM).astype(np.int64)
            f.write((("Z%d,%d,%d;\n" * (d - c)) % tuple(steps.ravel())).encode())
    if end > first:
        x, y = np.rint(tp.xyz[end - 1, :2] * UNITS_PER_MM).astype(np.int64)
        f.write(f"Z{x},{y},{safe};\n".encode())
    f.write(b"!MC0;\n")
