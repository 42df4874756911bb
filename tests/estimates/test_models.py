"""Each firmware model of the estimator: hand-computed cases, and random paths where the
vectorised planner must equal the independent per-move planner of that firmware."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from fabserver.estimate import (
    firmware_start_lines,
    grbl_settings,
    move_accelerations,
    move_times,
    move_times_at,
)
from fabserver.profiles import Kinematics, ValidationError, validated
from fabserver.toolpath import MoveKind, ToolpathBuilder

from .planners import grbl_time, klipper_time, marlin_time, trapezoid
from .readers import Move


def klipper(**over) -> Kinematics:
    data = dict(
        firmware="klipper",
        max_feed=dict(x=300, y=300, z=15, e=120),
        max_accel=dict(x=5000, y=5000, z=350, e=5000),
        accel=3000,
        retract_accel=3000,
        square_corner_velocity=5.0,
        minimum_cruise_ratio=0.5,
    )
    return validated(Kinematics, data | over)


def marlin(**over) -> Kinematics:
    data = dict(
        firmware="marlin",
        max_feed=dict(x=200, y=200, z=12, e=120),
        max_accel=dict(x=1000, y=1000, z=200, e=5000),
        accel=1000,
        travel_accel=1250,
        retract_accel=1250,
        jerk=dict(x=8, y=8, z=0.4, e=4.5),
    )
    return validated(Kinematics, data | over)


def grbl(**over) -> Kinematics:
    data = dict(
        firmware="grbl",
        max_feed=dict(x=500, y=500, z=10),
        max_accel=dict(x=3000, y=2000, z=100),
        travel_feed=500,
        junction_deviation=0.01,
    )
    return validated(Kinematics, data | over)


def path(points, feed, kind=MoveKind.CUT, e=0.0):
    b = ToolpathBuilder()
    b.add_path(np.asarray(points, dtype=float), kind, feed, e=e, z=0.0)
    return b.build()


def as_moves(tp) -> list[Move]:
    """The toolpath as the moves a reader would take from its file."""
    starts = tp.starts
    return [
        Move(
            tuple(starts[i]),
            tuple(tp.xyz[i]),
            float(tp.e[i]),
            float(tp.feed[i]),
            tp.kind[i] in (MoveKind.TRAVEL, MoveKind.JUMP),
        )
        for i in range(len(tp))
    ]


def test_klipper_minimum_cruise_ratio_on_one_move():
    # One 20 mm move from rest to rest at 3000 mm/s²: the smoothed look-ahead (accel ×
    # (1 − 0.5)) peaks at v² = a·L/2, so the move cruises over half its length.
    length, a = 20.0, 3000.0
    v = math.sqrt(a * length / 2)
    expected = 2 * v / a + (length - v * v / a) / v
    assert move_times(path([[length, 0]], 300), klipper()).sum() == pytest.approx(expected)
    without = move_times(path([[length, 0]], 300), klipper(minimum_cruise_ratio=0.0)).sum()
    assert without == pytest.approx(trapezoid(length, 0, 0, 300, a))
    assert without < expected


def test_klipper_short_zigzags_never_reach_full_speed():
    zigzag = [[2.0 * (i + 1), 3.0 * (i % 2)] for i in range(200)]
    tp = path(zigzag, 250)
    slow = move_times(tp, klipper()).sum()
    fast = move_times(tp, klipper(minimum_cruise_ratio=0.0)).sum()
    assert slow > 1.05 * fast


@pytest.mark.parametrize("mcr", [0.0, 0.5])
def test_klipper_random_paths_equal_the_per_move_planner(mcr):
    rng = np.random.default_rng(3)
    pts = np.cumsum(rng.uniform(-4, 4, size=(400, 2)), axis=0)
    feeds = rng.uniform(20, 300, size=400)
    e = rng.uniform(0.0, 0.2, size=400) * (rng.uniform(size=400) > 0.3)
    kin = klipper(minimum_cruise_ratio=mcr)
    tp = path(pts, feeds, MoveKind.EXTRUDE, e=e)
    config = {
        "max_z_velocity": 15,
        "max_z_accel": 350,
        "max_extrude_only_velocity": 120,
        "max_extrude_only_accel": 3000,
        "instantaneous_corner_velocity": 1.0,
    }
    limits = {"VELOCITY": 300, "ACCEL": 3000, "SQUARE_CORNER_VELOCITY": 5.0}
    limits["MINIMUM_CRUISE_RATIO"] = mcr
    reference = klipper_time(as_moves(tp), limits, config)
    assert move_times(tp, kin).sum() == pytest.approx(reference, rel=2e-3)


KLIPPER_CFG = {
    "max_z_velocity": 15,
    "max_z_accel": 350,
    "max_extrude_only_velocity": 120,
    "max_extrude_only_accel": 3000,
    "instantaneous_corner_velocity": 1.0,
}
FEATURE_ACCELS = {
    "external_perimeter_acceleration": 1500,
    "perimeter_acceleration": 2000,
    "infill_acceleration": 5000,
    "travel_acceleration": 4000,
}


def features_toolpath():
    """Two layers of perimeter, external perimeter, infill, a retraction and travels."""
    rng = np.random.default_rng(9)
    b = ToolpathBuilder()
    for layer, z in enumerate((0.2, 0.4)):
        b.new_layer(z, layer)
        for role in ("perimeter", "external_perimeter", "infill", "gap_fill"):
            pts = np.cumsum(rng.uniform(-6, 6, size=(60, 2)), axis=0) + 60
            b.add_path(pts[:1], MoveKind.TRAVEL, 250.0, z=z)
            e = rng.uniform(0.01, 0.1, size=59)
            b.add_path(pts[1:], MoveKind.EXTRUDE, rng.uniform(30, 200, 59), role=role, e=e, z=z)
            b.retract(0.5, 40.0)
    return b.build()


def test_per_feature_accelerations_follow_the_roles():
    tp = features_toolpath()
    kin = klipper()
    accel = move_accelerations(tp, kin, FEATURE_ACCELS | {"first_layer_acceleration": 800})
    role = np.array(tp.roles)[tp.role]
    work = tp.kind == MoveKind.EXTRUDE
    second = tp.layer == 1
    assert set(accel[work & second & (role == "external_perimeter")]) == {1500}
    assert set(accel[work & second & (role == "perimeter")]) == {2000}
    assert set(accel[work & second & (role == "infill")]) == {5000}
    assert set(accel[work & second & (role == "gap_fill")]) == {5000}  # infill's, by fallback
    assert set(accel[(tp.kind == MoveKind.TRAVEL) & second]) == {4000}
    assert set(accel[tp.layer == 0]) == {800}
    # A retraction keeps the acceleration of the move before it: no change of its own.
    retract = np.flatnonzero((tp.kind == MoveKind.RETRACT) & second)
    assert (accel[retract] == accel[retract - 1]).all()
    # None where nothing is given, or on a firmware the file does not set them for.
    assert move_accelerations(tp, kin, {}) is None
    assert move_accelerations(tp, marlin(), FEATURE_ACCELS) is None


def test_per_feature_accelerations_equal_the_per_move_planner():
    # The independent planner reads each move's ACCEL as the file sets it.
    tp = features_toolpath()
    kin = klipper()
    accel = move_accelerations(tp, kin, FEATURE_ACCELS)
    moves = as_moves(tp)
    for move, a in zip(moves, accel, strict=True):
        move.accel = float(a)
    limits = {"VELOCITY": 300, "ACCEL": 3000, "SQUARE_CORNER_VELOCITY": 5.0}
    limits["MINIMUM_CRUISE_RATIO"] = 0.5
    claimed = move_times(tp, kin, accel).sum()
    assert claimed == pytest.approx(klipper_time(moves, limits, KLIPPER_CFG), rel=2e-3)
    # Slower walls than the profile's 3000 mm/s² take longer than one acceleration for all.
    slow = move_accelerations(tp, kin, {"perimeter_acceleration": 500})
    assert move_times(tp, kin, slow).sum() > 1.05 * move_times(tp, kin).sum()


def test_marlin_classic_jerk_lets_an_axis_reverse_at_its_jerk():
    # +x then −x at 100 mm/s: Marlin counts the larger speed (100) against x jerk 8, so
    # the reversal runs at 8 mm/s, not 0; each move starts from rest at its safe speed.
    # Travel acceleration 1250, but M201 X1000 caps a move along x.
    tp = path([[20, 0], [0, 0]], 100, MoveKind.TRAVEL)
    a = 1000.0
    expected = trapezoid(20, 8, 8, 100, a) + trapezoid(20, 8, 0, 100, a)
    assert move_times(tp, marlin()).sum() == pytest.approx(expected)


@pytest.mark.parametrize("cornering", ["jerk", "junction_deviation"])
def test_marlin_random_paths_equal_the_per_move_planner(cornering):
    rng = np.random.default_rng(5)
    pts = np.cumsum(rng.uniform(-3, 3, size=(400, 2)), axis=0)
    feeds = rng.uniform(10, 150, size=400)
    e = rng.uniform(0.0, 0.1, size=400)
    over = {} if cornering == "jerk" else {"jerk": None, "junction_deviation": 0.02}
    kin = marlin(**over)
    tp = path(pts, feeds, MoveKind.EXTRUDE, e=e)
    limits = {f"M203{a}": getattr(kin.max_feed, a.lower()) for a in "XYZE"}
    limits |= {f"M201{a}": getattr(kin.max_accel, a.lower()) for a in "XYZE"}
    limits |= {"M204P": 1000, "M204R": 1250, "M204T": 1250}
    if cornering == "jerk":
        limits |= {"M205X": 8, "M205Y": 8, "M205Z": 0.4, "M205E": 4.5}
    else:
        limits["M205J"] = 0.02
    reference = marlin_time(as_moves(tp), limits)
    assert move_times(tp, kin).sum() == pytest.approx(reference, rel=1e-6)


def test_grbl_runs_of_tiny_segments_slow_down_for_the_planner_buffer():
    # 400 collinear 0.05 mm segments: with 15 blocks buffered, the machine must be able to
    # stop within 0.75 mm, so v² ≤ 2·3000·0.75 and v ≤ 67 mm/s instead of 300.
    pts = [[0.05 * (i + 1), 0.0] for i in range(400)]
    tp = path(pts, 300)
    kin = grbl(max_accel=dict(x=3000, y=3000, z=100))
    t = move_times(tp, kin).sum()
    v = math.sqrt(2 * 3000 * 15 * 0.05)
    assert t == pytest.approx(trapezoid(20.0, 0, 0, v, 3000), rel=0.02)
    unbuffered = move_times(tp, grbl(max_accel=dict(x=3000, y=3000, z=100), planner_blocks=10**6))
    assert t > 1.8 * unbuffered.sum()


def test_grbl_random_paths_equal_the_streaming_simulation():
    rng = np.random.default_rng(11)
    steps = rng.uniform(-1, 1, size=(600, 2)) * rng.choice([0.1, 5.0], size=(600, 1))
    pts = np.cumsum(steps, axis=0)
    feeds = rng.uniform(20, 400, size=600)
    kin = grbl()
    tp = path(pts, feeds)
    settings = grbl_settings(kin, 1000, True)
    values = {line.split("=")[0]: float(line.split("=")[1].split()[0]) for line in settings}
    reference = grbl_time(as_moves(tp), values)
    assert move_times(tp, kin).sum() == pytest.approx(reference, rel=0.01)


def test_grbl_acceleration_is_per_axis():
    # A move along y uses $121 (2000), one along x $120 (3000).
    along_x = move_times(path([[10, 0]], 500), grbl()).sum()
    along_y = move_times(path([[0, 10]], 500), grbl()).sum()
    assert along_x == pytest.approx(trapezoid(10, 0, 0, 500, 3000))
    assert along_y == pytest.approx(trapezoid(10, 0, 0, 500, 2000))


@pytest.mark.parametrize("key", ["accel", "travel_accel", "retract_accel"])
def test_a_grbl_profile_cannot_give_an_acceleration_grbl_does_not_have(key):
    with pytest.raises(ValidationError, match=r"\$120"):
        grbl(**{key: 2000})


def test_klipper_has_one_acceleration():
    with pytest.raises(ValidationError, match="SET_VELOCITY_LIMIT"):
        klipper(travel_accel=5000)


def test_start_lines_state_the_limits():
    marlin_lines = firmware_start_lines(marlin())
    assert marlin_lines[:4] == [
        "M201 X1000 Y1000 Z200 E5000 ; max accelerations, mm/s^2",
        "M203 X200 Y200 Z12 E120 ; max feedrates, mm/s",
        "M204 P1000 R1250 T1250 ; print, retract, travel accelerations",
        "M205 X8 Y8 Z0.4 E4.5 S0 T0 ; classic jerk, mm/s",
    ]
    assert firmware_start_lines(marlin(jerk=None, junction_deviation=0.02))[3].startswith(
        "M205 J0.02"
    )
    assert firmware_start_lines(klipper())[-1] == (
        "SET_VELOCITY_LIMIT VELOCITY=300 ACCEL=3000 SQUARE_CORNER_VELOCITY=5 "
        "MINIMUM_CRUISE_RATIO=0.5"
    )
    assert "$121=2000 [y acceleration, mm/s^2]" in grbl_settings(grbl(), 1000, True)
    assert firmware_start_lines(grbl()) == []


@pytest.mark.parametrize(
    "kin",
    [klipper(), marlin(), marlin(jerk=None, junction_deviation=0.02), grbl()],
    ids=["klipper", "marlin-jerk", "marlin-jd", "grbl"],
)
def test_times_at_other_feeds_equal_those_of_the_toolpath_with_those_feeds(kin):
    """move_times_at works out the geometry once; each feed gives move_times' own answer."""
    tp = features_toolpath()
    accel = move_accelerations(tp, kin, {"perimeter_acceleration": 1500})
    times_at = move_times_at(tp, kin, accel)
    rng = np.random.default_rng(3)
    for _ in range(3):
        feed = tp.feed * rng.uniform(0.2, 1.5, size=len(tp))
        expected = move_times(dataclasses.replace(tp, feed=feed), kin, accel)
        np.testing.assert_array_equal(times_at(feed), expected)
    np.testing.assert_array_equal(times_at(tp.feed), move_times(tp, kin, accel))


def test_times_asked_again_are_those_of_that_toolpath_and_those_limits():
    tp = features_toolpath()
    kin = marlin()
    first = move_times(tp, kin)
    first[:] = -1.0  # the caller's copy: what is kept does not change
    again = move_times(tp, kin)
    assert (again > 0).any() and (again >= 0).all()
    faster = move_times(tp, marlin(accel=3000))
    assert faster.sum() < again.sum()
    slower = dataclasses.replace(tp, feed=tp.feed / 2)
    assert move_times(slower, kin).sum() > again.sum()
    np.testing.assert_array_equal(move_times(tp, kin), again)
    accel = np.full(len(tp), 200.0)
    assert move_times(tp, kin, accel).sum() > again.sum()


def test_kept_times_travel_with_their_toolpath_only():
    """The times are kept on the toolpath itself: a pickled copy (sent to another process)
    or a toolpath at other feeds starts without them."""
    tp = features_toolpath()
    kin = marlin()
    times = move_times(tp, kin)
    assert "move_times" in tp.derived
    copy = pickle.loads(pickle.dumps(tp))
    assert copy.derived == {}
    np.testing.assert_array_equal(move_times(copy, kin), times)
    assert dataclasses.replace(tp, feed=tp.feed / 2).derived == {}
