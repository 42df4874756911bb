"""G-code for Marlin 2 and Klipper printers, streamed layer by layer.

Moves are formatted in bulk: each move gets one of 32 line templates (which of
X, Y, Z, E and F changed), the changed values are gathered with a mask, and one
``%`` formatting per chunk turns them into text; no f-string per move. Relative
extrusion (``M83``) throughout, as both firmwares prefer for long prints.

The file carries PrusaSlicer's comments (``;LAYER_CHANGE``, ``;Z:``,
``;HEIGHT:``, ``;TYPE:``, the estimates at the end), so PrusaSlicer's G-code
viewer, OctoPrint and Moonraker read its layers and figures.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

import numpy as np

from fabserver.toolpath import EventKind, Toolpath

# What PrusaSlicer's viewer calls each role.
TYPE_NAMES = {
    "external_perimeter": "External perimeter",
    "perimeter": "Perimeter",
    "infill": "Internal infill",
    "solid_infill": "Solid infill",
    "top_solid_infill": "Top solid infill",
    "bridge": "Bridge infill",
    "skirt": "Skirt/Brim",
    "brim": "Skirt/Brim",
    "support": "Support material",
    "support_interface": "Support material interface",
    "overhang_perimeter": "Overhang perimeter",
    "gap_fill": "Gap fill",
}
# Roles printed in the air: the bridge fan.
BRIDGING = ("bridge", "overhang_perimeter")

_LETTERS = ("X", "Y", "Z", "E", "F")
_FORMATS = (" X%.3f", " Y%.3f", " Z%.3f", " E%.5f", " F%.0f")
# Line template for every combination of changed words (bit i = _LETTERS[i]).
_TEMPLATES = np.array(
    [
        ("G1" + "".join(f for i, f in enumerate(_FORMATS) if code >> i & 1) + "\n") if code else ""
        for code in range(32)
    ],
    dtype=object,
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Flavour:
    """Commands a firmware accepts, with their parameter letters (``None``: free text)."""

    name: str
    commands: Mapping[str, str | None]
    extended_commands: bool = False  # Klipper: NAME KEY=VALUE macros


_COMMON = {
    "G0": "XYZEF",
    "G1": "XYZEF",
    "G4": "PS",
    "G28": "XYZ",
    "G90": "",
    "G91": "",
    "G92": "XYZE",
    "M17": "",
    "M18": "XYZE",
    "M73": "PRQS",
    "M82": "",
    "M83": "",
    "M84": "XYZES",
    "M104": "ST",
    "M105": "",
    "M106": "SP",
    "M107": "P",
    "M109": "SRT",
    "M114": "",
    "M117": None,
    "M140": "S",
    "M190": "SR",
    "M204": "PRTS",
    "M220": "S",
    "M221": "S",
    "M400": "",
}
FLAVOURS = {
    # Marlin 2, plus the Prusa firmware words the MK3S start code uses
    # (G80 mesh levelling, G28 W, M862.x printer checks, M900 linear advance).
    "marlin2": Flavour(
        "marlin2",
        {
            **_COMMON,
            "G28": "XYZW",
            "G29": "",
            "G80": "",
            "G21": "",
            "M201": "XYZE",
            "M203": "XYZE",
            "M205": "XYZEBSTJ",
            "M862.1": "P",
            "M862.3": "P",
            "M900": "K",
            "M907": "XYZE",
        },
    ),
    "klipper": Flavour("klipper", dict(_COMMON), extended_commands=True),
}

_WORD = re.compile(r'([A-Z])(?:\s*"[^"]*"|[-+]?(?:\d+\.?\d*|\.\d+))?')
_EXTENDED = re.compile(r"[A-Z_][A-Z0-9_]*(\s+[A-Z_][A-Z0-9_]*=\S+)*")


def check_line(line: str, flavour: Flavour) -> str | None:
    """Why ``line`` is not a valid command of ``flavour`` (``None`` when it is)."""
    code = line.split(";", 1)[0].strip()
    if not code:
        return None
    head, _, rest = code.partition(" ")
    head = head.upper()
    if head in flavour.commands:
        letters = flavour.commands[head]
        if letters is None:
            return None
        for word in re.findall(r'[A-Z]\s*"[^"]*"|\S+', rest.upper()):
            m = _WORD.fullmatch(word)
            if not m:
                return f"unreadable parameter {word!r} of {head}"
            if m.group(1) not in letters:
                return f"{head} takes no parameter {m.group(1)}"
        return None
    numbered = re.fullmatch(r"[GMT]\d+(\.\d+)?", head)
    if flavour.extended_commands and not numbered and _EXTENDED.fullmatch(code):
        return None
    return f"{head} is not a {flavour.name} command"


def fill_placeholders(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` with ``values[name]``; unknown names raise ``KeyError``."""

    def sub(m: re.Match) -> str:
        value = values[m.group(1)]
        return f"{value:g}" if isinstance(value, float) else str(value)

    return _PLACEHOLDER.sub(sub, template)


def placeholders_in(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


@dataclass(frozen=True)
class GcodeJob:
    """What the writer needs besides the toolpath."""

    flavour: str
    start_gcode: str  # placeholders already filled
    end_gcode: str
    temperature: int
    bed_temperature: int
    first_layer_temperature: int
    first_layer_bed_temperature: int
    layer_fan: np.ndarray  # (L,) percent
    bridge_fan: int  # percent while bridging (layers where the fan may run)
    layer_height: np.ndarray  # (L,) mm
    layer_time: np.ndarray  # (L,) s, for the printer's progress display (M73)
    header: tuple[str, ...]  # comment lines (without ';')
    footer: tuple[str, ...]
    #: (n,) acceleration of each move where the printer's features have their own
    #: (``fabserver.estimate.move_accelerations``, Klipper); ``None``: the start code's.
    move_accel: np.ndarray | None = None


def acceleration_changes(move_accel: np.ndarray | None) -> dict[int, str]:
    """``SET_VELOCITY_LIMIT ACCEL=…`` before each move whose acceleration differs from the
    move before (and before the first): what the estimate planned each move with."""
    if move_accel is None or len(move_accel) == 0:
        return {}
    accel = np.asarray(move_accel, dtype=float)
    changes = np.flatnonzero(np.concatenate([[True], accel[1:] != accel[:-1]]))
    return {int(i): f"SET_VELOCITY_LIMIT ACCEL={accel[i]:g}\n" for i in changes}


class _MoveWords:
    """The words of every move, worked out in one pass over the whole toolpath.

    ``code`` : (n,) int — which words each line has (bit i = ``_LETTERS[i]``)
    ``values`` : (m,) float — the numbers of all lines, in order
    ``offset`` : (n + 1,) int — where each line's numbers start in ``values``

    A coordinate only when it changes, F only when it differs from the last F
    written. The numpy work is done once, not at every layer or feature change;
    only the text is made piece by piece.
    """

    def __init__(self, tp: Toolpath):
        n = len(tp)
        xyz = np.round(tp.xyz, 3)
        e = np.round(tp.e, 5)
        f = np.round(tp.feed * 60.0)
        before = np.empty_like(xyz)
        before[:1] = np.round(np.asarray(tp.start, dtype=float), 3)
        before[1:] = xyz[:-1]
        changed = np.empty((n, 5), dtype=bool)
        changed[:, :3] = xyz != before
        changed[:, 3] = e != 0
        moving = changed[:, :4].any(axis=1)
        f_idx = np.flatnonzero(moving)
        fm = f[f_idx]
        last = np.concatenate([[-1.0], fm[:-1]])
        changed[:, 4] = False
        changed[f_idx, 4] = fm != last
        self.code = changed @ (1 << np.arange(5))
        self.values = np.column_stack([xyz, e, f])[changed]
        self.offset = np.concatenate([[0], np.cumsum(changed.sum(axis=1))])

    def text(self, lo: int, hi: int) -> str:
        """G-code lines of moves ``lo:hi``."""
        words = self.values[self.offset[lo] : self.offset[hi]].tolist()
        return "".join(_TEMPLATES[self.code[lo:hi]].tolist()) % tuple(words)


def write_gcode(out: IO[bytes], tp: Toolpath, job: GcodeJob, chunk: int = 20000) -> None:
    """Stream the whole file to ``out`` (a binary file object)."""
    w = lambda text: out.write(text.encode("utf-8"))  # noqa: E731
    w("".join(f"; {line}\n" for line in job.header))
    w(job.start_gcode.rstrip("\n") + "\n")
    w("G90\nM83 ; relative extrusion\nM107\n")
    layer_starts = {ev.index: ev.value for ev in tp.events if ev.kind == EventKind.LAYER_CHANGE}
    role_names = [TYPE_NAMES.get(r, "") for r in tp.roles]
    # Cut points: every layer start, every role change of work moves, and chunk bounds.
    n = len(tp)
    cuts = set(layer_starts) | set(range(0, n, chunk)) | {n}
    work = tp.kind == 1
    role = tp.role.astype(np.int64)
    work_idx = np.flatnonzero(work)
    if work_idx.size:
        change = np.concatenate([[True], role[work_idx][1:] != role[work_idx][:-1]])
        type_at = {int(i): role_names[role[i]] for i in work_idx[change]}
        bridge_at = {int(i): tp.roles[role[i]] in BRIDGING for i in work_idx[change]}
    else:
        type_at, bridge_at = {}, {}
    cuts |= set(type_at)
    accel_at = acceleration_changes(job.move_accel)
    cuts |= set(accel_at)
    bounds = sorted(c for c in cuts if 0 <= c <= n)
    # Time left at the start of each layer, for M73 (percent done, minutes left).
    layer_time = np.asarray(job.layer_time, dtype=float)
    remaining = np.cumsum(layer_time[::-1])[::-1]
    total_time = float(remaining[0]) if len(remaining) else 0.0
    progress = job.flavour == "marlin2"
    words = _MoveWords(tp)
    layer = -1
    temperatures_set = False
    fan = -1
    layer_fan = 0
    buf: list[str] = []
    size = 0
    for lo, hi in itertools.pairwise(bounds):
        if lo in layer_starts:
            # The layer's own index (a layer with nothing to print has no event).
            first_layer_done = layer >= 0
            layer = int(tp.layer[lo]) if lo < n else layer + 1
            z = layer_starts[lo]
            height = job.layer_height[layer] if layer < len(job.layer_height) else 0.0
            buf.append(f";LAYER_CHANGE\n;Z:{z:.3f}\n;HEIGHT:{height:.3f}\n")
            # Marlin shows M73 on its screen; Klipper only with a display section.
            if progress and layer < len(remaining):
                done = 100.0 * (1.0 - remaining[layer] / total_time) if total_time > 0 else 0.0
                buf.append(f"M73 P{int(done)} R{remaining[layer] / 60.0:.0f}\n")
            if first_layer_done and not temperatures_set:
                temperatures_set = True
                if job.temperature != job.first_layer_temperature:
                    buf.append(f"M104 S{job.temperature}\n")
                if job.bed_temperature != job.first_layer_bed_temperature:
                    buf.append(f"M140 S{job.bed_temperature}\n")
            layer_fan = int(job.layer_fan[layer]) if layer < len(job.layer_fan) else fan
        if lo in bridge_at or lo in layer_starts:
            # Bridges get the bridge fan (where the layer's fan may run at all).
            bridging = bridge_at.get(lo, False) and layer_fan > 0
            want = job.bridge_fan if bridging else layer_fan
            if want != fan:
                buf.append("M107\n" if want <= 0 else f"M106 S{round(want * 2.55)}\n")
                fan = want
        if type_at.get(lo):
            buf.append(f";TYPE:{type_at[lo]}\n")
        if lo in accel_at:
            buf.append(accel_at[lo])
        text = words.text(lo, hi)
        buf.append(text)
        size += len(text)
        if size > 1 << 20:
            w("".join(buf))
            buf, size = [], 0
    if progress:
        buf.append("M73 P100 R0\n")
    w("".join(buf))
    w(job.end_gcode.rstrip("\n") + "\n")
    w("".join(f"; {line}\n" for line in job.footer))
