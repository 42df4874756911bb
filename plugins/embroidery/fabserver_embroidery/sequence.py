"""From ordered polylines to the machine's moves: stitches, jumps, trims, locks.

Limits are enforced here, once for every stitch type:

- coordinates snap to the file's grid (0.1 mm for DST, PES, JEF and EXP) so the
  plan is exactly what the file holds;
- stitches longer than the format allows are split evenly, and so are jumps;
- stitches shorter than the machine's minimum are merged into the next one
  (the needle would hit its own hole and break the thread);
- between two parts of one colour, a gap up to ``jump_threshold`` is sewn
  across, a longer one is jumped, and beyond ``trim_threshold`` the thread is
  locked, cut, and locked again at the new start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fabserver.toolpath import EventKind, MoveKind, Toolpath, ToolpathBuilder

from .polyline import subdivide

GRID = 0.1  # mm: the unit of every format written here
# Splitting at the limit minus a margin keeps the rounded ends within the limit.
_ROUNDING_MARGIN = 0.15


@dataclass(frozen=True)
class Limits:
    min_stitch: float
    max_stitch: float
    max_jump: float
    jump_threshold: float
    trim_threshold: float
    lock_length: float
    lock: bool = True


@dataclass
class SewnBlock:
    """One thread's stitches in order: a list of polylines."""

    thread: int
    colour_hex: str
    polylines: list[np.ndarray] = field(default_factory=list)


def snap(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, dtype=float) / GRID) * GRID


def merge_short(points: np.ndarray, min_length: float) -> np.ndarray:
    """Drop needle points that make a stitch shorter than ``min_length``.

    ``points[0]`` is where the needle is (never dropped). Each pass drops the
    first short stitch's end in every run of short stitches, so a run of many
    tiny stitches becomes one of about ``min_length``, not a gap.
    """
    pts = np.asarray(points, dtype=float)
    for _ in range(len(pts)):
        if len(pts) < 2:
            return pts
        d = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        short = d < min_length - 1e-9
        if not short.any():
            return pts
        # Stitch i ends at point i + 1. Drop the first short one of each run.
        first_of_run = short & ~np.r_[False, short[:-1]]
        drop = np.r_[False, first_of_run]
        if drop[-1] and len(pts) > 2:
            # Keep the path's end: drop the point before it instead.
            drop[-1] = False
            drop[-2] = True
        pts = pts[~drop]
    return pts


def _lock(at: np.ndarray, toward: np.ndarray, length: float) -> np.ndarray:
    """Three short stitches back and forth from ``at`` toward ``toward``: ``a, at, a, at``."""
    d = toward - at
    n = np.linalg.norm(d)
    u = d / n if n > 1e-9 else np.array([1.0, 0.0])
    a = at + u * length
    return np.array([a, at, a, at])


def _direction_point(poly: np.ndarray, min_distance: float) -> np.ndarray:
    """First point of ``poly`` at least ``min_distance`` from ``poly[0]`` (for lock direction)."""
    d = np.linalg.norm(poly - poly[0], axis=1)
    far = np.flatnonzero(d >= min_distance)
    return poly[far[0]] if far.size else poly[-1]


@dataclass
class Sewing:
    """The needle's state while moves are added: where it is, which thread, locked or not."""

    limits: Limits
    stitch_rate_hz: float
    travel_feed: float
    builder: ToolpathBuilder = field(default_factory=ToolpathBuilder)
    here: np.ndarray = field(default_factory=lambda: np.zeros(2))
    role: str = "#000000"
    trims: int = 0
    colour_changes: int = 0
    _stitched_since_trim: bool = False
    _recent: np.ndarray | None = None

    def _stitches(self, points: np.ndarray) -> None:
        """Sew from ``here`` through ``points`` (split, snapped, short ones merged)."""
        pts = np.vstack([self.here[None], np.asarray(points, dtype=float)])
        longest = self.limits.max_stitch - _ROUNDING_MARGIN
        pts = merge_short(snap(subdivide(pts, longest)), self.limits.min_stitch)
        if np.linalg.norm(np.diff(pts, axis=0), axis=1).max(initial=0.0) > longest:
            # A merge lengthened a stitch past the limit: split again (halves are long).
            pts = snap(subdivide(pts, longest))
        moves = pts[1:]
        if len(moves) == 0:
            return
        lengths = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        # One stitch per needle cycle: feed = stitch length × stitch rate.
        self.builder.add_path(
            moves, MoveKind.STITCH, lengths * self.stitch_rate_hz, role=self.role, z=0.0
        )
        # The last needle points, newest first: where a tie-off turns back to.
        self._recent = pts[::-1][:16]
        self.here = pts[-1]
        self._stitched_since_trim = True

    def _jump(self, target: np.ndarray) -> None:
        target = snap(target)
        pts = subdivide(
            np.vstack([self.here[None], target[None]]), self.limits.max_jump - _ROUNDING_MARGIN
        )
        pts = snap(pts)
        keep = np.r_[False, np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-9]
        moves = pts[keep]
        if len(moves) == 0:
            return
        lengths = np.linalg.norm(moves - np.vstack([self.here[None], moves[:-1]]), axis=1)
        feed = np.minimum(lengths * self.stitch_rate_hz, self.travel_feed)
        self.builder.add_path(moves, MoveKind.JUMP, feed, role="jump", z=0.0)
        self.here = moves[-1]

    def _tie_off(self) -> None:
        if self.limits.lock and self._stitched_since_trim and self._recent is not None:
            # Back along what was just sewn, so the lock stays on the sewn line.
            toward = _direction_point(self._recent, self.limits.lock_length)
            length = min(self.limits.lock_length, float(np.linalg.norm(toward - self.here)))
            back = _lock(self.here, toward, max(length, self.limits.min_stitch))
            self._stitches(back)

    def _tie_in(self, poly: np.ndarray) -> None:
        if self.limits.lock and len(poly) >= 2:
            lock = _lock(
                snap(poly[0]),
                snap(_direction_point(poly, self.limits.lock_length)),
                self.limits.lock_length,
            )
            self._stitches(lock)

    def trim(self) -> None:
        self._tie_off()
        self.builder.event(EventKind.TRIM)
        self.trims += 1
        self._stitched_since_trim = False

    def start_block(self, block: SewnBlock, first: bool) -> None:
        if not first:
            # Tie off in the old colour before the change.
            self._tie_off()
            self.builder.event(EventKind.COLOUR_CHANGE, block.thread)
            self.colour_changes += 1
            self._stitched_since_trim = False
        self.role = block.colour_hex

    def sew_polyline(self, poly: np.ndarray, fresh: bool) -> None:
        """Reach ``poly[0]`` (stitch across, jump, or trim and jump) then sew it."""
        poly = np.asarray(poly, dtype=float)
        if len(poly) == 0:
            return
        gap = float(np.linalg.norm(snap(poly[0]) - self.here))
        if fresh:
            self._jump(poly[0])
            self._tie_in(poly)
            self._stitches(poly[1:] if not self.limits.lock else poly)
            return
        if gap <= self.limits.jump_threshold:
            self._stitches(poly)
            return
        trimmed = gap > self.limits.trim_threshold
        if trimmed:
            self.trim()
        self._jump(poly[0])
        if trimmed:
            self._tie_in(poly)
            self._stitches(poly if self.limits.lock else poly[1:])
        else:
            self._stitches(poly[1:])

    def finish(self) -> Toolpath:
        if self._stitched_since_trim:
            self.trim()
        return self.builder.build()


def build_toolpath(
    blocks: list[SewnBlock], limits: Limits, stitch_rate_hz: float, travel_feed: float
) -> Toolpath:
    """The toolpath of ``blocks`` sewn in order, starting and centred at the origin."""
    seq = Sewing(limits, stitch_rate_hz, travel_feed)
    for b, block in enumerate(blocks):
        seq.start_block(block, first=(b == 0))
        for p, poly in enumerate(block.polylines):
            seq.sew_polyline(poly, fresh=(p == 0))
    return seq.finish()
