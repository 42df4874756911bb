"""Read a stitch file back into arrays: for checks, tests and comparisons.

Goes through pyembroidery's readers, independently of how the file was made,
so it also reads other people's files (the corpus' Star.DST, for instance).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from pyembroidery import (
    COLOR_CHANGE,
    JUMP,
    STITCH,
    TRIM,
    DstReader,
    EmbPattern,
    ExpReader,
    JefReader,
    PesReader,
)

READERS = {"dst": DstReader, "pes": PesReader, "jef": JefReader, "exp": ExpReader}


@dataclass(frozen=True)
class StitchFile:
    """Needle and frame positions of a stitch file, in millimetres, y up.

    xy : (n, 2) float — end of each record (stitches and jumps)
    is_stitch : (n,) bool — a needle penetration (else a jump)
    block : (n,) int — colour block of each record (0, 1, …)
    threads : hex colour of each block's thread, as stored (empty when the format has none)
    """

    xy: np.ndarray
    is_stitch: np.ndarray
    block: np.ndarray
    threads: tuple[str, ...]
    colour_changes: int
    trims: int

    @property
    def stitches(self) -> np.ndarray:
        return self.xy[self.is_stitch]

    def stitch_segments(self) -> np.ndarray:
        """``(m, 2, 2)``: each stitch from the previous record's position (where the needle was)."""
        start = np.vstack([np.zeros((1, 2)), self.xy[:-1]])
        both = np.stack([start, self.xy], axis=1)
        return both[self.is_stitch]

    def stitch_lengths(self) -> np.ndarray:
        seg = self.stitch_segments()
        return np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1)

    def sewn_lines(self, mask: np.ndarray | None = None) -> list[np.ndarray]:
        """Runs of consecutive stitches as polylines ``(k, 2)`` (jumps break them).

        ``mask`` ``(n,) bool`` keeps some records only (e.g. one colour block).
        """
        out = []
        start = np.vstack([np.zeros((1, 2)), self.xy[:-1]])
        keep = self.is_stitch if mask is None else self.is_stitch & mask
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return out
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        for run in np.split(idx, breaks):
            out.append(np.vstack([start[run[0]][None], self.xy[run]]))
        return out


def read_stitch_file(data: bytes, fmt: str) -> StitchFile:
    """Parse ``data`` written in ``fmt`` (``"dst"``, ``"pes"``, ``"jef"``, ``"exp"``)."""
    pattern = EmbPattern.read_embroidery(READERS[fmt], io.BytesIO(data))
    rows = np.array([s[:3] for s in pattern.stitches], dtype=float).reshape(-1, 3)
    command = rows[:, 2].astype(int) & 0xFF
    block = np.cumsum(command == COLOR_CHANGE)
    moving = (command == STITCH) | (command == JUMP)
    xy = rows[moving, :2] / 10.0 * np.array([1.0, -1.0])
    return StitchFile(
        xy=xy,
        is_stitch=command[moving] == STITCH,
        block=block[moving],
        threads=tuple(t.hex_color() for t in pattern.threadlist),
        colour_changes=int((command == COLOR_CHANGE).sum()),
        trims=int((command == TRIM).sum()),
    )
