"""G-code for GRBL and LinuxCNC mills: G21/G90, M3 S…, G0/G1, M0 with a message at tool changes.

Moves are written in runs of the same motion and feed, each run formatted in
one ``%`` operation over its coordinates (no f-string per move), and streamed.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from typing import IO

import numpy as np

from fabserver.toolpath import EventKind, MoveKind, Toolpath

from .assemble import ToolUse

CHUNK = 50_000
"""Moves formatted per write."""


def run_breaks(tp: Toolpath, extra: Sequence[int] = ()) -> np.ndarray:
    """Start indices of runs with the same rapid/feed motion and speed, plus ``extra`` indices."""
    n = len(tp)
    rapid = tp.kind == MoveKind.TRAVEL
    change = np.flatnonzero((np.diff(rapid.astype(np.int8)) != 0) | (np.diff(tp.feed) != 0)) + 1
    return np.unique(np.concatenate([[0], change, np.asarray(extra, dtype=int), [n]]))


def _coords(xyz: np.ndarray, scale: float = 1.0) -> np.ndarray:
    # + 0.0 turns -0.0 into 0.0 so no "-0.000" reaches the machine.
    return np.round(xyz * scale, 3) + 0.0


def _message(text: str) -> str:
    """Comment-safe ASCII: GRBL and LinuxCNC end comments at ')', and some senders and
    controllers reject bytes outside ASCII even in comments."""
    text = text.replace("(", "[").replace(")", "]").replace("Ø", "D").replace("°", " deg")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def write_gcode(
    f: IO[bytes],
    tp: Toolpath,
    tool_uses: Sequence[ToolUse],
    *,
    safe_z: float,
    start: Sequence[str],
    end: Sequence[str],
    notes: Sequence[str] = (),
) -> None:
    """Stream the program into ``f``; ``notes`` become comment lines at the top."""
    out = [f"({_message(note)})" for note in notes]
    out += list(start)
    out.append(f"G0 Z{safe_z:.3f}")
    f.write(("\n".join(out) + "\n").encode())
    changes = {u.index: u for u in tool_uses}
    dwells = {ev.index: ev.value for ev in tp.events if ev.kind == EventKind.DWELL}
    breaks = run_breaks(tp, [*changes, *dwells])
    for a, b in itertools.pairwise(breaks):
        head = []
        if a in changes:
            use = changes[a]
            desc = use.tool.describe()
            note = _message(f"{use.tool_id}: {desc.fr} / {desc.en}")
            # The toolpath is at safe Z before every tool change.
            head += [
                "M5",
                f"(MSG, Changer l'outil / Change tool: {note})",
                "M0",
                f"M3 S{use.rpm:.0f}",
            ]
        if a in dwells:
            head.append(f"G4 P{dwells[a]:.1f}")
        if head:
            f.write(("\n".join(head) + "\n").encode())
        rapid = tp.kind[a] == MoveKind.TRAVEL
        for c in range(a, b, CHUNK):
            d = min(c + CHUNK, b)
            flat = tuple(_coords(tp.xyz[c:d]).ravel())
            if c == a:
                if rapid:
                    first = "G0 X{:.3f} Y{:.3f} Z{:.3f}\n".format(*flat[:3])
                else:
                    first = "G1 X{:.3f} Y{:.3f} Z{:.3f} F{:.0f}\n".format(
                        *flat[:3], tp.feed[a] * 60.0
                    )
                body = ("X%.3f Y%.3f Z%.3f\n" * (d - c - 1)) % flat[3:]
                f.write((first + body).encode())
            else:
                f.write((("X%.3f Y%.3f Z%.3f\n" * (d - c)) % flat).encode())
    f.write(("\n".join(["M5", f"G0 Z{safe_z:.3f}", *end]) + "\n").encode())
