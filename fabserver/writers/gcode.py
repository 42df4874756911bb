"""G-code from a toolpath: the GRBL laser dialect (``M4`` dynamic power, ``S`` per run) and
the GRBL / LinuxCNC mill dialect (``M3``, ``M0`` with a message at tool changes); the
printers' Marlin and Klipper dialects, in :mod:`.printer`, share its number formatting and
run splitting.

Moves are written in runs over which the command and its words (feed, power)
stay the same; each run is formatted with one ``%`` over its coordinates (no
f-string per move) and streamed in chunks, so a million-move program never sits
in memory as one string.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..designs.indexed import sorted_unique
from ..toolpath import EventKind, MoveKind, Toolpath

CHUNK = 50_000
"""Moves formatted per write."""
COORDINATE = "%.3f"
"""A coordinate's number: micrometres, as every dialect writes them (see :func:`coordinates`)."""


def ascii_text(text: str) -> str:
    """``text`` in plain ASCII (accents dropped, ``Ø`` → ``D``, ``°`` → `` deg``): controllers
    and senders reject other bytes, even in comments."""
    text = text.replace("Ø", "D").replace("°", " deg")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def paren_comment(text: str) -> str:
    """``(text)``, ASCII, with brackets for parentheses: GRBL and LinuxCNC end a comment
    at the first ``)``."""
    return "(" + ascii_text(text.replace("(", "[").replace(")", "]")) + ")"


def run_starts(n: int, *keys: np.ndarray, extra: Sequence[int] = ()) -> np.ndarray:
    """Where runs begin: index 0, every index where one of ``keys`` (each ``(n,)``) changes,
    the ``extra`` indices; ends with ``n``."""
    change = np.zeros(max(n - 1, 0), dtype=bool)
    for key in keys:
        change |= key[1:] != key[:-1]
    return sorted_unique(
        np.concatenate([[0], np.flatnonzero(change) + 1, np.asarray(extra, dtype=int), [n]])
    ).astype(int)


def coordinates(xyz: np.ndarray) -> np.ndarray:
    """Rounded to the micrometre; ``+ 0.0`` turns ``-0.0`` into ``0.0`` so no ``-0.000``
    reaches the machine."""
    return np.round(xyz, 3) + 0.0


def write_runs(
    out: IO[bytes],
    xyz: np.ndarray,
    rapid: np.ndarray,
    starts: np.ndarray,
    words: Callable[[int], str],
    before: Callable[[int], Sequence[str]] = lambda index: (),
    modal: bool = False,
) -> None:
    """The moves to ``xyz`` (``(n, 2)`` or ``(n, 3)``), run by run.

    A run (``starts[k]:starts[k + 1]``) is ``G0`` when ``rapid`` at its first move,
    else ``G1`` with ``words(first)`` (e.g. ``" F1200 S300"``) on its first line;
    ``before(first)`` lines come first (a tool change). ``modal``: the lines after a
    run's first omit the ``G`` word (mills); otherwise every line repeats it.
    """
    axes = "XYZ"[: xyz.shape[1]]
    point = " ".join(f"{a}{COORDINATE}" for a in axes) + "\n"
    flat_xyz = coordinates(xyz)
    buf: list[str] = []
    for a, b in itertools.pairwise(starts.tolist()):
        buf += [line + "\n" for line in before(a)]
        g = "G0" if rapid[a] else "G1"
        rest = point if modal else f"{g} {point}"
        for c in range(a, b, CHUNK):
            d = min(c + CHUNK, b)
            flat = tuple(flat_xyz[c:d].ravel().tolist())
            if c == a:
                first = f"{g} {point[:-1]}" % flat[: len(axes)]
                buf.append(first + ("" if rapid[a] else words(a)) + "\n")
                flat = flat[len(axes) :]
                d_rest = d - c - 1
            else:
                d_rest = d - c
            buf.append((rest * d_rest) % flat)
            if len(buf) >= 256:
                out.write("".join(buf).encode())
                buf.clear()
    out.write("".join(buf).encode())


def write_grbl_laser(
    out: IO[bytes],
    tp: Toolpath,
    mask: np.ndarray,
    s_max: float,
    air_assist: bool,
    header: Sequence[str] = (),
    role_notes: Mapping[str, str] | None = None,
    beam_off_role: str = "overscan",
) -> None:
    """A GRBL laser program in dynamic power mode (``$32=1``, ``M4``) of the moves ``mask``.

    With ``M4`` the controller scales the beam with the actual speed, so corners
    and accelerations do not burn deeper; ``G0`` moves always have the beam off,
    and moves of ``beam_off_role`` (engraving overscan) are ``G1 S0``. ``S`` is a
    share of ``$30`` (``s_max``). ``header`` lines become comments at the top;
    ``role_notes[role]`` a comment where that role's moves begin.
    """
    lines = [f"; {h}" for h in header]
    lines += ["G21 ; millimetres", "G90 ; absolute", "G94 ; feed per minute"]
    lines += ["M4 S0 ; dynamic laser power, beam off"]
    if air_assist:
        lines.append("M8 ; air assist on")
    out.write(ascii_text("\n".join(lines) + "\n").encode())

    idx = np.flatnonzero(mask)
    if idx.size:
        kind = tp.kind[idx]
        beam_off = tp.role_mask(beam_off_role)[idx]
        rapid = ((kind == MoveKind.TRAVEL) | (kind == MoveKind.JUMP)) & ~beam_off
        feed = np.round(tp.feed[idx] * 60.0).astype(np.int64)  # mm/min
        s = np.round(
            np.where(rapid | beam_off, 0.0, tp.power[idx] * s_max), 1 if s_max < 100 else 0
        )
        role = tp.role[idx]
        notes = role_notes or {}
        last_note = [""]

        def note(a: int) -> list[str]:
            r = int(role[a])
            name = tp.roles[r] if r < len(tp.roles) else ""
            if name in notes and notes[name] != last_note[0]:
                last_note[0] = notes[name]
                return [f"; {ascii_text(notes[name])}"]
            return []

        def words(a: int) -> str:
            power = f"{s[a]:.0f}" if s_max >= 100 else f"{s[a]:.1f}"
            return f" F{feed[a]} S{power}"

        starts = run_starts(idx.size, rapid, feed, s, role)
        write_runs(out, tp.xyz[idx, :2], rapid, starts, words, note)

    tail = ["M5 ; beam off"]
    if air_assist:
        tail.append("M9 ; air assist off")
    tail += ["G0 X0 Y0", "M2"]
    out.write(("\n".join(tail) + "\n").encode())


@dataclass(frozen=True)
class ToolChange:
    """What the operator mounts before move ``index``, and the spindle speed for it."""

    index: int
    message: str  # shown by the controller during the M0 pause
    rpm: float


def write_grbl_mill(
    out: IO[bytes],
    tp: Toolpath,
    tool_changes: Sequence[ToolChange],
    *,
    safe_z: float,
    start: Sequence[str],
    end: Sequence[str],
    notes: Sequence[str] = (),
) -> None:
    """A GRBL / LinuxCNC mill program: ``notes`` as comments, the profile's ``start`` code,
    the moves (modal ``G0``/``G1`` X Y Z), a pause with a message at each tool change
    (the toolpath is at safe Z then), ``G4`` at dwells, then the profile's ``end`` code."""
    head = [paren_comment(note) for note in notes] + list(start) + [f"G0 Z{safe_z:.3f}"]
    out.write(("\n".join(head) + "\n").encode())
    changes = {c.index: c for c in tool_changes}
    dwells = {ev.index: ev.value for ev in tp.events if ev.kind == EventKind.DWELL}

    def before(a: int) -> list[str]:
        lines = []
        if a in changes:
            change = changes[a]
            message = paren_comment(f"MSG, Changer l'outil / Change tool: {change.message}")
            lines += ["M5", message, "M0", f"M3 S{change.rpm:.0f}"]
        if a in dwells:
            lines.append(f"G4 P{dwells[a]:.1f}")
        return lines

    rapid = tp.kind == MoveKind.TRAVEL
    starts = run_starts(len(tp), rapid, tp.feed, extra=[*changes, *dwells])
    write_runs(
        out, tp.xyz, rapid, starts, lambda a: f" F{tp.feed[a] * 60.0:.0f}", before, modal=True
    )
    out.write(("\n".join(["M5", f"G0 Z{safe_z:.3f}", *end]) + "\n").encode())
