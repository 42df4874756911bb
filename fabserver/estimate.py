"""Machine time and material cost, shared by every plugin.

Time comes from a trapezoidal motion planner over all moves of a
:class:`~fabserver.toolpath.Toolpath`, as the firmware plans them: each move
accelerates, cruises and decelerates within the machine's per-axis limits, and
the speed at each corner is limited by the machine's cornering model (junction
deviation, Klipper's square corner velocity or classic jerk). Distance divided
by feed would be off by a factor of two on small, detailed parts.

The look-ahead is solved for all moves at once. The backward pass "speed at the
start of move i is at most the speed at its end plus what braking over its
length allows" is, in squared speeds, ``W[i] = min(J[i], W[i+1] + D[i])``: a
min-plus recurrence whose closed form is a suffix minimum over ``J - S`` (``S``
the suffix sums of ``D``). The forward pass is the same with prefix sums. Both
are one ``np.minimum.accumulate`` each: no Python loop over moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .i18n import Text
from .plugin import Plan
from .profiles import Kinematics, MachineProfile, MaterialProfile
from .toolpath import EventKind, MoveKind, Toolpath

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


def move_times(toolpath: Toolpath, kin: Kinematics) -> np.ndarray:
    """Seconds spent on each move: ``(n,) float``, events not included."""
    n = len(toolpath)
    times = np.zeros(n)
    if n == 0:
        return times
    delta = toolpath.xyz - toolpath.starts
    cart = np.linalg.norm(delta, axis=1)
    de = np.asarray(toolpath.e, dtype=float)
    kind = np.asarray(toolpath.kind)

    # A move with no xyz motion but extruder motion (a retraction) is planned
    # along the extruder axis, as Marlin and Klipper do.
    e_only = (cart < _EPS) & (np.abs(de) > _EPS)
    length = np.where(e_only, np.abs(de), cart)
    moving = length > _EPS
    idx = np.flatnonzero(moving)
    if idx.size == 0:
        return times
    L = length[idx]
    axes = np.zeros((idx.size, 4))
    axes[:, :3] = delta[idx]
    axes[:, 3] = de[idx]
    axes[e_only[idx], :3] = 0.0
    unit = axes / L[:, None]  # per-axis share of the move (x, y, z, e)
    abs_unit = np.abs(unit)

    max_feed = np.array([kin.max_feed.x, kin.max_feed.y, kin.max_feed.z, kin.max_feed.e])
    max_accel = np.array([kin.max_accel.x, kin.max_accel.y, kin.max_accel.z, kin.max_accel.e])
    # min over axes of limit / share == 1 / max over axes of share / limit (no division by 0).
    axis_speed_cap = 1.0 / (abs_unit / max_feed).max(axis=1)
    axis_accel_cap = 1.0 / (abs_unit / max_accel).max(axis=1)

    k = kind[idx]
    travel = (k == MoveKind.TRAVEL) | (k == MoveKind.JUMP)
    base_accel = np.full(idx.size, kin.accel)
    base_accel[travel] = kin.travel_accel or kin.accel
    base_accel[k == MoveKind.RETRACT] = kin.retract_accel or kin.max_accel.e
    accel = np.minimum(base_accel, axis_accel_cap)
    v_nom = np.minimum(np.asarray(toolpath.feed, dtype=float)[idx], axis_speed_cap)
    v_nom = np.maximum(v_nom, kin.minimum_feed)

    junction_sq = _junction_limits(unit, L, accel, v_nom, e_only[idx], kin)

    # Events that stop the machine (tool change, pierce, dwell…) force a stop
    # at the junction before the move they precede.
    stops = {ev.index for ev in toolpath.events if ev.kind in _STOP_EVENTS}
    if stops:
        pos = np.searchsorted(idx, np.fromiter(stops, dtype=np.int64))
        pos = pos[(pos > 0) & (pos < idx.size)]
        junction_sq[pos] = 0.0

    # Squared speed at the n+1 boundaries: start of each move, then the end.
    limit = np.concatenate([junction_sq, [0.0]])
    limit[0] = 0.0
    D = 2.0 * accel * L
    suffix = np.concatenate([np.cumsum(D[::-1])[::-1], [0.0]])
    backward = suffix + np.minimum.accumulate((limit - suffix)[::-1])[::-1]
    prefix = np.concatenate([[0.0], np.cumsum(D)])
    boundary = prefix + np.minimum.accumulate(backward - prefix)
    boundary = np.maximum(boundary, 0.0)

    v0sq, v1sq = boundary[:-1], boundary[1:]
    peak_sq = np.minimum(v_nom**2, (D + v0sq + v1sq) / 2.0)
    peak_sq = np.maximum(peak_sq, np.maximum(v0sq, v1sq))
    peak = np.sqrt(peak_sq)
    v0, v1 = np.sqrt(v0sq), np.sqrt(v1sq)
    accel_dist = (peak_sq - v0sq) / (2 * accel)
    decel_dist = (peak_sq - v1sq) / (2 * accel)
    cruise = np.maximum(L - accel_dist - decel_dist, 0.0)
    times[idx] = (peak - v0) / accel + (peak - v1) / accel + cruise / peak
    return times


def _junction_limits(
    unit: np.ndarray,
    L: np.ndarray,
    accel: np.ndarray,
    v_nom: np.ndarray,
    e_only: np.ndarray,
    kin: Kinematics,
) -> np.ndarray:
    """Largest squared speed at the start of each move (index 0 is the first move)."""
    m = len(L)
    limit = np.zeros(m)
    if m < 2:
        return limit
    prev, cur = unit[:-1], unit[1:]
    model = kin.cornering()
    if model == "jerk":
        jerk = np.array([kin.jerk.x, kin.jerk.y, kin.jerk.z, kin.jerk.e])  # type: ignore[union-attr]
        change = np.abs(cur - prev)
        with np.errstate(divide="ignore"):
            vj = np.min(np.where(change > _EPS, jerk / change, np.inf), axis=1)
        js = vj**2
    else:
        # Angle between the directions, xyz only (the extruder follows).
        p3, c3 = prev[:, :3], cur[:, :3]
        norm = np.linalg.norm(p3, axis=1) * np.linalg.norm(c3, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos_theta = -np.einsum("ij,ij->i", p3, c3) / norm
        cos_theta = np.clip(np.nan_to_num(cos_theta, nan=1.0), -1.0, 1.0)
        sin_half = np.sqrt(0.5 * (1.0 - cos_theta))
        a = np.minimum(accel[:-1], accel[1:])
        if model == "square_corner_velocity":
            scv = kin.square_corner_velocity or 0.0
            deviation = scv**2 * (np.sqrt(2.0) - 1.0) / kin.accel
        else:
            deviation = kin.junction_deviation or 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            js = a * deviation * sin_half / (1.0 - sin_half)
            # Short segments approximating an arc: do not exceed the speed of
            # the arc through them (Klipper's centripetal limit, Marlin's
            # small-segment handling).
            cos_half = np.sqrt(0.5 * (1.0 + cos_theta))
            tan_half = sin_half / cos_half
            arc = 0.5 * tan_half * np.minimum(L[:-1] * accel[:-1], L[1:] * accel[1:])
        js = np.where(cos_theta <= -0.999999, np.inf, np.fmin(js, arc))
        js = np.where(cos_theta >= 0.999999, 0.0, js)
        js = np.nan_to_num(js, nan=0.0, posinf=np.inf)
    js = np.minimum(js, np.minimum(v_nom[:-1], v_nom[1:]) ** 2)
    # Moves of the extruder alone stop before and after.
    js[e_only[:-1] | e_only[1:]] = 0.0
    limit[1:] = js
    return limit


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
    per_move = move_times(tp, machine.kinematics)
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
