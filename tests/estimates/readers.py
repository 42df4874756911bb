"""Independent readers of the machine files the plugins write.

Written for the tests from the file formats' documentation, sharing nothing with
the writers or with ``fabserver``'s own readers: what the file says is what a
machine would do. Each reader gives the moves (start, end, extrusion, feed) and
the limits the file states (Marlin's ``M201``–``M205``, Klipper's
``SET_VELOCITY_LIMIT``, the Grbl ``$`` settings in the header comment).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Move:
    start: tuple[float, float, float]
    end: tuple[float, float, float]
    e: float  # mm of filament (relative)
    feed: float  # mm/s requested; math.inf for Grbl rapids (G0 runs at the axes' max rate)
    rapid: bool
    power: float = 0.0  # laser S while moving
    accel: float | None = None  # Klipper: the ACCEL in effect (SET_VELOCITY_LIMIT), if set

    @property
    def length(self) -> float:
        return math.dist(self.start, self.end)


@dataclass
class MachineFile:
    moves: list[Move] = field(default_factory=list)
    #: The limits the file states first (Klipper's later ``ACCEL`` changes are on the moves).
    limits: dict[str, float] = field(default_factory=dict)
    dwell_s: float = 0.0
    #: Index into ``moves`` where a marker comment (e.g. ``;LAYER_CHANGE``) first appeared.
    marks: dict[str, int] = field(default_factory=dict)
    #: Every occurrence of each marker, in the same terms (e.g. where each layer starts).
    all_marks: dict[str, list[int]] = field(default_factory=dict)
    stitches: int = 0
    stops: set[int] = field(default_factory=set)  # moves preceded by a full stop

    def between(self, first: str | None = None, last: str | None = None) -> list[Move]:
        lo = self.marks.get(first, 0) if first else 0
        hi = self.marks.get(last, len(self.moves)) if last else len(self.moves)
        return self.moves[lo:hi]


_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")
_SETTING = re.compile(r"\$(\d+)\s*=\s*([-+]?[\d.]+)")
_KEY_VALUE = re.compile(r"([A-Z_]+)=([-+]?[\d.]+)")


def read_gcode(path: Path, markers: tuple[str, ...] = (";LAYER_CHANGE",)) -> MachineFile:
    """G-code as Marlin, Klipper or Grbl execute it (G0/G1 modal, G90/G91, M82/M83, G92).

    ``markers``: lines (comments or commands) whose first occurrence is recorded in
    ``marks`` as the number of moves read before it.
    """
    out = MachineFile()
    pos = [0.0, 0.0, 0.0]
    e_abs = 0.0
    absolute, e_relative = True, False
    feed = 0.0  # mm/min
    motion = "G0"
    power = 0.0
    accel: float | None = None
    for raw in path.read_text(encoding="ascii", errors="replace").splitlines():
        line = raw.strip()
        for marker in markers:
            if line.startswith(marker):
                out.marks.setdefault(marker, len(out.moves))
                out.all_marks.setdefault(marker, []).append(len(out.moves))
        comment = ""
        if ";" in line:
            line, comment = line.split(";", 1)
        while "(" in line and ")" in line:
            a, b = line.index("("), line.index(")")
            comment += " " + line[a + 1 : b]
            line = line[:a] + line[b + 1 :]
        for key, value in _SETTING.findall(comment):
            out.limits[f"${key}"] = float(value)
        line = line.strip().upper()
        if not line:
            continue
        if line.startswith("SET_VELOCITY_LIMIT"):
            for key, value in _KEY_VALUE.findall(line):
                out.limits.setdefault(key, float(value))
                if key == "ACCEL":
                    accel = float(value)
            continue
        words = _WORD.findall(line)
        letters = {k: float(v) for k, v in words}
        codes = [f"{k}{v}" for k, v in words if k in "GM"]
        code = codes[0] if codes else ""
        if code in ("M201", "M203", "M204", "M205"):
            for k, v in letters.items():
                if k != "M":
                    out.limits[f"{code}{k}"] = v
            continue
        if code in ("G90",):
            absolute = True
        elif code == "G91":
            absolute = False
        elif code == "M82":
            e_relative = False
        elif code == "M83":
            e_relative = True
        elif code == "G92":
            if "E" in letters:
                e_abs = letters["E"]
            continue
        elif code == "G4":
            # Grbl: P seconds; Marlin: P milliseconds or S seconds.
            seconds = letters.get("S", letters.get("P", 0.0))
            out.dwell_s += seconds
            out.stops.add(len(out.moves))
            continue
        elif code in ("M0", "M1", "M109", "M190", "M400"):
            out.stops.add(len(out.moves))
        if code in ("G0", "G1", "G00", "G01"):
            motion = "G0" if code in ("G0", "G00") else "G1"
        elif code and code not in ("G0", "G1") and not set(letters) & set("XYZE"):
            continue
        if "F" in letters:
            feed = letters["F"]
        if "S" in letters and code in ("G0", "G1", "M3", "M4", ""):
            power = letters["S"]
        if code in ("M3", "M4", "M5"):
            power = 0.0 if code == "M5" else letters.get("S", power)
            continue
        if not set(letters) & set("XYZE"):
            continue
        end = list(pos)
        for axis, letter in enumerate("XYZ"):
            if letter in letters:
                end[axis] = letters[letter] if absolute else pos[axis] + letters[letter]
        de = 0.0
        if "E" in letters:
            if e_relative:
                de = letters["E"]
            else:
                de = letters["E"] - e_abs
                e_abs = letters["E"]
        rapid = motion == "G0"
        out.moves.append(Move(tuple(pos), tuple(end), de, feed / 60.0, rapid, power, accel))
        pos = end
    return out


def read_hpgl(path: Path, units_per_mm: float) -> MachineFile:
    """HPGL / CAMM-GL: ``PU``/``PD`` with absolute coordinate pairs, ``VS`` in cm/s."""
    out = MachineFile()
    pos = (0.0, 0.0, 0.0)
    speed = math.inf  # mm/s while the blade is down (VS)
    for instruction in path.read_text(encoding="ascii").replace("\n", "").split(";"):
        op, args = instruction[:2].upper(), instruction[2:]
        if op == "VS" and args:
            speed = float(args) * 10.0
        if op in ("PU", "PD") and args:
            numbers = [float(v) / units_per_mm for v in args.split(",")]
            for x, y in zip(numbers[::2], numbers[1::2], strict=True):
                end = (x, y, 0.0)
                if op == "PU":
                    out.stops.add(len(out.moves) + 1)  # the blade drops after the travel
                out.moves.append(Move(pos, end, 0.0, speed, op == "PU"))
                pos = end
    return out


def read_stitch_file(path: Path) -> MachineFile:
    """An embroidery file through pyembroidery: stitches and jumps in mm, stops at trims
    and colour changes."""
    import pyembroidery

    pattern = pyembroidery.read(str(path))
    out = MachineFile()
    pos = None
    for x, y, command in pattern.stitches:
        kind = command & pyembroidery.COMMAND_MASK
        point = (x / 10.0, y / 10.0, 0.0)
        if kind in (pyembroidery.TRIM, pyembroidery.COLOR_CHANGE, pyembroidery.STOP):
            out.stops.add(len(out.moves))
            continue
        if kind not in (pyembroidery.STITCH, pyembroidery.JUMP):
            continue
        if pos is None:
            pos = point
            if kind == pyembroidery.STITCH:
                out.stitches += 1
            continue
        if point != pos:
            out.moves.append(Move(pos, point, 0.0, math.nan, kind == pyembroidery.JUMP))
        if kind == pyembroidery.STITCH:
            out.stitches += 1
        pos = point
    return out


def as_toolpath(moves: list[Move]):
    """Moves read from another slicer's file, as a toolpath for fabserver's estimator."""
    import numpy as np

    from fabserver.toolpath import MoveKind, ToolpathBuilder

    moving = [m for m in moves if m.length > 0 or m.e]
    builder = ToolpathBuilder(start=moving[0].start if moving else (0.0, 0.0, 0.0))
    for m in moving:
        if m.length == 0:
            kind = MoveKind.RETRACT
        else:
            kind = MoveKind.EXTRUDE if m.e > 0 else MoveKind.TRAVEL
        builder.add_path(np.array([m.end]), kind, m.feed, e=m.e)
    return builder.build()
