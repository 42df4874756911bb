"""G-code for 3D printers from a toolpath: the Marlin 2 and Klipper dialects.

Relative extrusion (``M83``) throughout, as both firmwares prefer for long prints.
Moves are formatted in bulk: each move gets one of 32 line templates (which of
X, Y, Z, E and F changed), the changed values are gathered with a mask, and one
``%`` formatting per chunk turns them into text; no f-string per move. The file
is streamed a piece at a time, cut at layer changes, feature changes and chunk
bounds (:func:`~fabserver.writers.gcode.run_starts`, as the GRBL dialects cut theirs).

The file carries PrusaSlicer's comments (``;LAYER_CHANGE``, ``;Z:``,
``;HEIGHT:``, ``;TYPE:``, the estimates at the end), so PrusaSlicer's G-code
viewer, OctoPrint and Moonraker read its layers and figures. What differs
between firmwares is a :class:`PrinterDialect`'s hooks: the commands it accepts
(to check a profile's start and end code), the planner limits at the top, the
progress display (``M73``), and the lines before each feature.
"""

from __future__ import annotations

import mmap
import os
import re
import signal
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, ClassVar

import numpy as np

from ..estimate import firmware_start_lines
from ..forking import only_threads_named
from ..profiles import Kinematics
from ..toolpath import EventKind, MoveKind, Toolpath
from .gcode import COORDINATE, coordinates, run_starts

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

_FORMATS = (*(f" {axis}{COORDINATE}" for axis in "XYZ"), " E%.5f", " F%.0f")
# Line template for every combination of changed words (bit i: X, Y, Z, E, F).
_TEMPLATES = np.array(
    [
        ("G1" + "".join(f for i, f in enumerate(_FORMATS) if code >> i & 1) + "\n") if code else ""
        for code in range(32)
    ],
    dtype=object,
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r'([A-Z])(?:\s*"[^"]*"|[-+]?(?:\d+\.?\d*|\.\d+))?')
_EXTENDED = re.compile(r"[A-Z_][A-Z0-9_]*(\s+[A-Z_][A-Z0-9_]*=\S+)*")
PIECE_BYTES = 1 << 20
"""Text gathered before a write."""

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


def fill_placeholders(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{name}`` with ``values[name]``; unknown names raise ``KeyError``."""

    def sub(m: re.Match) -> str:
        value = values[m.group(1)]
        return f"{value:g}" if isinstance(value, float) else str(value)

    return _PLACEHOLDER.sub(sub, template)


def placeholders_in(template: str) -> set[str]:
    """The ``{name}`` placeholders a profile's start or end code uses."""
    return set(_PLACEHOLDER.findall(template))


def duration_text(seconds: float) -> str:
    """PrusaSlicer's form: ``1h 2m 3s``."""
    s = round(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] if d else []
    if d or h:
        parts.append(f"{h}h")
    if d or h or m:
        parts.append(f"{m}m")
    parts.append(f"{s}s")
    return " ".join(parts)


@dataclass(frozen=True)
class PrintFigures:
    """What a plate uses and takes, for PrusaSlicer's closing comments."""

    filament_mm: float
    filament_cm3: float
    filament_g: float
    time_s: float


@dataclass(frozen=True)
class PrintProgram:
    """What a printer's file needs besides the toolpath: the profile's code, the
    material's temperatures and fan, per-layer figures and PrusaSlicer's comments."""

    dialect: str  # a key of DIALECTS
    kinematics: Kinematics  # the limits the estimate assumed, set at the top
    start_gcode: str  # placeholders already filled
    end_gcode: str
    temperature: int
    bed_temperature: int
    first_layer_temperature: int
    first_layer_bed_temperature: int
    layer_fan: np.ndarray  # (L,) percent
    bridge_fan: int  # percent while bridging (layers where the fan may run)
    layer_height: np.ndarray  # (L,) mm: each layer's rise from the one before (``;HEIGHT:``)
    layer_time: np.ndarray  # (L,) s, for the printer's progress display (M73)
    header: tuple[str, ...]  # comment lines (without ';')
    figures: PrintFigures
    #: (n,) acceleration of each move where the printer's features have their own
    #: (``fabserver.estimate.move_accelerations``, Klipper); ``None``: the start code's.
    move_accel: np.ndarray | None = None


class _MoveWords:
    """The words of moves ``lo:hi``, worked out in one pass over them.

    ``code`` : (k,) int — which words each line has (bit i: X, Y, Z, E, F)
    ``values`` : (m,) float — the numbers of all lines, in order
    ``offset`` : (k + 1,) int — where each line's numbers start in ``values``

    A coordinate only when it changes, F only when it differs from the last F
    written (before ``lo`` too: the moves are a part of the whole file's). The
    numpy work is done once, not at every layer or feature change; only the text
    is made piece by piece.
    """

    def __init__(self, tp: Toolpath, lo: int = 0, hi: int | None = None):
        hi = len(tp) if hi is None else hi
        self.lo = lo
        xyz, e, changed = _words_changed(tp, lo, hi)
        f = np.round(tp.feed[lo:hi] * 60.0)
        f_idx = np.flatnonzero(_moving(changed))
        fm = f[f_idx]
        last = np.empty(len(fm))
        last[:1] = _last_feed_written(tp, lo)
        last[1:] = fm[:-1]
        changed[:, 4] = False
        changed[f_idx, 4] = fm != last
        self.code = changed[:, 0].astype(np.int64)
        words = changed[:, 0].astype(np.int64)
        for j in range(1, 5):
            column = changed[:, j].astype(np.int64)
            words += column
            self.code += column << j
        self.offset = np.concatenate([[0], np.cumsum(words)])
        # ``column_stack([xyz, e, f])[changed]``, column by column: each line's numbers in
        # the order of its words, without an (n, 5) copy of every number.
        self.values = np.empty(int(self.offset[-1]))
        slot = self.offset[:-1].copy()  # where each line's next number goes
        for j, column in enumerate((xyz[:, 0], xyz[:, 1], xyz[:, 2], e, f)):
            rows = np.flatnonzero(changed[:, j])
            self.values[slot[rows]] = column[rows]
            slot[rows] += 1

    def text(self, lo: int, hi: int) -> str:
        """G-code lines of moves ``lo:hi`` (indices of the whole toolpath)."""
        lo, hi = lo - self.lo, hi - self.lo
        words = self.values[self.offset[lo] : self.offset[hi]].tolist()
        return "".join(_TEMPLATES[self.code[lo:hi]].tolist()) % tuple(words)


def _words_changed(tp: Toolpath, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of moves ``lo:hi``: their coordinates and extrusions as written, and which of their
    words X, Y, Z, E are written (``(k, 5) bool``, the F column left to the caller): a
    coordinate that differs from the one before (``tp.start`` before the first move), an
    extrusion that is not zero."""
    xyz = coordinates(tp.xyz[lo:hi])
    e = np.round(tp.e[lo:hi], 5)
    changed = np.empty((hi - lo, 5), dtype=bool)
    before = tp.xyz[lo - 1] if lo > 0 else np.asarray(tp.start, dtype=float)
    changed[:1, :3] = xyz[:1] != coordinates(before)
    np.not_equal(xyz[1:], xyz[:-1], out=changed[1:, :3])
    changed[:, 3] = e != 0
    return xyz, e, changed


def _moving(changed: np.ndarray) -> np.ndarray:
    """The moves that go somewhere (a line with an F word may follow them), from
    :func:`_words_changed`; column by column: numpy's reductions over rows of a few run
    a slow inner loop."""
    return changed[:, 0] | changed[:, 1] | changed[:, 2] | changed[:, 3]


def _last_feed_written(tp: Toolpath, lo: int, window: int = 256) -> float:
    """The F (mm/min, rounded) of the last move before ``lo`` that goes somewhere (the
    F a line after it leaves out when equal), ``-1`` when there is none: looked for
    backwards, a window of moves at a time (it is nearly always the move just before)."""
    hi = lo
    while hi > 0:
        start = max(hi - window, 0)
        found = np.flatnonzero(_moving(_words_changed(tp, start, hi)[2]))
        if found.size:
            return float(np.round(tp.feed[start + found[-1]] * 60.0))
        hi = start
    return -1.0


class PrinterDialect:
    """What the Marlin and Klipper dialects share: the moves, PrusaSlicer's comments,
    temperatures and fan; a subclass sets the firmware's commands and hooks."""

    name: ClassVar[str]
    commands: ClassVar[Mapping[str, str | None]] = _COMMON
    """Commands the firmware accepts, with their parameter letters (``None``: free text)."""
    extended_commands: ClassVar[bool] = False  # Klipper: NAME KEY=VALUE macros
    shows_progress: ClassVar[bool] = False  # M73 on the printer's screen

    def check_line(self, line: str) -> str | None:
        """Why ``line`` is not a command this firmware takes (``None`` when it is)."""
        code = line.split(";", 1)[0].strip()
        if not code:
            return None
        head, _, rest = code.partition(" ")
        head = head.upper()
        if head in self.commands:
            letters = self.commands[head]
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
        if self.extended_commands and not numbered and _EXTENDED.fullmatch(code):
            return None
        return f"{head} is not a {self.name} command"

    def limits(self, kinematics: Kinematics) -> list[str]:
        """The planner limits the estimate assumed, before the profile's start code (the
        kinematics name the firmware they model: ``M201``–``M205`` or ``SET_VELOCITY_LIMIT``)."""
        return firmware_start_lines(kinematics)

    def progress(self, done_percent: float, minutes_left: float) -> str:
        """The progress display at a layer change (empty: none)."""
        if not self.shows_progress:
            return ""
        return f"M73 P{int(done_percent)} R{minutes_left:.0f}\n"

    def layer_comment(self, z: float, height: float) -> str:
        """PrusaSlicer's layer comments, which its viewer and Moonraker read."""
        return f";LAYER_CHANGE\n;Z:{z:.3f}\n;HEIGHT:{height:.3f}\n"

    def closing_comments(self, figures: PrintFigures) -> str:
        """PrusaSlicer's figures at the end of the file, which OctoPrint and Moonraker read."""
        lines = (
            f"filament used [mm] = {figures.filament_mm:.2f}",
            f"filament used [cm3] = {figures.filament_cm3:.2f}",
            f"filament used [g] = {figures.filament_g:.2f}",
            f"estimated printing time (normal mode) = {duration_text(figures.time_s)}",
        )
        return "".join(f"; {line}\n" for line in lines)

    def feature(self, role: str, job: PrintProgram) -> str:
        """What comes before the moves of a feature (``role``): PrusaSlicer's ``;TYPE:``
        comment. The place for per-feature lines a dialect adds; accelerations, which
        change on travels too, come from :meth:`acceleration_changes`."""
        name = TYPE_NAMES.get(role, "")
        return f";TYPE:{name}\n" if name else ""

    def acceleration_changes(self, move_accel: np.ndarray | None) -> dict[int, str]:
        """The line setting the acceleration before each move whose acceleration differs
        from the move before (and before the first): what the estimate planned each move
        with. A firmware without such a command writes none (its profile cannot give
        per-feature accelerations: the FDM settings refuse them)."""
        return {}

    def write(self, out: IO[bytes], tp: Toolpath, job: PrintProgram, chunk: int = 20000) -> None:
        """Stream the whole file to ``out`` (a binary file object)."""
        PrintFile(tp, job, self, chunk).write(out)

    def layout(
        self, tp: Toolpath, job: PrintProgram, chunk: int = 20000
    ) -> tuple[str, list[int], list[str], str]:
        """The file but the moves' own lines: ``(head, bounds, before, tail)``.

        The moves are written in pieces ``bounds[k]:bounds[k + 1]``, cut at every layer
        start, every role change of work moves, every change of acceleration and at
        ``chunk`` bounds; ``before[k]`` is the text that comes before piece ``k`` (layer
        comments, progress, temperatures, fan, feature); ``head`` and ``tail`` open and
        close the file.
        """
        head = "".join(f"; {line}\n" for line in job.header)
        start = "\n".join([*self.limits(job.kinematics), job.start_gcode])
        head += start.rstrip("\n") + "\n" + "G90\nM83 ; relative extrusion\nM107\n"
        layer_starts = {ev.index: ev.value for ev in tp.events if ev.kind == EventKind.LAYER_CHANGE}
        n = len(tp)
        role = tp.role.astype(np.int64)
        work_idx = np.flatnonzero(tp.kind == MoveKind.EXTRUDE)
        feature_starts = work_idx[run_starts(work_idx.size, role[work_idx])[:-1]]
        role_at = {int(i): tp.roles[role[i]] for i in feature_starts}
        accel_at = self.acceleration_changes(job.move_accel)
        cuts = set(layer_starts) | set(range(0, n, chunk)) | {n} | set(role_at) | set(accel_at)
        bounds = sorted(c for c in cuts if 0 <= c <= n)
        # Time left at the start of each layer, for the progress display.
        remaining = np.cumsum(np.asarray(job.layer_time, dtype=float)[::-1])[::-1]
        total_time = float(remaining[0]) if len(remaining) else 0.0
        layer = -1
        temperatures_set = False
        fan = -1
        layer_fan = 0
        before: list[str] = []
        for lo in bounds[:-1]:
            buf: list[str] = []
            if lo in layer_starts:
                # The layer's own index (a layer with nothing to print has no event).
                first_layer_done = layer >= 0
                layer = int(tp.layer[lo]) if lo < n else layer + 1
                height = job.layer_height[layer] if layer < len(job.layer_height) else 0.0
                buf.append(self.layer_comment(layer_starts[lo], height))
                if layer < len(remaining):
                    done = 100.0 * (1.0 - remaining[layer] / total_time) if total_time > 0 else 0.0
                    buf.append(self.progress(done, remaining[layer] / 60.0))
                if first_layer_done and not temperatures_set:
                    temperatures_set = True
                    if job.temperature != job.first_layer_temperature:
                        buf.append(f"M104 S{job.temperature}\n")
                    if job.bed_temperature != job.first_layer_bed_temperature:
                        buf.append(f"M140 S{job.bed_temperature}\n")
                layer_fan = int(job.layer_fan[layer]) if layer < len(job.layer_fan) else fan
            if lo in role_at or lo in layer_starts:
                # Bridges get the bridge fan (where the layer's fan may run at all).
                bridging = role_at.get(lo) in BRIDGING and layer_fan > 0
                want = job.bridge_fan if bridging else layer_fan
                if want != fan:
                    buf.append("M107\n" if want <= 0 else f"M106 S{round(want * 2.55)}\n")
                    fan = want
            if lo in role_at:
                buf.append(self.feature(role_at[lo], job))
            if lo in accel_at:
                buf.append(accel_at[lo])
            before.append("".join(buf))
        tail = self.progress(100.0, 0.0) + job.end_gcode.rstrip("\n") + "\n"
        return head, bounds, before, tail + self.closing_comments(job.figures)


HELPER_SHARE = 0.5
"""The share of the moves a :class:`PrintFile`'s helper is given (the writer takes back
the end of it if the helper has not reached it)."""


HELPER_MIN_MOVES = 30_000
"""Fewer moves than this (some 15 ms of formatting): no helper."""


class PrintFile:
    """A printer's G-code file, laid out (:meth:`PrinterDialect.layout`) and written on
    demand; the moves' text, most of the writing's time (a ``%`` over some 400,000
    numbers for 3DBenchy, the interpreter's own speed), is made when written.

    :meth:`start_helper` hands the later part of the moves to a forked process, which
    formats them on the other core while this one formats the earlier part, then
    takes pieces back from the end of the helper's while the helper has not reached
    them (a helper held up on a busy machine leaves more to this process), and the
    parts are joined. The bytes are those of the whole file written here: should the
    helper fail in any way, its part is made here. Started just before writing, not
    earlier: while the helper lives, every page either process writes to is copied
    (about 0.7 ms per MiB), which costs more than overlapping it with the preview
    saves.
    """

    def __init__(
        self,
        tp: Toolpath,
        job: PrintProgram,
        dialect: PrinterDialect | None = None,
        chunk: int = 20000,
    ):
        self._dialect = DIALECTS[job.dialect] if dialect is None else dialect
        self._tp = tp
        self._head, self._bounds, self._before, self._tail = self._dialect.layout(tp, job, chunk)
        self._helper: _Helper | None = None

    def start_helper(
        self,
        share: float = HELPER_SHARE,
        threads_left: tuple[str, ...] = (),
        min_moves: int = HELPER_MIN_MOVES,
    ) -> bool:
        """Fork a process that formats the moves after the first ``1 - share`` of them now.

        Forking copies only the calling thread: it is done only when every other thread
        of the process is one whose name starts with one of ``threads_left`` (threads
        that hold no lock while they wait, e.g. an idle pool's), never beside a web
        server's; and only for ``min_moves`` moves or more (below, the fork and the
        pages it makes both processes copy cost more than the helper saves). Returns
        whether a helper runs.
        """
        pieces = len(self._before)
        first = int(np.searchsorted(self._bounds, (1.0 - share) * len(self._tp)))
        if self._helper is not None or not hasattr(os, "fork") or not 0 < first < pieces:
            return False
        if len(self._tp) < min_moves:
            return False
        if not only_threads_named(threads_left):
            return False
        # Kept open with the helper; in memory where the system can (Linux's memfd).
        if hasattr(os, "memfd_create"):
            sink: IO[bytes] = open(os.memfd_create("gcode"), "w+b")  # noqa: SIM115
        else:
            sink = tempfile.TemporaryFile()  # noqa: SIM115
        # Shared with the helper: [0] the next piece it starts, [1] the first piece this
        # process has taken back, [2 + k] where piece k - 1 ends in the helper's text.
        shared = mmap.mmap(-1, 8 * (pieces + 3))
        state = np.frombuffer(shared, dtype=np.int64)
        state[0], state[1] = first, pieces
        try:
            pid = os.fork()
        except OSError:  # no room for another process (a bounded planning process's limits)
            sink.close()
            return False
        if pid == 0:  # the helper: its part of the file, then leave without exit handlers
            status = 1
            try:
                with open(sink.fileno(), "wb", closefd=False) as out:
                    self._help(out, state, first)
                status = 0
            finally:
                os._exit(status)
        self._helper = _Helper(pid, sink, first, pieces, shared, state)
        return True

    def write(self, out: IO[bytes]) -> None:
        """Stream the whole file to ``out`` (a binary file object)."""
        out.write(self._head.encode("utf-8"))
        pieces = len(self._before)
        helper = self._helper
        if helper is None:
            self._write_moves(out, 0, pieces)
        else:
            self._write_moves(out, 0, helper.first)
            taken = helper.take_back(self._pieces, self._bounds)
            if not helper.copy_to(out):  # failed: its part made here
                self._write_moves(out, helper.first, helper.low)
            for piece in taken:
                out.write(piece)
        out.write(self._tail.encode("utf-8"))

    def _texts(self, first: int, last: int) -> Iterator[str]:
        """The text of pieces ``first:last``, piece by piece: its text before, then its
        moves' lines (their numbers worked out once for all of them)."""
        if first >= last:
            return
        bounds, before = self._bounds, self._before
        words = _MoveWords(self._tp, bounds[first], bounds[last])
        for k in range(first, last):
            yield before[k] + words.text(bounds[k], bounds[k + 1])

    def _pieces(self, first: int, last: int) -> list[bytes]:
        """The pieces ``first:last``, encoded."""
        return [text.encode("utf-8") for text in self._texts(first, last)]

    def _write_moves(self, out: IO[bytes], first: int, last: int) -> None:
        """The pieces ``first:last``, streamed about :data:`PIECE_BYTES` at a time."""
        buf: list[str] = []
        size = 0
        for text in self._texts(first, last):
            buf.append(text)
            size += len(text)
            if size > PIECE_BYTES:
                out.write("".join(buf).encode("utf-8"))
                buf, size = [], 0
        out.write("".join(buf).encode("utf-8"))

    def _help(self, out: IO[bytes], state: np.ndarray, first: int) -> None:
        """The helper's work: the pieces from ``first`` on, until one taken back."""
        pieces = len(self._before)
        texts = self._texts(first, pieces)
        buf: list[bytes] = []
        size = total = 0
        state[2 + first] = 0
        for k in range(first, pieces):
            if k >= state[1]:  # taken back by the writer: not made
                break
            data = next(texts).encode("utf-8")
            buf.append(data)
            size += len(data)
            total += len(data)
            state[3 + k] = total
            state[0] = k + 1
            if size > PIECE_BYTES:
                out.write(b"".join(buf))
                buf, size = [], 0
        out.write(b"".join(buf))

    def __del__(self) -> None:
        if self._helper is not None:
            self._helper.stop()


HELPER_BLOCK_MOVES = 2000
"""Moves the writer takes back from the helper at a time (a millisecond or two of text)."""


class _Helper:
    """A forked process formatting the moves from piece ``first`` on into ``sink``, and the
    pieces this process took back from the end of its part (``low`` on)."""

    def __init__(
        self,
        pid: int,
        sink: IO[bytes],
        first: int,
        pieces: int,
        shared: mmap.mmap,
        state: np.ndarray,
    ):
        self.pid, self.sink, self.first, self.low = pid, sink, first, pieces
        self.shared, self.state = shared, state
        self.status: int | None = None
        self.taken: list[bytes] | None = None

    def take_back(self, made, bounds: Sequence[int]) -> list[bytes]:
        """Format pieces from the end of the helper's part (``made(first, last)``), a block
        at a time, while the helper has not reached them; their bytes, in order."""
        if self.taken is not None:
            return self.taken
        blocks: list[list[bytes]] = []
        state = self.state
        while self.status is None and self.low > self.first:
            start = int(np.searchsorted(bounds, bounds[self.low] - HELPER_BLOCK_MOVES))
            start = max(start, int(state[0]) + 1)  # not the piece the helper is on
            if start >= self.low:
                break
            state[1] = start
            blocks.append(made(start, self.low))
            self.low = start
        self.taken = [piece for block in reversed(blocks) for piece in block]
        return self.taken

    def copy_to(self, out: IO[bytes]) -> bool:
        """Write what the helper made of the pieces before ``low`` to ``out`` once it has
        ended, about :data:`PIECE_BYTES` at a time; ``False`` (nothing written) if it failed."""
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): unknown
                self.status = -1
        if self.status != 0 or self.state[0] < self.low:
            return False
        left = int(self.state[2 + self.low])
        self.sink.seek(0)
        while left > 0 and (piece := self.sink.read(min(PIECE_BYTES, left))):
            out.write(piece)
            left -= len(piece)
        return True

    def stop(self) -> None:
        """End the helper (if it runs) and reap it; close its file."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                _, self.status = os.waitpid(self.pid, 0)
            except OSError:
                self.status = -1
        self.sink.close()


class MarlinDialect(PrinterDialect):
    """Marlin 2, plus the Prusa firmware words the MK3S start code uses (G80 mesh
    levelling, G28 W, M862.x printer checks, M900 linear advance); ``M73`` progress."""

    name: ClassVar[str] = "marlin2"
    commands: ClassVar[Mapping[str, str | None]] = {
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
    }
    shows_progress: ClassVar[bool] = True


class KlipperDialect(PrinterDialect):
    """Klipper: the common G-code plus its ``NAME KEY=VALUE`` macros (``PRINT_START``,
    ``SET_VELOCITY_LIMIT``); no ``M73``, which it shows only with a display section."""

    name: ClassVar[str] = "klipper"
    extended_commands: ClassVar[bool] = True

    def acceleration_changes(self, move_accel: np.ndarray | None) -> dict[int, str]:
        """``SET_VELOCITY_LIMIT ACCEL=…`` where the acceleration changes."""
        if move_accel is None or len(move_accel) == 0:
            return {}
        accel = np.asarray(move_accel, dtype=float)
        changes = np.flatnonzero(np.concatenate([[True], accel[1:] != accel[:-1]]))
        return {int(i): f"SET_VELOCITY_LIMIT ACCEL={accel[i]:g}\n" for i in changes}


DIALECTS: Mapping[str, PrinterDialect] = {d.name: d for d in (MarlinDialect(), KlipperDialect())}
"""The printer dialects by the name a profile's ``flavour`` gives."""


def write_print(out: IO[bytes], tp: Toolpath, job: PrintProgram) -> None:
    """A printer's G-code file in ``job``'s dialect."""
    DIALECTS[job.dialect].write(out, tp, job)


def check_lines(text: str, dialect: PrinterDialect) -> Sequence[tuple[int, str]]:
    """``(line number, why)`` of each line of ``text`` the firmware would not take."""
    return [
        (number, problem)
        for number, line in enumerate(text.splitlines(), 1)
        if (problem := dialect.check_line(line))
    ]
