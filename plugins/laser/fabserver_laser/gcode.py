"""GRBL G-code for a laser in dynamic power mode (``$32=1``, ``M4``).

With ``M4`` the controller scales the beam with the actual speed, so corners
and accelerations do not burn deeper; ``G0`` moves always have the beam off.
``S`` is a share of ``$30`` (``s_max`` in the machine profile). Moves are
formatted a run at a time (one ``%`` over a whole array), never one f-string
per move.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import numpy as np

from fabserver.toolpath import MoveKind, Toolpath

from .work import ROLE_OVERSCAN


def _runs(change: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` ranges between the ``True`` entries of ``change`` (first is a start)."""
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], len(change)]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def write_gcode(
    out: IO[bytes],
    tp: Toolpath,
    mask: np.ndarray,
    s_max: float,
    air_assist: bool,
    header: Sequence[str] = (),
    operation_names: dict[str, str] | None = None,
) -> None:
    """Write the moves of ``tp`` selected by ``mask`` (one sheet) as a G-code program."""
    lines = [f"; {h}" for h in header]
    lines += ["G21 ; millimetres", "G90 ; absolute", "G94 ; feed per minute"]
    lines += ["M4 S0 ; dynamic laser power, beam off"]
    if air_assist:
        lines.append("M8 ; air assist on")
    # Controllers read bytes: keep comments ASCII (a material name may not be).
    out.write(("\n".join(lines) + "\n").encode("ascii", "replace"))

    idx = np.flatnonzero(mask)
    if idx.size:
        xy = tp.xyz[idx, :2]
        kind = tp.kind[idx]
        overscan = tp.role_mask(ROLE_OVERSCAN)[idx]
        rapid = ((kind == MoveKind.TRAVEL) | (kind == MoveKind.JUMP)) & ~overscan
        feed = np.round(tp.feed[idx] * 60.0).astype(np.int64)  # mm/min
        s = np.where(rapid | overscan, 0.0, tp.power[idx] * s_max)
        s = np.round(s, 1 if s_max < 100 else 0)
        role = tp.role[idx]
        names = operation_names or {}
        # A new run starts where the command, feed, power or role changes.
        change = np.ones(idx.size, dtype=bool)
        change[1:] = (
            (rapid[1:] != rapid[:-1])
            | (feed[1:] != feed[:-1])
            | (s[1:] != s[:-1])
            | (role[1:] != role[:-1])
        )
        buf: list[str] = []
        last_note = ""
        flat = np.round(xy, 3)
        for a, b in _runs(change):
            r = int(role[a])
            name = tp.roles[r] if r < len(tp.roles) else ""
            if name in names and names[name] != last_note:
                buf.append(f"; {names[name]}\n")
                last_note = names[name]
            coords = tuple(flat[a:b].ravel().tolist())
            if rapid[a]:
                buf.append(("G0 X%.3f Y%.3f\n" * (b - a)) % coords)
            else:
                sval = f"{s[a]:.0f}" if s_max >= 100 else f"{s[a]:.1f}"
                first = f"G1 X%.3f Y%.3f F{feed[a]} S{sval}\n" % coords[:2]
                rest = ("G1 X%.3f Y%.3f\n" * (b - a - 1)) % coords[2:]
                buf.append(first + rest)
            if len(buf) >= 256:
                out.write("".join(buf).encode())
                buf.clear()
        out.write("".join(buf).encode())

    tail = ["M5 ; beam off"]
    if air_assist:
        tail.append("M9 ; air assist off")
    tail += ["G0 X0 Y0", "M2"]
    out.write(("\n".join(tail) + "\n").encode())
