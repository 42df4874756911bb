"""Machine time and material cost, shared by every plugin.

Time comes from a trapezoidal motion planner over all moves of a
:class:`~fabserver.toolpath.Toolpath`, modelled on the planner of the firmware
that runs the machine (``Kinematics.firmware``): each move accelerates, cruises
and decelerates within the limits that firmware applies, and the speed at each
corner is limited by its cornering model. Distance divided by feed would be off
by a factor of two on small, detailed parts. The machine file states the limits
assumed here (:func:`marlin_limits`, :func:`klipper_limits`, :func:`grbl_settings`).

The firmware models, and where each comes from (read, not copied):

* **Marlin** (``firmware = "marlin"``; Marlin 2 ``planner.cpp``, documented at
  marlinfw.org for ``M201``/``M203``/``M204``/``M205``): per-axis speed and
  acceleration limits (``M203``, ``M201``) cap each move along its direction;
  print, travel and retract accelerations (``M204 P T R``). Corners with
  *classic jerk* (``M205 X Y Z E``): the junction speed is the smaller nominal
  speed scaled by the worst axis' ``jerk / velocity change``, where an axis that
  reverses counts its larger speed, not the difference; when both moves' "safe
  speeds" (the speed each could start at from rest) exceed that, the junction
  runs at the safe speed. A move after rest starts at its safe speed. Corners
  with *junction deviation* (``M205 J``): the Grbl formula below, plus Marlin's
  small-segment rule (a move shorter than 1 mm turning by less than 45° is
  treated as part of an arc: ``v² ≤ a·L/θ``).
* **Klipper** (``firmware = "klipper"``; ``klippy/toolhead.py``, documented in
  Klipper's Kinematics.md and Config_Reference ``[printer]``): one acceleration
  for every move (``SET_VELOCITY_LIMIT ACCEL``), a vector speed limit
  (``VELOCITY``) and z/extruder limits of their own. Corners:
  ``square_corner_velocity`` turned into a junction deviation
  ``scv²(√2−1)/accel``, also capped by the "approximated centripetal velocity"
  of a circle touching both moves no further than their middles, and by the
  extruder's ``instantaneous_corner_velocity`` over the change of extrusion per
  mm. Per-feature accelerations (``[settings]`` ``perimeter_acceleration``…,
  :func:`move_accelerations`): the file changes ``ACCEL`` before each feature
  that has its own, and each move keeps the acceleration, junction deviation
  and smoothed acceleration of the ``ACCEL`` it was queued with, as Klipper's
  ``Move`` does. *Minimum cruise ratio* (smoothed look-ahead): a second
  look-ahead runs with the acceleration scaled by ``1 − minimum_cruise_ratio``; a run of moves
  that rises and falls (a "hill") never cruises faster than the peak of that
  smoothed profile, so short zig-zags never reach their full speed. Moves of the
  extruder alone are planned apart (``max_extrude_only_*``) and stop around them.
* **Grbl** (``firmware = "grbl"``; Grbl 1.1 ``planner.c``, documented in its
  wiki's "Grbl v1.1 Configuration"): one acceleration and one maximum rate per
  axis (``$120``–``$122``, ``$110``–``$112``), the move's limit being the
  tightest axis along its direction; corners by junction deviation (``$11``)
  with ``v² = a·δ·sin(θ/2)/(1 − sin(θ/2))`` where ``a`` is the acceleration
  limited along the junction's own direction, no arc rule. Its planner holds 16
  blocks, one kept free: the move being run must be able to stop within the 15
  blocks buffered, so a run of very short segments slows down
  (``v² ≤ 2·a·Σ L`` over the next 15 moves). ``G0`` runs at the axes' maximum
  rate: the profile's ``travel_feed`` should equal ``$110``/``$111``.
* **Generic** (vinyl cutters, embroidery frames): junction deviation with the
  arc rule, per-axis limits, separate travel acceleration.

The look-ahead is solved for all moves at once. The backward pass "speed at the
start of move i is at most the speed at its end plus what braking over its
length allows" is, in squared speeds, ``W[i] = min(J[i], W[i+1] + D[i])``: a
min-plus recurrence whose closed form is a suffix minimum over ``J - S`` (``S``
the suffix sums of ``D``). The forward pass is the same with prefix sums. Both
are one ``np.minimum.accumulate`` each: no Python loop over moves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .i18n import Text
from .plugin import Plan
from .profiles import Kinematics, MachineProfile, MaterialProfile
from .toolpath import EventKind, MoveKind, Toolpath, row_norms

if TYPE_CHECKING:  # annotations only
    from .learning import Correction

_EPS = 1e-9
_STOP_EVENTS = {
    EventKind.TOOL_CHANGE,
    EventKind.COLOUR_CHANGE,
    EventKind.PIERCE,
    EventKind.TRIM,
    EventKind.DWELL,
    EventKind.PAUSE,
    EventKind.HEAT,
}
#: Per-feature accelerations a Klipper printer's ``[settings]`` may give, mm/s² (PrusaSlicer's
#: names; 0 or absent: ``kinematics.accel``).
FEATURE_ACCELERATIONS = (
    "external_perimeter_acceleration",
    "perimeter_acceleration",
    "top_solid_infill_acceleration",
    "solid_infill_acceleration",
    "infill_acceleration",
    "bridge_acceleration",
    "first_layer_acceleration",
    "travel_acceleration",
)
#: The keys each toolpath role takes its acceleration from, the first non-zero one
#: winning (PrusaSlicer's order: an overhang is a bridge, top solid infill is solid infill,
#: solid infill is infill, an external perimeter is a perimeter).
_ROLE_ACCELERATIONS = {
    "external_perimeter": ("external_perimeter_acceleration", "perimeter_acceleration"),
    "perimeter": ("perimeter_acceleration",),
    "overhang_perimeter": ("bridge_acceleration", "perimeter_acceleration"),
    "bridge": ("bridge_acceleration",),
    "top_solid_infill": (
        "top_solid_infill_acceleration",
        "solid_infill_acceleration",
        "infill_acceleration",
    ),
    "solid_infill": ("solid_infill_acceleration", "infill_acceleration"),
    "gap_fill": ("solid_infill_acceleration", "infill_acceleration"),
    "infill": ("infill_acceleration",),
}
#: Marlin's JD_HANDLE_SMALL_SEGMENTS: moves shorter than this (mm) turning by less than 45°.
_MARLIN_SMALL_SEGMENT = 1.0


@dataclass(frozen=True)
class _Moves:
    """The moves that go somewhere, with what every firmware model needs."""

    idx: np.ndarray  # (m,) index into the toolpath
    length: np.ndarray  # (m,) mm: xyz length, or |e| for moves of the extruder alone
    unit: np.ndarray  # (m, 4) per-axis share (x, y, z, e)
    e_only: np.ndarray  # (m,) bool
    e_per_mm: np.ndarray  # (m,) extrusion per mm of xyz (0 for e-only moves)
    accel: np.ndarray  # (m,) mm/s² after the axis limits
    base_accel: np.ndarray  # (m,) mm/s² the firmware was told for this kind of move
    queued_accel: np.ndarray  # (m,) mm/s²: the toolhead's ACCEL when the move was queued
    v_nom: np.ndarray  # (m,) mm/s after the axis limits
    safe_axis: np.ndarray | None = None  # (m,) mm/s: classic jerk's start speed, axes only
    #: (m - 1, 4): each axis does not run strictly the same way before and after each junction
    turns: np.ndarray | None = None


@dataclass(frozen=True)
class _Geometry:
    """What :class:`_Moves` holds but the speeds: the same whatever the feeds."""

    moves: _Moves  # v_nom: the axis limits only (``speed_cap``)
    stops: np.ndarray  # (k,) junctions (into the moves) where an event stops the machine
    corners: np.ndarray | None  # (m - 1,) junction deviation's squared speeds (no jerk)

    def with_feed(self, feed: np.ndarray, kin: Kinematics) -> _Moves:
        """The moves at the feeds ``feed`` ((n,) mm/s, one per move of the toolpath)."""
        v_nom = np.minimum(np.asarray(feed, dtype=float)[self.moves.idx], self.moves.v_nom)
        return replace(self.moves, v_nom=np.maximum(v_nom, kin.minimum_feed))


def move_accelerations(
    toolpath: Toolpath, kin: Kinematics, settings: Mapping[str, Any]
) -> np.ndarray | None:
    """``(n,)`` acceleration each move is queued with, from a Klipper printer's per-feature
    accelerations (:data:`FEATURE_ACCELERATIONS` in ``settings``); ``None`` when it gives none.

    The writer sets ``ACCEL`` where this changes and the estimator plans each move with
    it, so the file and the claim cannot disagree. Travels take ``travel_acceleration``,
    every move of the first layer ``first_layer_acceleration``. Moves of the extruder
    alone keep the value before them: Klipper plans them with ``max_extrude_only_accel``
    whatever ``ACCEL`` says, so they need no change of their own.
    """
    given = {key: float(settings.get(key) or 0.0) for key in FEATURE_ACCELERATIONS}
    if kin.firmware != "klipper" or not any(given.values()) or len(toolpath) == 0:
        return None
    default = float(kin.work_accel)
    by_role = np.array(
        [
            next((given[k] for k in _ROLE_ACCELERATIONS.get(role, ()) if given[k]), default)
            for role in toolpath.roles
        ]
        or [default]
    )
    kind = np.asarray(toolpath.kind)
    accel = by_role[np.asarray(toolpath.role, dtype=np.int64)]
    travel = (kind == MoveKind.TRAVEL) | (kind == MoveKind.JUMP)
    accel[travel] = given["travel_acceleration"] or default
    if given["first_layer_acceleration"]:
        accel[np.asarray(toolpath.layer) == 0] = given["first_layer_acceleration"]
    # Extruder-only moves carry the value of the move before them (forward fill).
    carried = np.flatnonzero(kind != MoveKind.RETRACT)
    if carried.size == 0:
        return None
    last = np.maximum.accumulate(np.where(kind != MoveKind.RETRACT, np.arange(len(kind)), -1))
    return np.where(last >= 0, accel[np.maximum(last, 0)], accel[carried[0]])


def _moves(
    toolpath: Toolpath, kin: Kinematics, move_accel: np.ndarray | None = None
) -> _Moves | None:
    geometry = _geometry(toolpath, kin, move_accel)
    return None if geometry is None else geometry.with_feed(toolpath.feed, kin)


def _geometry(
    toolpath: Toolpath, kin: Kinematics, move_accel: np.ndarray | None = None
) -> _Geometry | None:
    """Lengths, directions, accelerations and caps of the moves that go somewhere."""
    delta = toolpath.xyz - toolpath.starts
    cart = row_norms(delta)
    de = np.asarray(toolpath.e, dtype=float)
    # A move with no xyz motion but extruder motion (a retraction) is planned
    # along the extruder axis, as Marlin and Klipper do.
    e_only = (cart < _EPS) & (np.abs(de) > _EPS)
    length = np.where(e_only, np.abs(de), cart)
    idx = np.flatnonzero(length > _EPS)
    if idx.size == 0:
        return None
    L = length[idx]
    e_only = e_only[idx]
    axes = np.zeros((idx.size, 4))
    axes[:, :3] = delta[idx]
    axes[:, 3] = de[idx]
    axes[e_only, :3] = 0.0
    del delta, cart, length  # (n,) and (n, 3): freed before the (m, 4) arrays that follow
    unit = axes / L[:, None]
    del axes
    e_per_mm = np.where(e_only, 0.0, unit[:, 3])

    max_feed = np.array([kin.max_feed.x, kin.max_feed.y, kin.max_feed.z, kin.max_feed.e])
    max_accel = np.array([kin.max_accel.x, kin.max_accel.y, kin.max_accel.z, kin.max_accel.e])
    share = np.abs(unit)
    if kin.firmware == "klipper":
        # Klipper limits the toolhead's vector speed (VELOCITY) and acceleration
        # (ACCEL); only z and the extruder have limits of their own.
        share = share.copy()
        share[:, 0] = np.hypot(unit[:, 0], unit[:, 1])
        share[:, 1] = 0.0
        max_feed[0] = min(kin.max_feed.x, kin.max_feed.y)
        max_accel[0] = np.inf
    # min over axes of limit / share == 1 / max over axes of share / limit (no division by 0).
    with np.errstate(divide="ignore"):  # no limited axis moves: no cap
        speed_cap = 1.0 / _row_max_of_ratios(share, max_feed)
        accel_cap = 1.0 / _row_max_of_ratios(share, max_accel)

    kind = np.asarray(toolpath.kind)[idx]
    travel = (kind == MoveKind.TRAVEL) | (kind == MoveKind.JUMP)
    if kin.firmware == "grbl":
        base = np.full(idx.size, np.inf)  # per-axis accelerations only
    else:
        base = np.full(idx.size, float(kin.accel or 0.0))
        base[travel] = kin.travel_accel or kin.accel
        if move_accel is not None:
            base = np.asarray(move_accel, dtype=float)[idx].copy()
    queued = base.copy()
    if kin.firmware != "grbl":
        base[kind == MoveKind.RETRACT] = kin.retract_accel or kin.max_accel.e
    accel = np.minimum(base, accel_cap)
    safe_axis = turns = None
    if kin.cornering() == "jerk":
        jerk = np.array([kin.jerk.x, kin.jerk.y, kin.jerk.z, kin.jerk.e])  # type: ignore[union-attr]
        # Axis by axis, dividing only where the axis moves (else no limit): the same
        # numbers as a row minimum of ``where(|u| > ε, jerk / |u|, inf)``, without its
        # (m, 4) temporaries and divisions by zero.
        for axis in range(4):
            moving = share[:, axis] if kin.firmware != "klipper" else np.abs(unit[:, axis])
            limit = np.full(idx.size, np.inf)
            np.divide(jerk[axis], moving, out=limit, where=moving > _EPS)
            safe_axis = limit if safe_axis is None else np.minimum(safe_axis, limit)
        del limit, moving
        turns = _turns(unit)
    del share
    moves = _Moves(idx, L, unit, e_only, e_per_mm, accel, base, queued, speed_cap, safe_axis, turns)
    # Events that stop the machine (tool change, pierce, dwell…) force a stop
    # at the junction before the move they precede.
    stops = {ev.index for ev in toolpath.events if ev.kind in _STOP_EVENTS}
    pos = np.zeros(0, np.int64)
    if stops:
        pos = np.searchsorted(idx, np.fromiter(stops, dtype=np.int64))
        pos = pos[(pos > 0) & (pos < idx.size)]
    corners = None
    if kin.cornering() != "jerk" and idx.size >= 2:
        corners = _junction_deviation(moves, kin)  # the directions' and lengths' alone
    return _Geometry(moves, pos, corners)


def _row_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=1)`` of an ``(m, k)`` array with few columns, column by column.

    The same values (a maximum is exact; NaN spreads as in ``max``), three times
    faster: numpy reduces a row of four in a slow inner loop of its own.
    """
    return functools.reduce(np.maximum, (a[:, j] for j in range(1, a.shape[1])), a[:, 0])


def _row_max_of_ratios(a: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """``_row_max(a / limits)``: each column divided by its limit, then the maxima."""
    return functools.reduce(
        np.maximum, (a[:, j] / limits[j] for j in range(1, a.shape[1])), a[:, 0] / limits[0]
    )


def _row_min(a: np.ndarray) -> np.ndarray:
    """``a.min(axis=1)``, column by column (see :func:`_row_max`)."""
    return functools.reduce(np.minimum, (a[:, j] for j in range(1, a.shape[1])), a[:, 0])


def _look_ahead(limit: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Squared speeds at the ``m + 1`` boundaries: backward then forward pass, vectorised.

    ``limit`` bounds each boundary; ``D[i] = 2·a·L`` is what move ``i`` can change.
    """
    # The same operations as ``suffix = [cumsum(D[::-1])[::-1], 0]``,
    # ``backward = suffix + minimum.accumulate((limit - suffix)[::-1])[::-1]``,
    # ``prefix = [0, cumsum(D)]``, ``maximum(prefix + minimum.accumulate(backward - prefix), 0)``
    # (the same bits), in two buffers of m + 1 instead of a dozen temporaries.
    m = len(D)
    ramp = np.empty(m + 1)
    ramp[m] = 0.0
    np.cumsum(D[::-1], out=ramp[m - 1 :: -1] if m else ramp[:0])  # suffix sums
    speed = np.subtract(limit, ramp)
    np.minimum.accumulate(speed[::-1], out=speed[::-1])
    speed += ramp  # the backward pass
    ramp[0] = 0.0
    np.cumsum(D, out=ramp[1:])  # prefix sums
    speed -= ramp
    np.minimum.accumulate(speed, out=speed)
    speed += ramp
    return np.maximum(speed, 0.0, out=speed)


def _hill_peaks(smooth: np.ndarray, Ds: np.ndarray, v_nom_sq: np.ndarray) -> np.ndarray:
    """Klipper's cruise limit per move: the peak of the smoothed profile's hill it is in.

    A hill starts at a move that can accelerate after one that decelerates; every
    move of it is capped at the highest smoothed speed the hill reaches.
    """
    s0, s1 = smooth[:-1], smooth[1:]
    peak = np.minimum(v_nom_sq, (s0 + s1 + Ds) / 2.0)
    tol = 1e-9 * (1.0 + peak)
    rises = peak > s0 + tol
    falls = peak > s1 + tol
    starts = np.flatnonzero(rises & np.concatenate([[True], falls[:-1]]))
    if starts.size == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    begins = np.zeros(len(peak), dtype=np.int64)
    begins[starts] = 1
    hill = np.cumsum(begins) - 1
    return np.maximum.reduceat(peak, starts)[hill]


def move_times(
    toolpath: Toolpath, kin: Kinematics, move_accel: np.ndarray | None = None
) -> np.ndarray:
    """Seconds spent on each move: ``(n,) float``, events not included.

    ``move_accel``: the acceleration each move is queued with, where the file
    changes it per feature (:func:`move_accelerations`); else the profile's.
    The times are kept with the toolpath (its arrays cannot change): the plan's
    estimate takes those the cooling slowdown has just worked out.
    """
    kept = toolpath.derived.get("move_times")
    if kept is not None and kept[0] == kin and _same_accels(kept[1], move_accel):
        return kept[2].copy()
    times = move_times_at(toolpath, kin, move_accel)(toolpath.feed)
    keep_move_times(toolpath, kin, move_accel, times)
    return times


def keep_move_times(
    toolpath: Toolpath, kin: Kinematics, move_accel: np.ndarray | None, times: np.ndarray
) -> None:
    """Keep ``times`` as :func:`move_times` of ``toolpath``, for a caller that worked them out
    with :func:`move_times_at` of a toolpath with the same moves at other feeds."""
    accel = None if move_accel is None else np.array(move_accel, copy=True)
    toolpath.derived["move_times"] = (kin, accel, np.array(times, copy=True))


def _same_accels(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def move_times_at(
    toolpath: Toolpath, kin: Kinematics, move_accel: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`move_times` of ``toolpath`` at other feeds: ``times(feed)``, ``(n,)`` each.

    The lengths, directions and limits do not depend on the feeds: they are worked
    out once, for a caller that tries many feeds on the same moves (the cooling
    slowdown); each call gives what :func:`move_times` gives for the toolpath with
    those feeds (the same end points, extrusions, kinds, events and start).
    """
    n = len(toolpath)
    geometry = _geometry(toolpath, kin, move_accel) if n else None

    def times(feed: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        if geometry is None:
            return out
        return _planned(geometry.with_feed(feed, kin), geometry, kin, out)

    return times


def _planned(mv: _Moves, geometry: _Geometry, kin: Kinematics, times: np.ndarray) -> np.ndarray:
    """``times`` with the seconds of each of the moves ``mv`` (of ``geometry``) filled in."""
    m = mv.idx.size
    L, accel, v_nom = mv.length, mv.accel, mv.v_nom
    D = 2.0 * accel * L

    limit = np.empty(m + 1)
    limit[1:-1] = _junction_limits(mv, kin, geometry.corners)
    limit[0] = _safe_speed(mv, kin, slice(0, 1))[0] ** 2 if kin.cornering() == "jerk" else 0.0
    limit[-1] = 0.0
    limit[geometry.stops] = 0.0
    if kin.firmware == "grbl":
        # The move being run must be able to stop within the blocks buffered.
        ahead = kin.planner_blocks - 1
        prefix = np.concatenate([[0.0], np.cumsum(D)])
        first = np.arange(m)
        limit[:-1] = np.minimum(limit[:-1], prefix[np.minimum(first + ahead, m)] - prefix[first])

    v_nom_sq = v_nom**2
    if kin.firmware == "klipper" and kin.minimum_cruise_ratio > 0:
        # Each move keeps the smoothed acceleration of the ACCEL it was queued with.
        pseudo = mv.queued_accel * (1.0 - kin.minimum_cruise_ratio)
        Ds = np.minimum(2.0 * pseudo * L, D)
        cap = _hill_peaks(_look_ahead(limit, Ds), Ds, v_nom_sq)
        v_nom_sq = np.minimum(v_nom_sq, cap)
        limit[:-1] = np.minimum(limit[:-1], cap)
        limit[1:] = np.minimum(limit[1:], cap)
    boundary = _look_ahead(limit, D)
    del limit  # each (m,) array freed once used: the plan's peak is here, on every move

    # The trapezoid of each move, operation for operation (the same bits), in a few
    # buffers worked in place:
    # peak² = max(min(v_nom², (D + v0² + v1²) / 2), max(v0², v1²)); cruise = max(L -
    # (peak² - v0²) / 2a - (peak² - v1²) / 2a, 0); time = (peak - v0) / a + (peak - v1) / a
    # + cruise / peak.
    v0sq, v1sq = boundary[:-1], boundary[1:]
    peak_sq = np.add(D, v0sq, out=D)
    peak_sq += v1sq
    peak_sq /= 2.0
    np.minimum(v_nom_sq, peak_sq, out=peak_sq)
    del v_nom_sq
    work = np.maximum(v0sq, v1sq)
    np.maximum(peak_sq, work, out=peak_sq)
    two_a = 2 * accel
    np.subtract(peak_sq, v0sq, out=work)
    work /= two_a
    cruise = np.subtract(L, work)
    np.subtract(peak_sq, v1sq, out=work)
    work /= two_a
    cruise -= work
    np.maximum(cruise, 0.0, out=cruise)
    del two_a
    speed = np.sqrt(boundary, out=boundary)  # v0 and v1: (m + 1,) boundaries
    peak = np.sqrt(peak_sq, out=peak_sq)
    total = np.subtract(peak, speed[:-1])
    total /= accel
    np.subtract(peak, speed[1:], out=work)
    work /= accel
    total += work
    cruise /= peak
    total += cruise
    times[mv.idx] = total
    return times


def _safe_speed(mv: _Moves, kin: Kinematics, rows: slice = slice(None)) -> np.ndarray:
    """Marlin's classic-jerk "safe speed": how fast each move (of ``rows``) may start from rest."""
    if mv.safe_axis is not None:
        return np.minimum(mv.v_nom[rows], mv.safe_axis[rows])
    jerk = np.array([kin.jerk.x, kin.jerk.y, kin.jerk.z, kin.jerk.e])  # type: ignore[union-attr]
    unit = np.abs(mv.unit[rows])
    with np.errstate(divide="ignore"):
        axis = _row_min(np.where(unit > _EPS, jerk / unit, np.inf))
    return np.minimum(mv.v_nom[rows], axis)


def _junction_limits(mv: _Moves, kin: Kinematics, corners: np.ndarray | None = None) -> np.ndarray:
    """Largest squared speed at each of the ``m - 1`` junctions between moves.

    ``corners``: :func:`_junction_deviation` of the moves, when already worked out.
    """
    if mv.idx.size < 2:
        return np.zeros(0)
    model = kin.cornering()
    if model == "jerk":
        js = _classic_jerk(mv, kin)
    else:
        js = corners if corners is not None else _junction_deviation(mv, kin)
    js = np.minimum(js, np.minimum(mv.v_nom[:-1], mv.v_nom[1:]) ** 2)
    if model != "jerk":
        # Moves of the extruder alone stop before and after.
        js[mv.e_only[:-1] | mv.e_only[1:]] = 0.0
    return js


def _classic_jerk(mv: _Moves, kin: Kinematics) -> np.ndarray:
    """Marlin's classic jerk junction (``planner.cpp``, ``CLASSIC_JERK``), all axes with E."""
    jerk = np.array([kin.jerk.x, kin.jerk.y, kin.jerk.z, kin.jerk.e])  # type: ignore[union-attr]
    v_prev, v_cur = mv.v_nom[:-1], mv.v_nom[1:]
    v_junction = np.minimum(v_prev, v_cur)
    # Axis by axis: same direction, the difference of the axis speeds; an axis that
    # reverses, its larger speed. (Marlin's four cases; where a speed is zero both give
    # the same.) The speeds are never negative, so the directions' signs are the axis
    # speeds' signs. The factor is the smallest jerk / change over the axes whose
    # change exceeds their jerk, else 1: ``fmin`` with 1 gives that, and passes over
    # the 0 / 0 of an axis with no jerk that does not move.
    turns = mv.turns if mv.turns is not None else _turns(mv.unit)
    factor = np.ones(len(v_junction))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(4):
            v_exit = mv.unit[:-1, axis] * v_junction
            v_entry = mv.unit[1:, axis] * v_cur
            # In place, three (m,) arrays at a time: the same operations, the same bits.
            change = np.subtract(v_exit, v_entry)
            np.abs(change, out=change)
            larger = np.maximum(
                np.abs(v_exit, out=v_exit), np.abs(v_entry, out=v_entry), out=v_exit
            )
            np.copyto(change, larger, where=turns[:, axis])
            np.fmin(factor, np.divide(jerk[axis], change, out=change), out=factor)
            del v_exit, v_entry, change, larger
    vj = v_junction * factor
    safe = _safe_speed(mv, kin)
    coast = (safe[:-1] > 0.99 * vj) & (safe[1:] > 0.99 * vj)
    vj = np.where(coast, safe[1:], vj)
    return vj**2


def _turns(unit: np.ndarray) -> np.ndarray:
    """``(m - 1, 4)``: each axis does not move strictly the same way in moves ``i`` and ``i + 1``."""
    before, after = unit[:-1], unit[1:]
    return ~(((before > 0) & (after > 0)) | ((before < 0) & (after < 0)))


def _junction_deviation(mv: _Moves, kin: Kinematics) -> np.ndarray:
    """Junction deviation as Grbl, Marlin 2 or Klipper compute it (see the module doc)."""
    prev, cur = mv.unit[:-1, :3], mv.unit[1:, :3]
    norm = row_norms(prev) * row_norms(cur)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_theta = -np.einsum("ij,ij->i", prev, cur) / norm
    cos_theta = np.clip(np.nan_to_num(cos_theta, nan=1.0), -1.0, 1.0)
    sin_half = np.sqrt(0.5 * (1.0 - cos_theta))
    cos_half = np.sqrt(0.5 * (1.0 + cos_theta))
    L, accel = mv.length, mv.accel
    with np.errstate(divide="ignore", invalid="ignore"):
        r_jd = sin_half / (1.0 - sin_half)
        tan_half = sin_half / cos_half
        if kin.cornering() == "square_corner_velocity":
            # Each move keeps the deviation of the acceleration it was queued with.
            scv = kin.square_corner_velocity or 0.0
            deviation = scv**2 * (np.sqrt(2.0) - 1.0) / mv.base_accel
            jd_accel = deviation * accel
            js = r_jd * np.minimum(jd_accel[:-1], jd_accel[1:])
            arc = 0.5 * tan_half * np.minimum(L[:-1] * accel[:-1], L[1:] * accel[1:])
            js = np.fmin(js, arc)
            d_ratio = np.abs(mv.e_per_mm[1:] - mv.e_per_mm[:-1])
            extruder = np.where(
                d_ratio > _EPS, (kin.extruder_corner_velocity / d_ratio) ** 2, np.inf
            )
            js = np.fmin(js, extruder)
        elif kin.firmware in ("grbl", "marlin"):
            # Acceleration limited along the junction's direction (Grbl, Marlin 2).
            direction = cur - prev
            direction /= row_norms(direction)[:, None]
            along = np.array([kin.max_accel.x, kin.max_accel.y, kin.max_accel.z])
            a = 1.0 / _row_max(np.abs(direction) / along)
            if kin.firmware == "marlin":
                a = np.minimum(a, mv.accel[1:])  # Marlin starts from the block's acceleration
            js = a * (kin.junction_deviation or 0.0) * r_jd
            if kin.firmware == "marlin":
                turn = np.arccos(np.clip(-cos_theta, -1.0, 1.0))
                small = (L[1:] < _MARLIN_SMALL_SEGMENT) & (cos_theta < -np.sqrt(0.5))
                js = np.where(small, np.fmin(js, L[1:] * a / turn), js)
        else:
            a = np.minimum(accel[:-1], accel[1:])
            js = a * (kin.junction_deviation or 0.0) * r_jd
            # Short segments approximating an arc: do not exceed the speed of
            # the arc through them.
            arc = 0.5 * tan_half * np.minimum(L[:-1] * accel[:-1], L[1:] * accel[1:])
            js = np.fmin(js, arc)
    js = np.where(cos_theta <= -0.999999, np.inf, js)
    js = np.where(cos_theta >= 0.999999, 0.0, js)
    return np.nan_to_num(js, nan=0.0, posinf=np.inf)


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def marlin_limits(kin: Kinematics) -> list[str]:
    """Start-code lines that set Marlin's planner to the limits the estimate assumed."""
    f, a = kin.max_feed, kin.max_accel
    lines = [
        f"M201 X{_num(a.x)} Y{_num(a.y)} Z{_num(a.z)} E{_num(a.e)} ; max accelerations, mm/s^2",
        f"M203 X{_num(f.x)} Y{_num(f.y)} Z{_num(f.z)} E{_num(f.e)} ; max feedrates, mm/s",
        f"M204 P{_num(kin.work_accel)} R{_num(kin.retract_accel or a.e)} "
        f"T{_num(kin.travel_accel or kin.work_accel)} ; print, retract, travel accelerations",
    ]
    if kin.jerk is not None:
        j = kin.jerk
        lines.append(
            f"M205 X{_num(j.x)} Y{_num(j.y)} Z{_num(j.z)} E{_num(j.e)} S0 T0 ; classic jerk, mm/s"
        )
    else:
        lines.append(f"M205 J{_num(kin.junction_deviation or 0.0)} S0 T0 ; junction deviation")
    return lines


def klipper_limits(kin: Kinematics) -> list[str]:
    """Start-code lines that set Klipper's toolhead to the limits the estimate assumed.

    ``printer.cfg`` keeps the z and extruder-only limits (no G-code sets them): they
    are listed as comments so staff can check them against the printer.
    """
    f, a = kin.max_feed, kin.max_accel
    return [
        f"; printer.cfg assumed: max_z_velocity: {_num(f.z)}, max_z_accel: {_num(a.z)}, "
        f"max_extrude_only_velocity: {_num(f.e)}, "
        f"max_extrude_only_accel: {_num(kin.retract_accel or a.e)}, "
        f"instantaneous_corner_velocity: {_num(kin.extruder_corner_velocity)}",
        f"SET_VELOCITY_LIMIT VELOCITY={_num(min(f.x, f.y))} ACCEL={_num(kin.work_accel)} "
        f"SQUARE_CORNER_VELOCITY={_num(kin.square_corner_velocity or 0.0)} "
        f"MINIMUM_CRUISE_RATIO={_num(kin.minimum_cruise_ratio)}",
    ]


def firmware_start_lines(kin: Kinematics) -> list[str]:
    """What a 3D printer's start code sets first: Marlin's or Klipper's limits (else nothing)."""
    if kin.firmware == "marlin":
        return marlin_limits(kin)
    if kin.firmware == "klipper":
        return klipper_limits(kin)
    return []


def grbl_settings(kin: Kinematics, spindle_max: float, laser_mode: bool) -> list[str]:
    """The Grbl settings the estimate assumed, ``$n=value`` each, for a header comment.

    ``spindle_max`` is ``$30`` (the S value of full power or speed); ``laser_mode``
    is ``$32``. Rates are in mm/min as Grbl stores them.
    """
    f, a = kin.max_feed, kin.max_accel
    values = [
        ("$11", kin.junction_deviation or 0.0, "junction deviation, mm"),
        ("$30", spindle_max, "S of full power/speed"),
        ("$32", 1 if laser_mode else 0, "laser mode"),
        ("$110", f.x * 60.0, "x max rate, mm/min"),
        ("$111", f.y * 60.0, "y max rate, mm/min"),
        ("$112", f.z * 60.0, "z max rate, mm/min"),
        ("$120", a.x, "x acceleration, mm/s^2"),
        ("$121", a.y, "y acceleration, mm/s^2"),
        ("$122", a.z, "z acceleration, mm/s^2"),
    ]
    return [f"{key}={_num(value)} [{what}]" for key, value, what in values]


def event_seconds(toolpath: Toolpath, machine: MachineProfile) -> float:
    """Time of the events: profile's ``timing`` per kind, plus explicit dwells."""
    total = 0.0
    for ev in toolpath.events:
        if ev.kind == EventKind.DWELL:
            total += ev.value
        else:
            total += machine.timing.get(ev.kind.name.lower(), 0.0)
    return total


@dataclass(frozen=True)
class MaterialLine:
    material: str
    label: Text
    quantity: float
    unit: str
    cost_eur: float | None  # None: shown but not charged

    def to_dict(self) -> dict:
        return {
            "material": self.material,
            "label": self.label.to_dict(),
            "quantity": self.quantity,
            "unit": self.unit,
            "cost_eur": self.cost_eur,
        }


@dataclass(frozen=True)
class Estimate:
    """Machine time and material, for all copies and per copy."""

    machine_time_s: float
    motion_time_s: float
    event_time_s: float
    copies: int
    runs: int
    materials: tuple[MaterialLine, ...]
    cost_eur: float
    time_by_role_s: dict[str, float] = field(default_factory=dict)
    #: The calculated time before the correction learnt from finished jobs.
    raw_machine_time_s: float | None = None
    correction: Correction | None = None

    def corrected(self, correction: Correction | None) -> Estimate:
        """This estimate with its machine time multiplied by ``correction`` (raw kept beside)."""
        if correction is None:
            return self
        raw = self.raw_time_s
        return replace(
            self,
            machine_time_s=raw * correction.factor,
            raw_machine_time_s=raw,
            correction=correction,
        )

    @property
    def raw_time_s(self) -> float:
        return self.machine_time_s if self.raw_machine_time_s is None else self.raw_machine_time_s

    @property
    def per_copy_time_s(self) -> float:
        return self.machine_time_s / max(self.copies, 1)

    @property
    def per_copy_cost_eur(self) -> float:
        return self.cost_eur / max(self.copies, 1)

    def to_dict(self) -> dict:
        return {
            "machine_time_s": self.machine_time_s,
            "motion_time_s": self.motion_time_s,
            "event_time_s": self.event_time_s,
            "per_copy_time_s": self.per_copy_time_s,
            "copies": self.copies,
            "runs": self.runs,
            "materials": [m.to_dict() for m in self.materials],
            "cost_eur": self.cost_eur,
            "per_copy_cost_eur": self.per_copy_cost_eur,
            "time_by_role_s": self.time_by_role_s,
            "raw_machine_time_s": self.raw_time_s,
            "correction": (
                None
                if self.correction is None
                else {
                    **self.correction.to_dict(),
                    "note": self.correction.note(self.raw_time_s).to_dict(),
                }
            ),
        }


def estimate_plan(
    plan: Plan,
    machine: MachineProfile,
    materials: Mapping[str, MaterialProfile],
) -> Estimate:
    """Time of the plan on ``machine`` and the cost of what it consumes.

    ``materials`` maps ids to profiles (at least those the plan uses). The
    toolpath is run ``plan.runs`` times (plates, sheets).
    """
    tp = plan.toolpath
    kin = machine.kinematics
    per_move = move_times(tp, kin, move_accelerations(tp, kin, machine.settings))
    motion = float(per_move.sum())
    events = event_seconds(tp, machine)
    by_role: dict[str, float] = {}
    if len(tp):
        sums = np.bincount(tp.role, weights=per_move, minlength=len(tp.roles))
        by_role = {name: float(sums[i]) * plan.runs for i, name in enumerate(tp.roles)}
    lines = []
    total_cost = 0.0
    for use in plan.material_uses:
        profile = materials.get(use.material)
        cost = None
        if use.priced and profile is not None and use.unit in profile.prices:
            cost = use.quantity * profile.prices[use.unit]
            total_cost += cost
        label = (
            use.label
            if (use.label.fr or use.label.en)
            else (profile.name.text() if profile else Text(use.material, use.material))
        )
        lines.append(MaterialLine(use.material, label, use.quantity, use.unit, cost))
    return Estimate(
        machine_time_s=(motion + events) * plan.runs + plan.extra_time_s,
        motion_time_s=motion * plan.runs,
        event_time_s=events * plan.runs,
        copies=plan.copies,
        runs=plan.runs,
        materials=tuple(lines),
        cost_eur=total_cost,
        time_by_role_s=by_role,
    )
