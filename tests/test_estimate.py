"""The motion planner against trapezoid profiles computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fabserver.estimate import estimate_plan, move_times
from fabserver.plugin import MaterialUse, Plan
from fabserver.profiles import Kinematics, MachineProfile, MaterialProfile, as_data, validated
from fabserver.toolpath import EventKind, MoveKind, ToolpathBuilder


def kinematics(**over) -> Kinematics:
    data = dict(
        max_feed=dict(x=500, y=500, z=10, e=100),
        max_accel=dict(x=5000, y=5000, z=100, e=2000),
        accel=1000,
        junction_deviation=0.05,
    )
    data.update(over)
    return validated(Kinematics, data)


def trapezoid(length: float, v_start: float, v_end: float, v_max: float, accel: float) -> float:
    """Scalar textbook trapezoid (or triangle) time, written independently of the planner."""
    peak = min(v_max, math.sqrt(accel * length + (v_start**2 + v_end**2) / 2))
    t_up = (peak - v_start) / accel
    t_down = (peak - v_end) / accel
    d_up = (peak**2 - v_start**2) / (2 * accel)
    d_down = (peak**2 - v_end**2) / (2 * accel)
    return t_up + t_down + (length - d_up - d_down) / peak


def line(points, feed=50.0, kind=MoveKind.CUT):
    b = ToolpathBuilder()
    b.add_path(np.asarray(points, dtype=float), kind, feed, z=0.0)
    return b.build()


def test_one_long_move_reaches_full_speed():
    # 100 mm at 50 mm/s, 1000 mm/s²: 0.05 s up, 0.05 s down, 97.5 mm cruise.
    t = move_times(line([[100, 0]]), kinematics()).sum()
    assert t == pytest.approx(0.05 + 0.05 + 97.5 / 50, rel=1e-9)


def test_short_move_never_reaches_full_speed():
    # 1 mm: triangle profile, peak sqrt(a·L) = 31.6 mm/s < 50, t = 2·sqrt(L/a).
    t = move_times(line([[1, 0]]), kinematics()).sum()
    assert t == pytest.approx(2 * math.sqrt(1 / 1000), rel=1e-9)
    assert t > 1 / 50  # distance / feed would underestimate it


def test_collinear_moves_do_not_slow_down():
    t = move_times(line([[25, 0], [50, 0], [75, 0], [100, 0]]), kinematics()).sum()
    assert t == pytest.approx(0.1 + 97.5 / 50, rel=1e-9)


def test_zigzag_with_sharp_corners_uses_junction_deviation():
    pts = [[10 * (i + 1), 10 * ((i + 1) % 2)] for i in range(6)]  # 90° corners
    tp = line(pts)
    a, jd, feed = 1000.0, 0.05, 50.0
    # Angle between successive directions is 90°: sin(θ/2) = √½ (GRBL's formula).
    s = math.sqrt(0.5)
    v_corner = math.sqrt(a * jd * s / (1 - s))
    seg = math.hypot(10, 10)
    expected = trapezoid(seg, 0, v_corner, feed, a) + trapezoid(seg, v_corner, 0, feed, a)
    expected += 4 * trapezoid(seg, v_corner, v_corner, feed, a)
    assert move_times(tp, kinematics(junction_deviation=jd)).sum() == pytest.approx(
        expected, rel=1e-9
    )


def test_reversal_stops():
    tp = line([[10, 0], [0, 0]])
    expected = 2 * trapezoid(10, 0, 0, 50, 1000)
    assert move_times(tp, kinematics()).sum() == pytest.approx(expected, rel=1e-9)


def test_square_corner_velocity_equals_its_definition_at_90_degrees():
    # Klipper: at a 90° corner the junction speed is exactly square_corner_velocity.
    scv = 5.0
    tp = line([[20, 0], [20, 20]], feed=100)
    expected = trapezoid(20, 0, scv, 100, 1000) + trapezoid(20, scv, 0, 100, 1000)
    k = kinematics(junction_deviation=None, square_corner_velocity=scv)
    assert move_times(tp, k).sum() == pytest.approx(expected, rel=1e-6)


def test_classic_jerk_corner():
    # At a 90° corner with jerk 8 mm/s per axis, each axis changes by v: v = 8.
    # Marlin starts a move from rest at its "safe speed" (here the x jerk, 8 mm/s).
    tp = line([[20, 0], [20, 20]], feed=100)
    k = kinematics(junction_deviation=None, jerk=dict(x=8, y=8, z=0.4, e=2))
    expected = trapezoid(20, 8, 8, 100, 1000) + trapezoid(20, 8, 0, 100, 1000)
    assert move_times(tp, k).sum() == pytest.approx(expected, rel=1e-9)


def test_short_moves_limit_by_braking_distance_ahead():
    # Three 1 mm collinear moves then a stop: the planner must look ahead, not only
    # at the next junction: same as one 3 mm triangle.
    tp = line([[1, 0], [2, 0], [3, 0]])
    assert move_times(tp, kinematics()).sum() == pytest.approx(
        trapezoid(3, 0, 0, 50, 1000), rel=1e-9
    )


def test_axis_limits_cap_feed_and_acceleration():
    # A pure Z move: z max feed 10 mm/s and max accel 100 mm/s².
    b = ToolpathBuilder()
    b.move_to(z=20, feed=50, kind=MoveKind.PLUNGE)
    assert move_times(b.build(), kinematics()).sum() == pytest.approx(
        trapezoid(20, 0, 0, 10, 100), rel=1e-9
    )


def test_retraction_is_planned_on_the_extruder_axis():
    b = ToolpathBuilder()
    b.retract(-2.0, feed=40)
    k = kinematics(retract_accel=1500)
    assert move_times(b.build(), k).sum() == pytest.approx(trapezoid(2, 0, 0, 40, 1500))


def test_stop_events_force_a_stop_and_add_their_time():
    b = ToolpathBuilder()
    b.add_path(np.array([[50.0, 0.0]]), MoveKind.CUT, 50, z=0)
    b.event(EventKind.PIERCE)
    b.add_path(np.array([[100.0, 0.0]]), MoveKind.CUT, 50, z=0)
    tp = b.build()
    machine = validated(
        MachineProfile,
        dict(
            id="m",
            name="m",
            plugin="x",
            work_area=dict(x=200, y=200),
            kinematics=as_data(kinematics()),
            timing=dict(pierce=0.5),
        ),
    )
    material = validated(
        MaterialProfile, dict(id="s", name="s", kind="sheet", plugins=["x"], prices=dict(sheet=4.0))
    )
    plan = Plan(
        toolpath=tp,
        outputs=(),
        material_uses=(
            MaterialUse("s", 2, "sheet"),
            MaterialUse("s", 0.48, "m2", priced=False),
        ),
        copies=2,
        runs=2,
    )
    est = estimate_plan(plan, machine, {"s": material})
    one_run = 2 * trapezoid(50, 0, 0, 50, 1000) + 0.5
    assert est.machine_time_s == pytest.approx(2 * one_run, rel=1e-9)
    assert est.per_copy_time_s == pytest.approx(one_run, rel=1e-9)
    assert est.cost_eur == pytest.approx(8.0)
    assert [line.cost_eur for line in est.materials] == [8.0, None]


def test_random_paths_agree_with_a_scalar_reference_planner():
    """The vectorised look-ahead equals a plain two-pass loop over the same junction limits."""
    rng = np.random.default_rng(7)
    pts = np.cumsum(rng.uniform(-3, 3, size=(300, 2)), axis=0)
    feeds = rng.uniform(5, 120, size=300)
    k = kinematics(junction_deviation=0.02)
    b = ToolpathBuilder()
    b.add_path(pts, MoveKind.CUT, feeds, z=0)
    vectorised = move_times(b.build(), k)

    # Reference: loop passes with the same corner formula (GRBL), written plainly.
    starts = np.vstack([[0, 0], pts[:-1]])
    seg = pts - starts
    L = np.hypot(seg[:, 0], seg[:, 1])
    u = seg / L[:, None]
    vmax = np.minimum(feeds, 500.0 / np.abs(u).max(axis=1).clip(1e-12))
    acc = np.minimum(1000.0, 5000.0 / np.abs(u).max(axis=1).clip(1e-12))
    n = len(L)
    junction = [0.0] * (n + 1)
    for i in range(1, n):
        cos_t = -float(u[i - 1] @ u[i])
        sin_half = math.sqrt(max(0.0, 0.5 * (1 - cos_t)))
        cos_half = math.sqrt(max(0.0, 0.5 * (1 + cos_t)))
        a = min(acc[i - 1], acc[i])
        if cos_t <= -0.999999:
            v2 = math.inf
        elif cos_t >= 0.999999:
            v2 = 0.0
        else:
            v2 = a * 0.02 * sin_half / (1 - sin_half)
            tan_half = sin_half / cos_half
            v2 = min(v2, 0.5 * tan_half * min(L[i - 1] * acc[i - 1], L[i] * acc[i]))
        junction[i] = min(v2, vmax[i - 1] ** 2, vmax[i] ** 2)
    w = junction[:]
    for i in range(n - 1, -1, -1):
        w[i] = min(w[i], w[i + 1] + 2 * acc[i] * L[i])
    for i in range(1, n + 1):
        w[i] = min(w[i], w[i - 1] + 2 * acc[i - 1] * L[i - 1])
    expected = [
        trapezoid(L[i], math.sqrt(w[i]), math.sqrt(w[i + 1]), vmax[i], acc[i]) for i in range(n)
    ]
    np.testing.assert_allclose(vectorised, expected, rtol=1e-6)


def test_a_toolpath_at_new_feeds_is_timed_as_a_fresh_one():
    """The geometry kept for a toolpath serves the same moves at other feeds, and only them."""
    import dataclasses

    rng = np.random.default_rng(3)
    pts = np.cumsum(rng.uniform(-3, 3, size=(200, 2)), axis=0)
    k = kinematics(junction_deviation=None, jerk=dict(x=8, y=8, z=0.4, e=5))
    b = ToolpathBuilder()
    b.add_path(pts, MoveKind.CUT, rng.uniform(5, 120, size=200), z=0)
    tp = b.build()
    move_times(tp, k)  # its geometry is now kept
    slower = dataclasses.replace(tp, feed=tp.feed * 0.5)
    fresh = dataclasses.replace(slower, xyz=tp.xyz.copy(), e=tp.e.copy(), kind=tp.kind.copy())
    np.testing.assert_array_equal(move_times(slower, k), move_times(fresh, k))
    moved = dataclasses.replace(tp, xyz=tp.xyz * 2.0)  # other end points: planned anew
    assert move_times(moved, k).sum() > move_times(tp, k).sum()


def test_row_norms_are_numpys_norms_to_the_bit():
    """The estimator's lengths and corner angles come from row_norms: they must be the
    numbers np.linalg.norm(a, axis=1) gives (the estimates and the cooling slowdown's
    feeds are compared byte for byte against earlier code)."""
    from fabserver.toolpath import row_norms

    rng = np.random.default_rng(11)
    for columns in (2, 3, 4):
        a = rng.standard_normal((200_000, columns)) * rng.uniform(0, 1e3, (200_000, 1))
        a[::7] = np.round(a[::7], 3)  # micrometre coordinates, as toolpaths have
        a[::11, 0] = 0.0
        for rows in (a, a[:, : columns - 1] if columns > 2 else a, a[1::3]):
            assert np.array_equal(row_norms(rows), np.linalg.norm(rows, axis=1))
