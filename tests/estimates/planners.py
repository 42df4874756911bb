"""Independent trapezoid planners, one per firmware, a plain loop over the moves.

Written for the tests from each firmware's documentation and planner source
(Marlin 2 ``planner.cpp``, Klipper ``toolhead.py``, Grbl 1.1 ``planner.c``), in
the firmware's own terms, move by move: they share nothing with
``fabserver.estimate`` (vectorised), so agreement means both read the firmware
the same way. Inputs are the moves an independent reader took from the file and
the limits that file states.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .readers import Move

_TINY = 1e-9


def trapezoid(length: float, v0: float, v1: float, cruise: float, accel: float) -> float:
    """Seconds to cover ``length`` from ``v0`` to ``v1``, at most ``cruise``, at ``accel``."""
    peak = min(cruise, math.sqrt(max(accel * length + (v0 * v0 + v1 * v1) / 2.0, 0.0)))
    peak = max(peak, v0, v1)
    up = (peak * peak - v0 * v0) / (2 * accel)
    down = (peak * peak - v1 * v1) / (2 * accel)
    cruise_length = max(length - up - down, 0.0)
    return (peak - v0) / accel + (peak - v1) / accel + cruise_length / peak


def _direction(m: Move) -> tuple[list[float], float, bool]:
    """Unit vector (x, y, z, e), the planned length, and whether only the extruder moves."""
    d = [b - a for a, b in zip(m.start, m.end, strict=True)]
    xyz = math.sqrt(sum(v * v for v in d))
    if xyz < _TINY:
        length = abs(m.e)
        return [0.0, 0.0, 0.0, math.copysign(1.0, m.e) if length else 0.0], length, True
    return [d[0] / xyz, d[1] / xyz, d[2] / xyz, m.e / xyz], xyz, False


def _axis_limit(unit: Sequence[float], limits: Sequence[float], value: float) -> float:
    for share, limit in zip(unit, limits, strict=True):
        if abs(share) > _TINY:
            value = min(value, limit / abs(share))
    return value


def _cos_junction(prev: Sequence[float], cur: Sequence[float]) -> float:
    """Grbl's ``junction_cos_theta``: minus the cosine of the turn (xyz only)."""
    return -(prev[0] * cur[0] + prev[1] * cur[1] + prev[2] * cur[2])


def _two_passes(lengths, accels, cruise, junction, first=0.0) -> float:
    """Backward then forward pass over squared junction speeds, then the trapezoids."""
    n = len(lengths)
    v2 = [first, *junction, 0.0]  # n + 1 boundaries
    for i in range(n - 1, -1, -1):
        v2[i] = min(v2[i], v2[i + 1] + 2 * accels[i] * lengths[i])
    for i in range(n):
        v2[i + 1] = min(v2[i + 1], v2[i] + 2 * accels[i] * lengths[i])
    return sum(
        trapezoid(lengths[i], math.sqrt(v2[i]), math.sqrt(v2[i + 1]), cruise[i], accels[i])
        for i in range(n)
    )


def _moving(
    moves: Sequence[Move], stops: frozenset[int] = frozenset()
) -> tuple[list[tuple[Move, list[float], float, bool]], set[int]]:
    """The moves that go somewhere, and which of them follow a full stop (by position)."""
    out, stopped, pending = [], set(), False
    for j, m in enumerate(moves):
        pending = pending or j in stops
        unit, length, e_only = _direction(m)
        if length > _TINY:
            if pending and out:
                stopped.add(len(out))
            pending = False
            out.append((m, unit, length, e_only))
    return out, stopped


def marlin_time(
    moves: Sequence[Move], limits: dict[str, float], stops: frozenset[int] = frozenset()
) -> float:
    """Marlin 2 with classic jerk (``M205 X Y Z E``) or junction deviation (``M205 J``)."""
    max_feed = [limits[f"M203{a}"] for a in "XYZE"]
    max_accel = [limits[f"M201{a}"] for a in "XYZE"]
    print_a, retract_a, travel_a = limits["M204P"], limits["M204R"], limits["M204T"]
    jerk = [limits.get(f"M205{a}") for a in "XYZE"]
    jd = limits.get("M205J")
    rows, stops = _moving(moves, stops)
    lengths, accels, cruise, units, safe = [], [], [], [], []
    for m, unit, length, e_only in rows:
        base = retract_a if e_only else (print_a if m.e > 0 else travel_a)
        accels.append(_axis_limit(unit, max_accel, base))
        v = max(_axis_limit(unit, max_feed, m.feed), 0.05)
        cruise.append(v)
        lengths.append(length)
        units.append(unit)
        if jd is None:
            safe.append(min(v, _axis_limit(unit, jerk, v)))
    junction = []
    for i in range(1, len(rows)):
        prev, cur = units[i - 1], units[i]
        if jd is None:
            vmax = min(cruise[i - 1], cruise[i])
            factor = 1.0
            for axis in range(4):
                v_exit, v_entry = prev[axis] * vmax, cur[axis] * cruise[i]
                if v_exit > v_entry:
                    coasting = v_entry > 0 or v_exit < 0
                    change = v_exit - v_entry if coasting else max(v_exit, -v_entry)
                else:
                    coasting = v_entry < 0 or v_exit > 0
                    change = v_entry - v_exit if coasting else max(-v_exit, v_entry)
                if change * factor > jerk[axis]:
                    factor = jerk[axis] / change
            v = vmax * factor
            if safe[i - 1] > 0.99 * v and safe[i] > 0.99 * v:
                v = safe[i]
            v2 = min(v, cruise[i - 1], cruise[i]) ** 2
        else:
            v2 = _jd_speed2(prev, cur, max_accel[:3], jd, min(accels[i], print_a))
            if lengths[i] < 1.0 and -_cos_junction(prev, cur) > math.sqrt(0.5):
                turn = math.acos(max(-1.0, min(1.0, -_cos_junction(prev, cur))))
                if turn > 0:
                    along = _junction_accel(prev, cur, max_accel[:3], accels[i])
                    v2 = min(v2, lengths[i] * along / turn)
            if rows[i][3] or rows[i - 1][3]:
                v2 = 0.0
            v2 = min(v2, cruise[i - 1] ** 2, cruise[i] ** 2)
        junction.append(0.0 if i in stops else v2)
    first = safe[0] ** 2 if jd is None and safe else 0.0
    return _two_passes(lengths, accels, cruise, junction, first)


def _junction_accel(prev, cur, axis_accel, accel) -> float:
    d = [c - p for p, c in zip(prev[:3], cur[:3], strict=True)]
    norm = math.sqrt(sum(v * v for v in d))
    return _axis_limit([v / norm for v in d], axis_accel, accel) if norm > _TINY else accel


def _jd_speed2(prev, cur, axis_accel, deviation, accel) -> float:
    """Grbl's junction speed²: ``a·δ·sin(θ/2)/(1 − sin(θ/2))``, ``a`` along the junction."""
    cos_t = _cos_junction(prev, cur)
    if cos_t > 0.999999:
        return 0.0
    if cos_t < -0.999999:
        return math.inf
    sin_half = math.sqrt(0.5 * (1.0 - cos_t))
    return _junction_accel(prev, cur, axis_accel, accel) * deviation * sin_half / (1.0 - sin_half)


def grbl_time(
    moves: Sequence[Move], settings: dict[str, float], stops: frozenset[int] = frozenset()
) -> float:
    """Grbl 1.1: per-axis rates and accelerations, junction deviation, and a planner that
    only sees the 15 blocks of its buffer (the last of them planned to a stop).

    The machine is simulated block by block: when a block starts, its entry speed is
    what the previous block ended at, and its exit is planned over the blocks then in
    the buffer.
    """
    max_rate = [settings[f"${k}"] / 60.0 for k in (110, 111, 112)]
    max_accel = [settings[f"${k}"] for k in (120, 121, 122)]
    deviation = settings["$11"]
    buffered = 15
    rows, stops = _moving(moves, stops)
    n = len(rows)
    lengths, accels, cruise, units = [], [], [], []
    for m, unit, length, _ in rows:
        rate = _axis_limit(unit[:3], max_rate, math.inf)
        # G0 runs at the axes' maximum rate, whatever F says.
        cruise.append(max(rate if m.rapid else min(rate, m.feed), 1.0 / 60.0))
        accels.append(_axis_limit(unit[:3], max_accel, math.inf))
        lengths.append(length)
        units.append(unit)
    entry_max = [0.0] * n
    for i in range(1, n):
        v2 = _jd_speed2(units[i - 1], units[i], max_accel, deviation, math.inf)
        entry_max[i] = 0.0 if i in stops else min(v2, cruise[i - 1] ** 2, cruise[i] ** 2)
    total, entry = 0.0, 0.0
    for k in range(n):
        last = min(k + buffered, n)
        reach = 0.0  # the newest buffered block ends at rest
        for j in range(last - 1, k, -1):
            reach = min(entry_max[j], reach + 2 * accels[j] * lengths[j])
        exit_v2 = min(reach, entry + 2 * accels[k] * lengths[k])
        total += trapezoid(lengths[k], math.sqrt(entry), math.sqrt(exit_v2), cruise[k], accels[k])
        entry = exit_v2
    return total


def klipper_time(
    moves: Sequence[Move],
    limits: dict[str, float],
    config: dict[str, float],
    stops: frozenset[int] = frozenset(),
) -> float:
    """Klipper's toolhead look-ahead with minimum cruise ratio, over the whole file.

    ``limits``: ``SET_VELOCITY_LIMIT`` from the file's start, each move's ``accel`` the
    ``ACCEL`` set before it (per-feature accelerations); ``config``: the printer.cfg
    values it cannot set (max_z_velocity, max_z_accel, max_extrude_only_velocity,
    max_extrude_only_accel, instantaneous_corner_velocity).
    """
    velocity = limits["VELOCITY"]
    scv, mcr = limits["SQUARE_CORNER_VELOCITY"], limits["MINIMUM_CRUISE_RATIO"]
    rows, stops = _moving(moves, stops)
    n = len(rows)
    L, A, cruise2, delta, mcr_delta, max_start, max_mcr, jd = [], [], [], [], [], [], [], []
    for i, (m, unit, length, e_only) in enumerate(rows):
        # Each move keeps the ACCEL in effect when it was queued, and what follows from it.
        accel = m.accel or limits["ACCEL"]
        jd.append(scv * scv * (math.sqrt(2.0) - 1.0) / accel)
        pseudo = accel * (1.0 - mcr)
        if e_only:
            a = config["max_extrude_only_accel"]
            v = min(m.feed, config["max_extrude_only_velocity"])
        else:
            a, v = accel, min(m.feed, velocity)
            if abs(unit[2]) > _TINY:
                v = min(v, config["max_z_velocity"] / abs(unit[2]))
                a = min(a, config["max_z_accel"] / abs(unit[2]))
        L.append(length)
        A.append(a)
        cruise2.append(v * v)
        delta.append(2 * length * a)
        mcr_delta.append(min(2 * length * pseudo, 2 * length * a))
        start = 0.0
        if i > 0 and i not in stops and not e_only and not rows[i - 1][3]:
            prev = rows[i - 1][1]
            start = min(cruise2[i], cruise2[i - 1], max_start[i - 1] + delta[i - 1])
            diff_e = abs(unit[3] - prev[3])
            if diff_e > _TINY:
                start = min(start, (config["instantaneous_corner_velocity"] / diff_e) ** 2)
            cos_t = _cos_junction(prev, unit)
            sin_half = math.sqrt(max(0.5 * (1.0 - cos_t), 0.0))
            cos_half = math.sqrt(max(0.5 * (1.0 + cos_t), 0.0))
            if 1.0 - sin_half > 0 and cos_half > 0:
                r = sin_half / (1.0 - sin_half)
                quarter_tan = 0.25 * sin_half / cos_half
                start = min(
                    start,
                    r * jd[i] * a,
                    r * jd[i - 1] * A[i - 1],
                    delta[i] * quarter_tan,
                    delta[i - 1] * quarter_tan,
                )
        max_start.append(start)
        max_mcr.append(min(start, (max_mcr[i - 1] + mcr_delta[i - 1]) if i else 0.0))
    # Backward: the toolhead stops after the last move. A run of moves that can only
    # decelerate waits for the peak of the hill before it.
    starts, ends, cruises = [0.0] * n, [0.0] * n, [None] * n
    next_start = next_mcr = peak = 0.0
    waiting = 0
    for i in range(n - 1, -1, -1):
        reach = next_start + delta[i]
        start = min(max_start[i], reach)
        reach_mcr = next_mcr + mcr_delta[i]
        start_mcr = min(max_mcr[i], reach_mcr)
        waiting += 1
        if start_mcr < reach_mcr:  # this move can accelerate
            if start_mcr + mcr_delta[i] > next_mcr or waiting > 1:
                peak = (start_mcr + reach_mcr) * 0.5
            cruises[i] = min((start + reach) * 0.5, cruise2[i], peak)
            waiting = 0
        starts[i], ends[i] = start, next_start
        next_start, next_mcr = start, start_mcr
    total, previous = 0.0, 0.0
    for i in range(n):
        c2 = cruises[i] if cruises[i] is not None else min(previous, starts[i])
        v0, v1, vc = math.sqrt(min(starts[i], c2)), math.sqrt(min(ends[i], c2)), math.sqrt(c2)
        up = (vc * vc - v0 * v0) / (2 * A[i])
        down = (vc * vc - v1 * v1) / (2 * A[i])
        total += (vc - v0) / A[i] + (vc - v1) / A[i] + max(L[i] - up - down, 0.0) / vc
        previous = c2
    return total


def generic_time(
    moves: Sequence[Move],
    max_feed: Sequence[float],
    max_accel: Sequence[float],
    accel: float,
    travel_accel: float,
    deviation: float,
    stops: frozenset[int] = frozenset(),
) -> float:
    """Junction deviation with the arc rule (vinyl cutters, embroidery frames)."""
    rows, stops = _moving(moves, stops)
    lengths, accels, cruise, units = [], [], [], []
    for m, unit, length, _ in rows:
        base = travel_accel if m.rapid else accel
        accels.append(_axis_limit(unit[:3], max_accel, base))
        cruise.append(max(_axis_limit(unit[:3], max_feed, m.feed), 0.05))
        lengths.append(length)
        units.append(unit)
    junction = []
    for i in range(1, len(rows)):
        cos_t = _cos_junction(units[i - 1], units[i])
        if cos_t > 0.999999:
            v2 = 0.0
        elif cos_t < -0.999999:
            v2 = math.inf
        else:
            sin_half = math.sqrt(0.5 * (1 - cos_t))
            cos_half = math.sqrt(0.5 * (1 + cos_t))
            a = min(accels[i - 1], accels[i])
            v2 = a * deviation * sin_half / (1 - sin_half)
            arc = (
                0.5
                * sin_half
                / cos_half
                * min(lengths[i - 1] * accels[i - 1], lengths[i] * accels[i])
            )
            v2 = min(v2, arc)
        v2 = min(v2, cruise[i - 1] ** 2, cruise[i] ** 2)
        junction.append(0.0 if i in stops else v2)
    return _two_passes(lengths, accels, cruise, junction)


def printer_cfg(kin) -> dict[str, float]:
    """The Klipper ``printer.cfg`` values a file cannot set, from the machine's profile."""
    return {
        "max_z_velocity": kin.max_feed.z,
        "max_z_accel": kin.max_accel.z,
        "max_extrude_only_velocity": kin.max_feed.e,
        "max_extrude_only_accel": kin.retract_accel,
        "instantaneous_corner_velocity": kin.extruder_corner_velocity,
    }


def fdm_time(moves: Sequence[Move], limits: dict[str, float], kin) -> float:
    """Seconds for ``moves`` of an FDM file on the firmware of ``kin`` (Marlin or Klipper)."""
    if kin.firmware == "klipper":
        return klipper_time(moves, limits, printer_cfg(kin))
    return marlin_time(moves, limits)
