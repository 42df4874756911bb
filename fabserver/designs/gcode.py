"""Plain G-code → :class:`~fabserver.toolpath.Toolpath`, as the printer's firmware would run it.

Reads what slicers write for Marlin and Klipper printers (PrusaSlicer, Cura,
SuperSlicer, OrcaSlicer, fabserver itself): ``G0``/``G1`` moves, ``G2``/``G3``
arcs, ``G90``/``G91``, ``M82``/``M83``, ``G92``, ``G28``, layer-change comments
(or Z changes), ``;TYPE:`` roles, tool changes, temperatures (``M104``/``M109``/
``M140``/``M190``), fan, dwells, pauses and the machine limits a file sets
(``M201``–``M205``, Klipper's ``SET_VELOCITY_LIMIT``).

A 100 MB file holds three million lines, so no Python loop runs per line: the
bytes are cut into lines and words with numpy (a word is a letter followed by
a number, outside comments), all numbers of a chunk are parsed by one
``np.fromstring`` call, and the modal state (absolute or relative axes, ``G92``
resets, the feed rate, the current role and layer) is carried over all lines by
cumulative sums and ``maximum.accumulate`` on indices. Only the rare lines
(arcs, temperatures, limits, comments naming roles) are looked at one by one.
No library reads G-code into arrays this way (pygcode and gcodeparser build
one Python object per line), hence this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DesignError
from ..i18n import Text
from ..toolpath import Event, EventKind, MoveKind, Toolpath
from .loader import BGCODE_MAGIC, binary_gcode_error
from .types import Gcode, GcodeInfo, SourceFacts

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes tokenised at a time: bounds the temporary arrays (a few hundred MB at most)."""
DEFAULT_FEED_MM_MIN = 3000.0  # Marlin's and Klipper's feed before the first F word
ARC_SEGMENT_MM = 0.5  # chord length arcs are cut into (Marlin's MM_PER_ARC_SEGMENT is 1)

# Command codes: letter * 1000 + number (G1 → 71001, M104 → 77104, T0 → 84000).
_G, _M, _T = ord("G"), ord("M"), ord("T")


def _code(letter: int, number: int) -> int:
    return letter * 1000 + number


G0, G1, G2, G3, G4 = (_code(_G, n) for n in range(5))
G20, G21, G28, G90, G91, G92 = (_code(_G, n) for n in (20, 21, 28, 90, 91, 92))
M0, M1, M25, M82, M83 = (_code(_M, n) for n in (0, 1, 25, 82, 83))
M104, M106, M107, M109, M140, M190 = (_code(_M, n) for n in (104, 106, 107, 109, 140, 190))
M201, M203, M204, M205, M600, M601 = (_code(_M, n) for n in (201, 203, 204, 205, 600, 601))
_MOVES = (G0, G1, G2, G3)

# Pseudo-codes for comment lines that matter.
C_LAYER, C_TYPE, C_EXTENDED = -1, -2, -3

# Word letters read on every line; the others are ignored.
_LETTERS = b"XYZEFIJRSPT"
_AXES = "XYZE"

_PREFIX_LEN = 16

_NUMBER_CHAR = np.zeros(256, dtype=bool)
_NUMBER_CHAR[np.frombuffer(b"0123456789.-+", dtype=np.uint8)] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[np.frombuffer(b"0123456789", dtype=np.uint8)] = True
_LETTER_INDEX = np.full(256, -1, dtype=np.int8)
_LETTER_INDEX[np.frombuffer(_LETTERS, dtype=np.uint8)] = np.arange(len(_LETTERS))
_WORD_BEFORE = np.zeros(256, dtype=bool)  # what may precede a word letter
_WORD_BEFORE[np.frombuffer(b" \t0123456789.", dtype=np.uint8)] = True

# Slicers' names of extrusion roles → the roles fabserver's preview knows.
ROLE_NAMES = {
    # PrusaSlicer, SuperSlicer, OrcaSlicer, fabserver
    "EXTERNAL PERIMETER": "external_perimeter",
    "OUTER WALL": "external_perimeter",
    "PERIMETER": "perimeter",
    "INNER WALL": "perimeter",
    "OVERHANG PERIMETER": "overhang_perimeter",
    "OVERHANG WALL": "overhang_perimeter",
    "INTERNAL INFILL": "infill",
    "SPARSE INFILL": "infill",
    "SOLID INFILL": "solid_infill",
    "INTERNAL SOLID INFILL": "solid_infill",
    "TOP SOLID INFILL": "top_solid_infill",
    "TOP SURFACE": "top_solid_infill",
    "BOTTOM SURFACE": "solid_infill",
    "IRONING": "ironing",
    "BRIDGE INFILL": "bridge",
    "INTERNAL BRIDGE INFILL": "bridge",
    "GAP FILL": "gap_fill",
    "SKIRT": "skirt",
    "SKIRT/BRIM": "skirt",
    "BRIM": "brim",
    "SUPPORT MATERIAL": "support",
    "SUPPORT": "support",
    "SUPPORT MATERIAL INTERFACE": "support_interface",
    "SUPPORT INTERFACE": "support_interface",
    "WIPE TOWER": "wipe_tower",
    "PRIME TOWER": "wipe_tower",
    "CUSTOM": "custom",
    # Cura
    "WALL-OUTER": "external_perimeter",
    "WALL-INNER": "perimeter",
    "SKIN": "solid_infill",
    "FILL": "infill",
    "SUPPORT-INTERFACE": "support_interface",
    "PRIME-TOWER": "wipe_tower",
}

_HEADER_ASSIGN = re.compile(rb"^;[ \t]*([A-Za-z_][\w ()\[\]]*?)[ \t]*=[ \t]*(.*?)[ \t\r]*$", re.M)
_CURA_HEADER = re.compile(rb"^;(FLAVOR|TIME|Filament used):[ \t]*(.*?)[ \t\r]*$", re.M)
_KLIPPER_WORD = re.compile(r"([A-Z_]+)=([-+]?[\d.]+)")


def load_gcode(data: bytes, name: str = "", **_options: Any) -> Gcode:
    """A G-code design (the loader's entry point); raises :class:`DesignError`."""
    if data.startswith(BGCODE_MAGIC):
        raise binary_gcode_error()
    tp, info = read_gcode(data)
    extruding = int((tp.kind == MoveKind.EXTRUDE).sum())
    if extruding == 0:
        raise DesignError(
            Text(
                "Ce G-code n'extrude rien : aucun mouvement ne dépose de plastique. Nous "
                "prenons le G-code des imprimantes 3D ; pour la découpe laser, le vinyle ou la "
                "fraiseuse, envoyez le dessin lui-même (SVG ou DXF).",
                "This G-code extrudes nothing: no move lays down plastic. We take G-code for "
                "3D printers; for the laser, the vinyl cutter or the mill, upload the drawing "
                "itself (SVG or DXF).",
            )
        )
    warnings: list[Text] = []
    if info.inches:
        warnings.append(
            Text(
                "Ce G-code est en pouces (G20) : converti en millimètres pour l'aperçu.",
                "This G-code is in inches (G20): converted to millimetres for the preview.",
            )
        )
    facts = SourceFacts(
        format="gcode",
        units="in" if info.inches else "mm",
        scale_to_mm=25.4 if info.inches else 1.0,
        warnings=tuple(warnings),
        details={
            "slicer": info.slicer,
            "flavour": info.flavour,
            "moves": len(tp),
            "layers": tp.n_layers,
            "filament_mm": round(info.filament_mm, 2),
        },
    )
    return Gcode(toolpath=tp, info=info, data=data, facts=facts)


# --------------------------------------------------------------------------- tokenising


@dataclass
class _Lines:
    """Per-line arrays of the lines that matter, for one chunk (or all, once joined)."""

    code: np.ndarray  # int32 command code (or a comment pseudo-code)
    words: np.ndarray  # (len(_LETTERS), n) float, NaN where the word is absent
    text: dict[int, bytes]  # raw text of the rare lines read one by one (by row)


def _tokenise(chunk: memoryview) -> _Lines:
    b = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)
    starts = np.concatenate([[0], newlines + 1])
    ends = np.concatenate([newlines, [len(b)]])
    keep = starts < ends  # non-empty lines
    starts, ends = starts[keep], ends[keep]
    n = len(starts)

    # The first bytes of each line, padded: command letter and number.
    prefix = _prefixes(b, starts, ends, 8)
    letter = prefix[:, 0].astype(np.int32)
    digits = _DIGIT[prefix[:, 1:6]]
    run = np.cumprod(digits, axis=1).astype(bool)  # the number right after the letter
    value = np.zeros(n, dtype=np.int32)
    for col in range(5):
        d = prefix[:, 1 + col].astype(np.int32) - 48
        value = np.where(run[:, col], value * 10 + d, value)
    has_number = run[:, 0]
    # "G1" must be followed by a space, tab, comment, end of line or a word letter.
    after = prefix[np.arange(n), 1 + run.sum(axis=1)]
    numbered = has_number & ~_DIGIT[after] & (after != ord("."))
    code = np.where(numbered & np.isin(letter, (_G, _M, _T)), letter * 1000 + value, 0)
    code = code.astype(np.int32)

    # Comment lines that matter, and Klipper's extended commands (NAME KEY=VALUE).
    comment = letter == ord(";")
    rows_text: dict[int, bytes] = {}
    comments = np.flatnonzero(comment)
    heads = _prefixes(b, starts[comments], ends[comments], _PREFIX_LEN).view(f"S{_PREFIX_LEN}")
    heads = heads.ravel()
    is_layer = np.char.startswith(heads, b";LAYER_CHANGE") | np.char.startswith(heads, b";LAYER:")
    code[comments[is_layer]] = C_LAYER
    code[comments[np.char.startswith(heads, b";TYPE:")]] = C_TYPE
    extended = (letter >= ord("A")) & (letter <= ord("Z")) & ~numbered & (prefix[:, 1] >= 65)
    extended &= ~comment
    code = np.where(extended, C_EXTENDED, code)

    # Lines read one by one: comments naming roles, limits, Klipper commands.
    rare = np.isin(code, (C_TYPE, C_EXTENDED, M201, M203, M204, M205))
    for row in np.flatnonzero(rare):
        rows_text[int(row)] = bytes(chunk[starts[row] : ends[row]])

    # Words: a letter of _LETTERS, after a space or a number, before a number, not in a comment.
    semis = np.concatenate([np.flatnonzero(b == ord(";")), [len(b)]])
    first_semi = semis[np.searchsorted(semis, starts)]
    code_end = np.where((first_semi >= starts) & (first_semi < ends), first_semi, ends)
    candidates = np.flatnonzero(_LETTER_INDEX[b] >= 0)
    candidates = candidates[(candidates > 0) & (candidates + 1 < len(b))]
    candidates = candidates[_WORD_BEFORE[b[candidates - 1]] & _NUMBER_CHAR[b[candidates + 1]]]
    row_of = np.searchsorted(starts, candidates, side="right") - 1
    wanted = np.isin(code[row_of], (*_MOVES, G4, G92, G28, M104, M106, M109, M140, M190))
    ok = (candidates < code_end[row_of]) & wanted & (candidates > starts[row_of])
    candidates, row_of = candidates[ok], row_of[ok]

    relevant = (code != 0) | rare
    rows = np.flatnonzero(relevant)
    row_index = np.cumsum(relevant) - 1  # line → row among the relevant ones
    words = np.full((len(_LETTERS), len(rows)), np.nan)
    if candidates.size:
        # Where each run of number characters ends (fewer positions than all other bytes).
        number = _NUMBER_CHAR[b]
        run_ends = np.flatnonzero(number[:-1] & ~number[1:]) + 1
        run_ends = np.concatenate([run_ends, [len(b)]])
        stops = run_ends[np.searchsorted(run_ends, candidates + 1, side="right")]
        values = _numbers(b, candidates + 1, stops)
        for i in np.flatnonzero(np.isnan(values)):  # long or odd numbers: Python reads them
            values[i] = _number(bytes(chunk[candidates[i] + 1 : stops[i]]))
        words[_LETTER_INDEX[b[candidates]], row_index[row_of]] = values
    return _Lines(
        code=code[rows].astype(np.int32),
        words=words,
        text={int(row_index[r]): t for r, t in rows_text.items()},
    )


def _prefixes(b: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """``(n, width) uint8``: the first bytes of each line, zero-padded past its end."""
    if not len(starts):
        return np.zeros((0, width), dtype=np.uint8)
    offsets = starts[:, None] + np.arange(width)[None]
    inside = offsets < ends[:, None]
    return np.where(inside, b[np.minimum(offsets, len(b) - 1)], 0).astype(np.uint8)


def _numbers(b: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Decimal numbers ``b[begin[i]:end[i]]`` (``[+-]digits[.digits]``), all at once; NaN if odd.

    Each number's bytes are a row of a ``(n, 15)`` matrix; a loop over the 15
    columns (not the numbers) builds an exact integer mantissa (float64 holds
    integers to 2⁵³), divided once by the power of ten of the fraction, so each
    value is the correctly rounded double, as ``float()`` gives. Longer or odd
    numbers come back NaN for the caller to read one by one.
    """
    lengths = end - begin
    width = int(min(_NUMBER_WIDTH, lengths.max(initial=1)))
    cols = np.arange(width)
    window = b[np.minimum(begin[:, None] + cols[None], len(b) - 1)]
    inside = cols[None] < lengths[:, None]
    mantissa = np.zeros(len(begin))
    fraction = np.zeros(len(begin), dtype=np.int64)
    digits = np.zeros(len(begin), dtype=np.int64)
    dots = np.zeros(len(begin), dtype=np.int64)
    signs_inside = np.zeros(len(begin), dtype=bool)
    for col in range(width):
        c = window[:, col]
        here = inside[:, col]
        digit = here & _DIGIT[c]
        mantissa = np.where(digit, mantissa * 10.0 + (c - 48.0), mantissa)
        fraction += digit & (dots > 0)
        digits += digit
        dots += here & (c == ord("."))
        if col:
            signs_inside |= here & ((c == ord("-")) | (c == ord("+")))
    values = mantissa / _POW10[np.minimum(fraction, 15)]
    values = np.where(window[:, 0] == ord("-"), -values, values)
    bad = (lengths > _NUMBER_WIDTH) | (digits == 0) | (dots > 1) | signs_inside
    return np.where(bad, np.nan, values)


_NUMBER_WIDTH = 15  # "-123456.1234567": longer numbers are read one by one
_POW10 = 10.0 ** np.arange(16)


def _number(text: bytes) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _chunks(data: bytes) -> list[memoryview]:
    """The file cut at line ends into pieces of about ``CHUNK_BYTES`` (views, not copies)."""
    out = []
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", min(pos + CHUNK_BYTES, len(data)))
        end = len(data) if end < 0 else end + 1
        out.append(view[pos:end])
        pos = end
    return out


def _lines(data: bytes) -> _Lines:
    data = data.upper()
    if b"\r" in data:
        data = data.replace(b"\r", b"")
    if re.search(rb"(?m)^[ \t]+[GMT;]", data[:1_000_000]):
        data = re.sub(rb"(?m)^[ \t]+", b"", data)
    parts = [_tokenise(piece) for piece in _chunks(data)]
    if not parts:
        return _Lines(np.zeros(0, np.int32), np.zeros((len(_LETTERS), 0)), {})
    text: dict[int, bytes] = {}
    base = 0
    for part in parts:
        text.update({base + k: v for k, v in part.text.items()})
        base += len(part.code)
    return _Lines(
        code=np.concatenate([p.code for p in parts]),
        words=np.concatenate([p.words for p in parts], axis=1),
        text=text,
    )


# --------------------------------------------------------------------------- modal state


def _last_index(mask: np.ndarray) -> np.ndarray:
    """For each row, the index of the last row at or before it where ``mask`` holds (-1: none)."""
    idx = np.where(mask, np.arange(len(mask)), -1)
    return np.maximum.accumulate(idx) if len(idx) else idx


def _reset_cumsum(assign: np.ndarray, value: np.ndarray, increment: np.ndarray) -> np.ndarray:
    """Position after each row: set to ``value`` where ``assign``, else moved by ``increment``."""
    total = np.cumsum(increment)
    last = _last_index(assign)
    base = np.where(last >= 0, value[np.maximum(last, 0)] - total[np.maximum(last, 0)], 0.0)
    return base + total


def read_gcode(data: bytes) -> tuple[Toolpath, GcodeInfo]:
    """Moves, layers, roles and events of a G-code file, and what it declares."""
    lines = _lines(data)
    code, w = lines.code, lines.words
    n = len(code)
    word = {chr(c): w[i] for i, c in enumerate(_LETTERS)}
    present = {k: ~np.isnan(v) for k, v in word.items()}

    move = np.isin(code, _MOVES)
    inches = bool((code == G20).any())
    scale = np.ones(n)
    if inches:  # G20/G21 switch units for the words that follow
        unit_rows = np.isin(code, (G20, G21))
        last = _last_index(unit_rows)
        scale = np.where((last >= 0) & (code[np.maximum(last, 0)] == G20), 25.4, 1.0)

    # Absolute or relative: G90/G91 for all axes, M82/M83 for the extruder after them.
    xyz_mode = np.isin(code, (G90, G91))
    last = _last_index(xyz_mode)
    xyz_relative = (last >= 0) & (code[np.maximum(last, 0)] == G91)
    e_mode = np.isin(code, (G90, G91, M82, M83))
    last = _last_index(e_mode)
    e_relative = (last >= 0) & np.isin(code[np.maximum(last, 0)], (G91, M83))

    g92 = code == G92
    g92_bare = g92 & ~(present["X"] | present["Y"] | present["Z"] | present["E"])
    g28 = code == G28
    g28_bare = g28 & ~(present["X"] | present["Y"] | present["Z"])
    positions = {}
    for axis in _AXES:
        val = np.nan_to_num(word[axis]) * scale
        has = present[axis]
        relative = e_relative if axis == "E" else xyz_relative
        assign = (move & has & ~relative) | (g92 & has) | g92_bare
        if axis != "E":
            assign |= (g28 & has) | g28_bare
        value = np.where((g92_bare | g28) & ~(move | (g92 & has)), 0.0, val)
        increment = np.where(move & has & relative, val, 0.0)
        positions[axis] = _reset_cumsum(assign, value, increment)

    feed_set = move & present["F"]
    last = _last_index(feed_set)
    feed_mm_min = np.where(
        last >= 0, word["F"][np.maximum(last, 0)] * scale[np.maximum(last, 0)], DEFAULT_FEED_MM_MIN
    )

    # Roles from ;TYPE: comments, carried forward.
    type_rows = np.flatnonzero(code == C_TYPE)
    role_names = ["travel", "retract", "extrude"]
    type_role = np.zeros(n, dtype=np.int64)  # 0: none yet
    if type_rows.size:
        known: dict[bytes, str] = {}
        names = []
        for r in type_rows:
            line = lines.text[int(r)]
            if line not in known:
                known[line] = _role_name(line)
            names.append(known[line])
        for name in names:
            if name not in role_names:
                role_names.append(name)
        ids = np.array([role_names.index(nm) for nm in names])
        marks = np.zeros(n, dtype=np.int64)
        marks[type_rows] = ids
        last = _last_index(code == C_TYPE)
        type_role = np.where(last >= 0, marks[np.maximum(last, 0)], 0)

    # Moves: start = position before the row, end = position after it.
    rows = np.flatnonzero(move)
    xyz_all = np.column_stack([positions["X"], positions["Y"], positions["Z"]])
    end = xyz_all[rows]
    begin = np.vstack([np.zeros((1, 3)), xyz_all])[rows]  # row r starts at position r-1
    e_all = positions["E"]
    de = e_all[rows] - np.concatenate([[0.0], e_all])[rows]
    feed = feed_mm_min[rows] / 60.0
    arcs = np.isin(code[rows], (G2, G3))

    xy_moved = np.abs(end[:, :2] - begin[:, :2]).max(axis=1) > 1e-9 if rows.size else arcs
    z_moved = np.abs(end[:, 2] - begin[:, 2]) > 1e-9
    moved = xy_moved | z_moved | arcs
    e_moved = np.abs(de) > 1e-12
    keep = moved | e_moved  # "G1 F1200" alone changes the feed only
    kind = np.where(
        moved,
        np.where((de > 0) & (xy_moved | arcs), MoveKind.EXTRUDE, MoveKind.TRAVEL),
        MoveKind.RETRACT,
    ).astype(np.uint8)
    role = np.where(
        kind == MoveKind.EXTRUDE,
        np.where(type_role[rows] > 0, type_role[rows], 2),
        np.where(kind == MoveKind.TRAVEL, 0, 1),
    )
    rows, end, begin, de, feed, kind, role, arcs = (
        a[keep] for a in (rows, end, begin, de, feed, kind, role, arcs)
    )

    # Layers: slicer comments if any, else every new Z of an extruding move.
    layer_rows = np.flatnonzero(code == C_LAYER)
    extruding = kind == MoveKind.EXTRUDE
    if layer_rows.size:
        layer_of_move = np.searchsorted(layer_rows, rows, side="right") - 1
    else:
        z_ext = end[extruding, 2]
        new = np.concatenate([[True], np.abs(np.diff(z_ext)) > 1e-6]) if z_ext.size else z_ext
        firsts = np.flatnonzero(extruding)[new.astype(bool)]
        layer_of_move = np.searchsorted(firsts, np.arange(len(rows)), side="right") - 1
    first_layer_index = int(np.searchsorted(layer_of_move, 0)) if len(rows) else 0
    layer = np.maximum(layer_of_move, 0).astype(np.int32)
    n_layers = int(layer.max()) + 1 if len(layer) else 0
    layer_z = np.full(n_layers, np.nan)
    ext_idx = np.flatnonzero(extruding)
    ext_idx = ext_idx[ext_idx >= first_layer_index]  # not the start G-code's purge line
    if ext_idx.size:
        first_of_layer = np.unique(layer[ext_idx], return_index=True)
        layer_z[first_of_layer[0]] = end[ext_idx[first_of_layer[1]], 2]
    layer_z = _fill_nan_forward(layer_z)

    # Arcs become short chords (they are rare: one Python step each).
    starts_xyz = begin
    if arcs.any():
        end, de, feed, kind, role, layer, rows, starts_xyz = _expand_arcs(
            lines, arcs, rows, begin, end, de, feed, kind, role, layer
        )

    # Events before the move that follows their line.
    def move_index(row_indices: np.ndarray) -> np.ndarray:
        return np.searchsorted(rows, row_indices)

    events: list[Event] = []
    if n_layers:
        firsts = np.searchsorted(layer, np.arange(n_layers))
        for i, (idx, z) in enumerate(zip(firsts, layer_z, strict=True)):
            if idx < len(layer) and layer[idx] == i:
                events.append(Event(int(idx), EventKind.LAYER_CHANGE, float(z)))
    heat = np.flatnonzero(np.isin(code, (M109, M190)) & present["S"])
    for r, idx in zip(heat, move_index(heat), strict=True):
        name = "M109" if code[r] == M109 else "M190"
        events.append(Event(int(idx), EventKind.HEAT, float(word["S"][r]), name))
    dwell = np.flatnonzero(code == G4)
    for r, idx in zip(dwell, move_index(dwell), strict=True):
        seconds = word["S"][r] if present["S"][r] else np.nan_to_num(word["P"][r]) / 1000.0
        events.append(Event(int(idx), EventKind.DWELL, float(seconds)))
    colour = np.flatnonzero(code == M600)
    for idx in move_index(colour):
        events.append(Event(int(idx), EventKind.COLOUR_CHANGE, 0.0, "M600"))
    pause_rows = np.flatnonzero(np.isin(code, (M0, M1, M25, M601)))
    for idx in move_index(pause_rows):
        events.append(Event(int(idx), EventKind.PAUSE, 0.0, "pause"))
    tool_rows = np.flatnonzero((code >= _code(_T, 0)) & (code < _code(_T, 100)))
    tools = [int(code[r] - _code(_T, 0)) for r in tool_rows]
    current = tools[0] if tools else 0
    for r, tool in zip(tool_rows[1:], tools[1:], strict=True):
        if tool != current:
            events.append(Event(int(move_index(np.array([r]))[0]), EventKind.TOOL_CHANGE, tool))
            current = tool
    events.sort(key=lambda ev: ev.index)

    tp = Toolpath(
        xyz=np.ascontiguousarray(end, dtype=float),
        kind=np.ascontiguousarray(kind, dtype=np.uint8),
        feed=np.ascontiguousarray(feed, dtype=float),
        e=np.ascontiguousarray(de, dtype=float),
        power=np.zeros(len(kind)),
        layer=np.ascontiguousarray(layer, dtype=np.int32),
        role=np.ascontiguousarray(role, dtype=np.uint8),
        roles=tuple(role_names),
        events=tuple(events),
        start=tuple(float(v) for v in starts_xyz[0]) if len(starts_xyz) else (0.0, 0.0, 0.0),  # type: ignore[arg-type]
        layer_z=tuple(float(z) for z in layer_z),
    )

    nozzle = np.flatnonzero(np.isin(code, (M104, M109)) & present["S"])
    bed = np.flatnonzero(np.isin(code, (M140, M190)) & present["S"])
    fan = np.flatnonzero(code == M106)
    fan_values = np.where(present["S"][fan], word["S"][fan], 255.0) if fan.size else np.zeros(0)
    header = _header(data)
    info = GcodeInfo(
        slicer=header.get("slicer", ""),
        flavour=header.get("flavour", ""),
        nozzle_temperatures=tuple(float(v) for v in word["S"][nozzle]),
        bed_temperatures=tuple(float(v) for v in word["S"][bed]),
        filament_diameter=_float(header.get("filament_diameter")),
        nozzle_diameter=_float(header.get("nozzle_diameter")),
        bed_shape=_bed_shape(header.get("bed_shape", "")),
        filament_mm=float(de[kind == MoveKind.EXTRUDE].sum()),
        declared_filament_mm=_float(header.get("filament_mm")),
        declared_time_s=_float(header.get("time_s")),
        tools=tuple(sorted(set(tools))),
        max_fan=float(fan_values.max() / 255.0) if fan_values.size else 0.0,
        limits=_limits(lines),
        extended_commands=_extended(lines),
        inches=inches,
        first_layer_index=first_layer_index,
    )
    return tp, info


def _fill_nan_forward(values: np.ndarray) -> np.ndarray:
    if not len(values) or not np.isnan(values).any():
        return values
    good = ~np.isnan(values)
    if not good.any():
        return np.zeros_like(values)
    last = _last_index(good)
    first = int(np.flatnonzero(good)[0])
    return values[np.where(last >= 0, last, first)]


def _role_name(line: bytes) -> str:
    name = line.split(b":", 1)[1].split(b";", 1)[0].strip().decode("ascii", "replace")
    return ROLE_NAMES.get(name, re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "extrude")


def _expand_arcs(lines, arcs, rows, begin, end, de, feed, kind, role, layer):
    """Replace each G2/G3 move by chords of about ``ARC_SEGMENT_MM``, extrusion shared out."""
    w = lines.words
    i_row, j_row, r_row = (w[_LETTERS.index(c)] for c in (b"I", b"J", b"R"))
    clockwise = lines.code[rows] == G2
    pieces = []
    counts = np.ones(len(rows), dtype=np.int64)
    for m in np.flatnonzero(arcs):
        r = rows[m]
        p0, p1 = begin[m], end[m]
        if not np.isnan(i_row[r]) or not np.isnan(j_row[r]):
            centre = p0[:2] + np.nan_to_num([i_row[r], j_row[r]])
        elif not np.isnan(r_row[r]):
            centre = _centre_from_radius(p0[:2], p1[:2], float(r_row[r]), bool(clockwise[m]))
        else:
            pieces.append(p1[None])
            continue
        a0 = np.arctan2(*(p0[:2] - centre)[::-1])
        a1 = np.arctan2(*(p1[:2] - centre)[::-1])
        sweep = a1 - a0
        if clockwise[m]:
            sweep = sweep if sweep < 0 else sweep - 2 * np.pi
        else:
            sweep = sweep if sweep > 0 else sweep + 2 * np.pi
        if np.allclose(p0[:2], p1[:2]):
            sweep = -2 * np.pi if clockwise[m] else 2 * np.pi  # a full circle
        radius = float(np.linalg.norm(p0[:2] - centre))
        k = max(1, int(np.ceil(abs(sweep) * radius / ARC_SEGMENT_MM)))
        t = np.arange(1, k + 1) / k
        ang = a0 + sweep * t
        pts = np.column_stack(
            [
                centre[0] + radius * np.cos(ang),
                centre[1] + radius * np.sin(ang),
                p0[2] + t * (p1[2] - p0[2]),
            ]
        )
        pts[-1] = p1
        pieces.append(pts)
        counts[m] = k
    repeat = np.repeat(np.arange(len(rows)), counts)
    new_end = end[repeat].copy()
    arc_positions = np.flatnonzero(arcs)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for m, pts in zip(arc_positions, pieces, strict=True):
        new_end[offsets[m] : offsets[m] + len(pts)] = pts
    share = 1.0 / counts[repeat]
    new_start = np.vstack([begin[:1], new_end[:-1]]) if len(new_end) else new_end
    return (
        new_end,
        de[repeat] * share,
        feed[repeat],
        kind[repeat],
        role[repeat],
        layer[repeat],
        rows[repeat],
        new_start,
    )


def _centre_from_radius(p0, p1, radius, clockwise) -> np.ndarray:
    mid = (p0 + p1) / 2
    chord = p1 - p0
    half = np.linalg.norm(chord) / 2
    h = np.sqrt(max(radius * radius - half * half, 0.0))
    normal = np.array([-chord[1], chord[0]]) / max(2 * half, 1e-12)
    # Positive R: the shorter arc; its centre lies to the right of the chord for G2.
    side = -1.0 if clockwise else 1.0
    if radius < 0:
        side = -side
    return mid + side * h * normal


# --------------------------------------------------------------------------- what the file says

_TIME_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _header(data: bytes) -> dict[str, str]:
    """Slicer, flavour and settings from the comments at the head and tail of the file."""
    head, tail = data[:65536], data[-262144:]
    out: dict[str, str] = {}
    assigns: dict[str, str] = {}
    for part in (head, tail):
        for key, value in _HEADER_ASSIGN.findall(part):
            assigns.setdefault(
                key.decode("ascii", "replace").strip().lower(), value.decode("utf-8", "replace")
            )
    cura = {k.decode(): v.decode("utf-8", "replace") for k, v in _CURA_HEADER.findall(head)}
    generated = re.search(rb"(?im)^;\s*generated (?:by|with) ([^\r\n]+)", head)
    if generated:
        out["slicer"] = generated.group(1).decode("utf-8", "replace").strip()
    flavour = assigns.get("gcode_flavor") or cura.get("FLAVOR", "")
    if flavour:
        out["flavour"] = flavour.strip()
    for key in ("filament_diameter", "nozzle_diameter"):
        if key in assigns:
            out[key] = assigns[key].split(",")[0]
    if "bed_shape" in assigns:
        out["bed_shape"] = assigns["bed_shape"]
    if "filament used [mm]" in assigns:
        out["filament_mm"] = assigns["filament used [mm]"].split(",")[0]
    elif "Filament used" in cura:
        metres = _float(cura["Filament used"].strip().rstrip("m").split(",")[0])
        if metres:  # CuraEngine alone writes "0m": Cura's front end fills it in
            out["filament_mm"] = str(metres * 1000.0)
    time_text = assigns.get("estimated printing time (normal mode)")
    if time_text:
        out["time_s"] = str(
            sum(int(n) * _TIME_UNITS[u] for n, u in re.findall(r"(\d+)([dhms])", time_text))
        )
    else:  # Cura: the last layer's elapsed time (CuraEngine alone leaves ;TIME:6666 in the header)
        elapsed = re.findall(rb"(?m)^;TIME_ELAPSED:([\d.]+)", tail)
        if elapsed:
            out["time_s"] = elapsed[-1].decode()
        elif "TIME" in cura:
            out["time_s"] = cura["TIME"]
    return out


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def _bed_shape(text: str) -> tuple[tuple[float, float], ...]:
    points = []
    for pair in text.split(","):
        xy = pair.strip().split("x")
        if len(xy) == 2 and _float(xy[0]) is not None and _float(xy[1]) is not None:
            points.append((float(xy[0]), float(xy[1])))
    return tuple(points)


def _limits(lines: _Lines) -> dict[str, float]:
    """Machine limits the file sets (the last value of each), in mm/s and mm/s²."""
    out: dict[str, float] = {}
    marlin = {
        M201: {"X": "max_accel_x", "Y": "max_accel_y", "Z": "max_accel_z", "E": "max_accel_e"},
        M203: {"X": "max_feed_x", "Y": "max_feed_y", "Z": "max_feed_z", "E": "max_feed_e"},
        M204: {"P": "accel", "S": "accel", "T": "travel_accel", "R": "retract_accel"},
        M205: {
            "X": "jerk_x",
            "Y": "jerk_y",
            "Z": "jerk_z",
            "E": "jerk_e",
            "J": "junction_deviation",
        },
    }
    for row, text in sorted(lines.text.items()):
        code = int(lines.code[row])
        if code in marlin:
            body = text.split(b";", 1)[0].decode("ascii", "replace").split()[1:]
            for word in body:
                key = marlin[code].get(word[:1])
                value = _float(word[1:])
                if key and value is not None:
                    out[key] = value  # Marlin 2's M203 is in mm/s, as PrusaSlicer writes it
        elif code == C_EXTENDED and text.startswith(b"SET_VELOCITY_LIMIT"):
            names = {
                "VELOCITY": "max_velocity",
                "ACCEL": "accel",
                "SQUARE_CORNER_VELOCITY": "square_corner_velocity",
                "ACCEL_TO_DECEL": "accel_to_decel",
                "MINIMUM_CRUISE_RATIO": "minimum_cruise_ratio",
            }
            for key, value in _KLIPPER_WORD.findall(text.decode("ascii", "replace")):
                if key in names:
                    out[names[key]] = float(value)
    return out


def _extended(lines: _Lines) -> tuple[str, ...]:
    names = []
    for row, text in sorted(lines.text.items()):
        if int(lines.code[row]) == C_EXTENDED:
            name = text.split()[0].decode("ascii", "replace") if text.split() else ""
            if name and name not in names:
                names.append(name)
    return tuple(names)
