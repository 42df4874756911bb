"""The one toolpath representation every plugin produces.

A :class:`Toolpath` is a set of parallel arrays, one row per move: the move goes
from the previous row's position (or ``start``) to ``xyz[i]``. The estimator,
the preview and the machine-file writers read these arrays; no plugin
re-implements them. Build one with :class:`ToolpathBuilder`, which appends whole
polylines at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np


class MoveKind(IntEnum):
    """What the machine does during a move."""

    TRAVEL = 0  # tool up / laser off / no extrusion: positioning only
    EXTRUDE = 1  # FDM: plastic laid down
    CUT = 2  # laser, vinyl or mill: material removed along the path
    ENGRAVE = 3  # laser raster or vector engraving, mill engraving
    PLUNGE = 4  # mill: vertical or ramped entry into the material
    STITCH = 5  # embroidery: a needle penetration at the end of the move
    JUMP = 6  # embroidery: frame moves without stitching
    RETRACT = 7  # FDM: filament pulled back or pushed in (no xy motion)

    @property
    def is_work(self) -> bool:
        return self not in NON_WORK_KINDS


NON_WORK_KINDS = (MoveKind.TRAVEL, MoveKind.JUMP, MoveKind.RETRACT)
"""Moves that make nothing: positioning, frame jumps, filament pulled back or pushed in."""


def row_norms(a: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(a, axis=1)`` of an ``(m, k)`` array with few columns, column by column.

    The same bits (numpy sums a row of a few squares from left to right, as here;
    tested), several times faster: numpy's reduction over a short row runs a slow
    inner loop of its own (a tenth of a second for 3DBenchy's (150,000, 3) moves).
    """
    total = np.square(a[:, 0])
    for j in range(1, a.shape[1]):
        total += np.square(a[:, j])
    return np.sqrt(total, out=total)


class EventKind(IntEnum):
    """Things that happen between moves and cost time of their own."""

    LAYER_CHANGE = 0
    TOOL_CHANGE = 1
    COLOUR_CHANGE = 2
    PIERCE = 3  # laser: beam on before moving
    TRIM = 4  # embroidery: thread cut
    DWELL = 5  # explicit pause of ``value`` seconds
    PAUSE = 6  # operator action needed (message in ``note``)
    HEAT = 7  # wait for temperature


@dataclass(frozen=True, slots=True)
class Event:
    """An event that happens before move ``index``."""

    index: int
    kind: EventKind
    value: float = 0.0
    note: str = ""


_FIELDS = ("xyz", "kind", "feed", "e", "power", "layer", "role")


@dataclass(frozen=True, eq=False)
class Toolpath:
    """Moves as parallel arrays.

    xyz : (n, 3) float, millimetres — end point of each move
    kind : (n,) uint8 — :class:`MoveKind`
    feed : (n,) float, mm/s — requested speed (travels: the machine's travel speed)
    e : (n,) float, mm of filament (FDM; 0 elsewhere), relative per move
    power : (n,) float, 0..1 — laser power, spindle load, blade force share…
    layer : (n,) int32 — layer or pass index (prints: layer number)
    role : (n,) uint8 — index into ``roles`` (e.g. "perimeter", "infill", "cut")
    """

    xyz: np.ndarray
    kind: np.ndarray
    feed: np.ndarray
    e: np.ndarray
    power: np.ndarray
    layer: np.ndarray
    role: np.ndarray
    roles: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    layer_z: tuple[float, ...] = field(default=())
    # What is worked out from the (read-only) arrays, kept with them: the estimator's move
    # times. Not part of the value: not compared, copied by ``dataclasses.replace`` or pickled.
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in _FIELDS:
            getattr(self, name).setflags(write=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "derived": {}}

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def empty(cls) -> Toolpath:
        return ToolpathBuilder().build()

    @property
    def starts(self) -> np.ndarray:
        """``(n, 3) float``: where each move begins."""
        if len(self) == 0:
            return np.zeros((0, 3))
        return np.vstack([np.asarray(self.start, dtype=float)[None], self.xyz[:-1]])

    @property
    def lengths(self) -> np.ndarray:
        """``(n,) float``: Cartesian length of each move, millimetres."""
        return row_norms(self.xyz - self.starts)

    def lengths_where(self, mask: np.ndarray) -> np.ndarray:
        """``lengths[mask]``, from the rows of those moves alone (no array of every move)."""
        idx = np.flatnonzero(mask)
        return row_norms(self.xyz[idx] - self._begins(idx))

    def length_of(self, *kinds: MoveKind) -> float:
        mask = np.isin(self.kind, [int(k) for k in kinds])
        return float(self.lengths_where(mask).sum())

    def work_mask(self) -> np.ndarray:
        """``(n,) bool``: the moves that make something (not :data:`NON_WORK_KINDS`); by
        comparisons, as ``np.isin`` sorts (a hundred times slower)."""
        non_work = self.kind == int(NON_WORK_KINDS[0])
        for other in NON_WORK_KINDS[1:]:
            non_work |= self.kind == int(other)
        return ~non_work

    @property
    def work_bounds(self) -> np.ndarray:
        """``(2, 3) float`` bounds of the work moves, where they begin and end (``zeros``
        if there are none)."""
        idx = np.flatnonzero(self.work_mask())
        if idx.size == 0:
            return np.zeros((2, 3))
        begins = self._begins(idx)
        box = np.empty((2, 3))
        for axis in range(3):  # column by column: numpy's (k, 3).min(axis=0) is ten times slower
            ends, starts = self.xyz[idx, axis], begins[:, axis]
            box[0, axis] = min(ends.min(), starts.min())
            box[1, axis] = max(ends.max(), starts.max())
        return box

    def _begins(self, idx: np.ndarray) -> np.ndarray:
        """``starts[idx]`` (``idx`` increasing), without the array of every move's start."""
        begins = self.xyz[np.maximum(idx - 1, 0)]
        if idx.size and idx[0] == 0:
            begins[0] = self.start
        return begins

    @property
    def bounds(self) -> np.ndarray:
        if len(self) == 0:
            return np.zeros((2, 3))
        pts = np.vstack([self.xyz, np.asarray(self.start)[None]])
        return np.array([pts.min(axis=0), pts.max(axis=0)])

    @property
    def n_layers(self) -> int:
        return int(self.layer.max()) + 1 if len(self) else 0

    def role_mask(self, name: str) -> np.ndarray:
        if name not in self.roles:
            return np.zeros(len(self), dtype=bool)
        return self.role == self.roles.index(name)

    def events_of(self, kind: EventKind) -> list[Event]:
        return [ev for ev in self.events if ev.kind == kind]

    def concatenate(self, other: Toolpath) -> Toolpath:
        """This toolpath followed by ``other`` (roles and layers renumbered)."""
        b = ToolpathBuilder(start=self.start)
        b.extend(self)
        b.extend(other, layer_offset=self.n_layers)
        return b.build()


class ToolpathBuilder:
    """Accumulates moves in chunks of arrays, then freezes them into a :class:`Toolpath`.

    Appending is by whole polylines (``add_path``) so that plugins stay
    vectorised; single moves (``move_to``) are fine for the occasional travel.
    """

    def __init__(self, start: tuple[float, float, float] = (0.0, 0.0, 0.0)):
        self.start = tuple(float(v) for v in start)
        self._chunks: dict[str, list[np.ndarray]] = {name: [] for name in _FIELDS}
        self._roles: dict[str, int] = {}
        self._events: list[Event] = []
        self._count = 0
        self._position = np.array(self.start, dtype=float)
        self.layer = 0
        self._layers_started = 0
        self._layer_z: dict[int, float] = {}

    @property
    def position(self) -> np.ndarray:
        """Current tool position ``(3,)``, millimetres."""
        return self._position.copy()

    def __len__(self) -> int:
        return self._count

    def role_id(self, role: str) -> int:
        return self._roles.setdefault(role, len(self._roles))

    def add_path(
        self,
        points: np.ndarray,
        kind: MoveKind,
        feed: float | np.ndarray,
        *,
        role: str = "",
        e: float | np.ndarray = 0.0,
        power: float | np.ndarray = 0.0,
        z: float | None = None,
    ) -> None:
        """Append moves to each of ``points`` (``(n, 2)`` with ``z``, or ``(n, 3)``).

        ``feed``, ``e`` and ``power`` are scalars or ``(n,)`` arrays, one per move.
        """
        pts = np.asarray(points, dtype=float)
        if pts.ndim != 2 or len(pts) == 0:
            return
        n = len(pts)
        if pts.shape[1] == 2:
            zcol = np.full((n, 1), self._position[2] if z is None else z)
            pts = np.hstack([pts, zcol])
        self._append(pts, kind, feed, e, power, role, n)

    def move_to(
        self,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        *,
        kind: MoveKind = MoveKind.TRAVEL,
        feed: float,
        role: str = "travel",
        e: float = 0.0,
        power: float = 0.0,
    ) -> None:
        """Append one move; omitted coordinates keep their current value."""
        p = self._position.copy()
        for axis, v in enumerate((x, y, z)):
            if v is not None:
                p[axis] = v
        self._append(p[None], kind, feed, e, power, role, 1)

    def retract(self, length: float, feed: float, role: str = "retract") -> None:
        """FDM: move the filament by ``length`` mm (negative pulls it back) without moving."""
        self._append(self._position[None], MoveKind.RETRACT, feed, length, 0.0, role, 1)

    def event(self, kind: EventKind, value: float = 0.0, note: str = "") -> None:
        """Record an event before the next move."""
        self._events.append(Event(self._count, kind, float(value), note))

    def new_layer(self, z: float, index: int | None = None) -> None:
        """Start layer ``index`` (default: the next one, from 0) at height ``z``."""
        if index is None:
            index = self._layers_started
        self._layers_started = index + 1
        self.layer = index
        self._layer_z[index] = float(z)
        self.event(EventKind.LAYER_CHANGE, z)

    def extend(self, other: Toolpath, layer_offset: int = 0) -> None:
        """Append all moves and events of ``other`` (e.g. one copy after another)."""
        if len(other) == 0:
            return
        remap = np.array([self.role_id(r) for r in other.roles] or [0], dtype=np.uint8)
        base = self._count
        self._chunks["xyz"].append(np.asarray(other.xyz, dtype=float))
        self._chunks["kind"].append(np.asarray(other.kind, dtype=np.uint8))
        self._chunks["feed"].append(np.asarray(other.feed, dtype=float))
        self._chunks["e"].append(np.asarray(other.e, dtype=float))
        self._chunks["power"].append(np.asarray(other.power, dtype=float))
        self._chunks["layer"].append(np.asarray(other.layer, dtype=np.int32) + layer_offset)
        self._chunks["role"].append(remap[other.role])
        self._events.extend(
            Event(ev.index + base, ev.kind, ev.value, ev.note) for ev in other.events
        )
        for i, z in enumerate(other.layer_z):
            self._layer_z[i + layer_offset] = z
        self._count += len(other)
        self._position = np.array(other.xyz[-1], dtype=float)
        self.layer = int(other.layer[-1]) + layer_offset

    def _append(self, pts, kind, feed, e, power, role, n) -> None:
        c = self._chunks
        c["xyz"].append(pts)
        c["kind"].append(np.full(n, int(kind), dtype=np.uint8))
        c["feed"].append(np.broadcast_to(np.asarray(feed, dtype=float), (n,)))
        c["e"].append(np.broadcast_to(np.asarray(e, dtype=float), (n,)))
        c["power"].append(np.broadcast_to(np.asarray(power, dtype=float), (n,)))
        c["layer"].append(np.full(n, self.layer, dtype=np.int32))
        c["role"].append(np.full(n, self.role_id(role), dtype=np.uint8))
        self._count += n
        self._position = np.array(pts[-1], dtype=float)

    def build(self) -> Toolpath:
        dtypes = {
            "xyz": float,
            "kind": np.uint8,
            "feed": float,
            "e": float,
            "power": float,
            "layer": np.int32,
            "role": np.uint8,
        }
        arrays = {}
        for name in _FIELDS:
            chunks = self._chunks[name]
            if chunks:
                arrays[name] = np.ascontiguousarray(np.concatenate(chunks), dtype=dtypes[name])
            else:
                shape = (0, 3) if name == "xyz" else (0,)
                arrays[name] = np.zeros(shape, dtype=dtypes[name])
        n_layers = int(arrays["layer"].max()) + 1 if self._count else 0
        layer_z = (
            tuple(self._layer_z.get(i, float("nan")) for i in range(n_layers))
            if self._layer_z
            else ()
        )
        return Toolpath(
            **arrays,
            roles=tuple(self._roles),
            events=tuple(self._events),
            start=self.start,  # type: ignore[arg-type]
            layer_z=layer_z,
        )
