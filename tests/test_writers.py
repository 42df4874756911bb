"""The core's G-code writers: GRBL laser (M4, S per run), GRBL / LinuxCNC mill (M0 tool changes),
Marlin and Klipper printers (limits, PrusaSlicer's comments, progress, per-feature hook)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fabserver.toolpath import EventKind, MoveKind, ToolpathBuilder
from fabserver.writers import gcode
from fabserver.writers.gcode import (
    ToolChange,
    paren_comment,
    run_starts,
    write_grbl_laser,
    write_grbl_mill,
)


def laser_job():
    b = ToolpathBuilder()
    b.move_to(10, 10, 0, feed=200)
    b.add_path([[20, 10], [20, -0.0001]], MoveKind.CUT, 15, role="cut", power=0.6, z=0)
    b.move_to(0, 30, feed=200)
    b.add_path([[-2, 30]], MoveKind.CUT, 300, role="overscan", z=0)
    b.add_path([[40, 30]], MoveKind.ENGRAVE, 300, role="engrave", power=0.25, z=0)
    return b.build()


def _write(writer, *args, **kwargs) -> list[str]:
    out = io.BytesIO()
    writer(out, *args, **kwargs)
    return out.getvalue().decode("ascii").splitlines()


def test_run_starts_break_where_any_key_changes():
    a = np.array([0, 0, 1, 1, 1])
    b = np.array([5, 5, 5, 6, 6])
    assert run_starts(5, a, b).tolist() == [0, 2, 3, 5]
    assert run_starts(5, a, extra=[1]).tolist() == [0, 1, 2, 5]


def test_laser_program_powers_work_runs_only_and_keeps_comments_ascii():
    tp = laser_job()
    notes = {"cut": "cut: 60 % 15 mm/s", "engrave": "engrave: 25 %"}
    lines = _write(
        write_grbl_laser, tp, np.ones(len(tp), bool), 1000, True, ["Contreplaqué"], notes
    )
    assert lines[0] == "; Contreplaque"
    assert "M4 S0 ; dynamic laser power, beam off" in lines and "M8 ; air assist on" in lines
    moves = [line for line in lines[:-4] if line.startswith(("G0 X", "G1 X"))]
    assert moves == [
        "G0 X10.000 Y10.000",
        "G1 X20.000 Y10.000 F900 S600",
        "G1 X20.000 Y0.000",  # never "-0.000"
        "G0 X0.000 Y30.000",
        "G1 X-2.000 Y30.000 F18000 S0",  # overscan: beam off at engraving speed
        "G1 X40.000 Y30.000 F18000 S250",
    ]
    assert lines.index("; cut: 60 % 15 mm/s") < lines.index("G1 X20.000 Y10.000 F900 S600")
    assert lines[-4:] == ["M5 ; beam off", "M9 ; air assist off", "G0 X0 Y0", "M2"]


def test_mill_program_pauses_at_tool_changes_and_writes_modal_moves():
    b = ToolpathBuilder()
    b.move_to(0, 0, 5, feed=20)
    b.add_path([[0, 0, -1], [10, 0, -1], [10, 10, -1]], MoveKind.CUT, 10, role="profile")
    b.move_to(z=5, feed=20)
    b.event(EventKind.DWELL, 2.0)
    b.move_to(20, 20, 5, feed=20)
    tp = b.build()
    changes = [ToolChange(0, "flat-3 (Ø3 mm)", 12000), ToolChange(5, "ball-2 (Ø2 mm)", 15000)]
    lines = _write(write_grbl_mill, tp, changes, safe_z=5, start=["G21", "G90"], end=["M2"])
    first_pause = lines.index("M0")
    assert lines[first_pause - 1] == "(MSG, Changer l'outil / Change tool: flat-3 [D3 mm])"
    assert lines[first_pause + 1] == "M3 S12000"
    assert "G1 X0.000 Y0.000 Z-1.000 F600" in lines
    assert lines[lines.index("G1 X0.000 Y0.000 Z-1.000 F600") + 1] == "X10.000 Y0.000 Z-1.000"
    second = len(lines) - 1 - lines[::-1].index("M0")
    assert lines[second + 1 : second + 3] == ["M3 S15000", "G4 P2.0"]
    assert lines[-3:] == ["M5", "G0 Z5.000", "M2"]


def test_long_runs_are_written_in_chunks_with_the_same_bytes(monkeypatch):
    b = ToolpathBuilder()
    b.move_to(0, 0, 0, feed=20)
    xs = np.arange(1, 26, dtype=float)
    b.add_path(np.column_stack([xs, xs * 0.5]), MoveKind.CUT, 10, role="profile", z=-1)
    tp = b.build()
    whole = _write(write_grbl_mill, tp, [], safe_z=5, start=[], end=[])
    monkeypatch.setattr(gcode, "CHUNK", 7)
    assert _write(write_grbl_mill, tp, [], safe_z=5, start=[], end=[]) == whole


@pytest.mark.parametrize("text", ["M0 (now)", "tool: Ø6 mm, 90°", "fraise à rainurer"])
def test_comments_are_ascii_and_closed_once(text):
    comment = paren_comment(text)
    assert comment.isascii()
    assert comment.count("(") == 1 and comment.count(")") == 1 and comment.endswith(")")


def test_vector_svg_flips_y_into_millimetres_and_skips_empty_groups():
    import shapely

    from fabserver.writers.svg import VectorGroup, write_vector_svg

    out = io.BytesIO()
    square = np.array([[10, 10], [30, 10], [30, 20], [10, 20]], float)
    groups = [
        VectorGroup(
            "engrave", "#000000", area=shapely.box(0, 0, 5, 5).difference(shapely.box(1, 1, 2, 2))
        ),
        VectorGroup("score", "#0000ff"),
        VectorGroup("cut", "#ff0000", [square], [True]),
    ]
    write_vector_svg(out, (100.0, 50.0), "Plywood & co, sheet 1", groups)
    svg = out.getvalue().decode()
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg.split("\n", 1)[1])
    assert (root.get("width"), root.get("viewBox")) == ("100mm", "0 0 100 50")
    ids = [g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert ids == ["engrave", "cut"]  # no empty score group
    assert 'd="M10.000 40.000L30.000 40.000L30.000 30.000L10.000 30.000Z"' in svg  # y down
    assert svg.count("Z") == 3  # the square, the engraved area's shell and its hole


def print_job():
    """Two layers: a skirt and a bridge on the first, infill on the second."""
    b = ToolpathBuilder()
    b.new_layer(0.2)
    b.move_to(10, 10, 0.2, feed=100)
    b.add_path([[30, 10]], MoveKind.EXTRUDE, 20, role="skirt", e=[0.8], z=0.2)
    b.add_path([[30, 30]], MoveKind.EXTRUDE, 20, role="bridge", e=[0.8], z=0.2)
    b.new_layer(0.4)
    b.move_to(10, 10, 0.4, feed=100)
    b.add_path([[30, 10], [30, 30]], MoveKind.EXTRUDE, 40, role="infill", e=[0.8, 0.8], z=0.4)
    return b.build()


def print_program(dialect: str):
    from fabserver.profiles import load_profiles
    from fabserver.writers.printer import PrintFigures, PrintProgram

    machine = load_profiles().machine("printer-1" if dialect == "marlin2" else "printer-3")
    return PrintProgram(
        dialect=dialect,
        kinematics=machine.kinematics,
        start_gcode="G28",
        end_gcode="M84",
        temperature=210,
        bed_temperature=60,
        first_layer_temperature=215,
        first_layer_bed_temperature=60,
        layer_fan=np.array([0, 100]),
        bridge_fan=100,
        layer_height=np.array([0.2, 0.2]),
        layer_time=np.array([60.0, 60.0]),
        header=("made by a test",),
        figures=PrintFigures(3.2, 0.0077, 0.0095, 3725.0),
    )


@pytest.mark.parametrize("dialect", ["marlin2", "klipper"])
def test_printer_dialects_write_limits_layers_features_and_progress(dialect):
    from fabserver.writers.printer import DIALECTS, write_print

    out = io.BytesIO()
    write_print(out, print_job(), print_program(dialect))
    lines = out.getvalue().decode().splitlines()
    assert lines[0] == "; made by a test"
    # PrusaSlicer's closing comments, as OctoPrint and Moonraker read them.
    assert lines[-4:] == [
        "; filament used [mm] = 3.20",
        "; filament used [cm3] = 0.01",
        "; filament used [g] = 0.01",
        "; estimated printing time (normal mode) = 1h 2m 5s",
    ]
    # The firmware's limits before the profile's start code.
    limits = "M201" if dialect == "marlin2" else "SET_VELOCITY_LIMIT"
    first_limit = next(i for i, line in enumerate(lines) if line.startswith(limits))
    assert first_limit < lines.index("G28") < lines.index("M83 ; relative extrusion")
    assert lines.count(";LAYER_CHANGE") == 2 and ";Z:0.400" in lines
    types = [line for line in lines if line.startswith(";TYPE:")]
    assert types == [";TYPE:Skirt/Brim", ";TYPE:Bridge infill", ";TYPE:Internal infill"]
    # Second layer: the nozzle's own temperature.
    assert lines.index("M104 S210") > lines.index(";Z:0.400")
    progress = [line for line in lines if line.startswith("M73")]
    if dialect == "marlin2":
        assert progress == ["M73 P0 R2", "M73 P50 R1", "M73 P100 R0"]
    else:
        assert progress == []  # Klipper shows it only with a display section
    # Every line is a command the firmware takes.
    assert not [line for line in lines if DIALECTS[dialect].check_line(line)]


def test_a_dialect_may_add_lines_before_each_feature():
    from fabserver.writers.printer import KlipperDialect

    class Accelerations(KlipperDialect):
        def feature(self, role, job):
            return f"SET_VELOCITY_LIMIT ACCEL={1000 if role == 'bridge' else 3000}\n" + (
                super().feature(role, job)
            )

    out = io.BytesIO()
    Accelerations().write(out, print_job(), print_program("klipper"))
    lines = out.getvalue().decode().splitlines()
    bridge = lines.index(";TYPE:Bridge infill")
    assert lines[bridge - 1] == "SET_VELOCITY_LIMIT ACCEL=1000"
    assert lines.count("SET_VELOCITY_LIMIT ACCEL=3000") == 2


def _other_threads() -> tuple[str, ...]:
    """The names of this process's other threads (a test runner's own, under xdist): the
    tests below let the helper fork beside them."""
    import threading

    return tuple(t.name for t in threading.enumerate() if t is not threading.current_thread())


def long_print_job(layers: int = 6, per_layer: int = 40):
    """Layers of short zig-zags of two roles at a few feeds, with retractions, travels,
    moves that go nowhere and repeated feeds: every kind of line the writer leaves words out of."""
    rng = np.random.default_rng(7)
    b = ToolpathBuilder()
    for layer in range(layers):
        z = 0.2 * (layer + 1)
        b.new_layer(z)
        b.move_to(5.0, 5.0, z, feed=150)
        for k in range(per_layer):
            points = np.round(rng.uniform(0, 50, size=(3, 2)), 4)
            points[1] = points[0]  # a move that goes nowhere
            role = "perimeter" if k % 3 else "infill"
            b.add_path(points, MoveKind.EXTRUDE, [30, 45][k % 2], role=role, e=[0.1] * 3, z=z)
            if k % 7 == 0:
                b.retract(0.8, 35)
                b.move_to(*rng.uniform(0, 50, size=2), z, feed=150)
                b.retract(-0.8, 35)
    return b.build()


def long_print_program(layers: int = 6):
    program = print_program("marlin2")
    from dataclasses import replace

    return replace(
        program,
        layer_fan=np.linspace(0, 100, layers).round(),
        layer_height=np.full(layers, 0.2),
        layer_time=np.full(layers, 30.0),
    )


def test_a_print_file_half_made_by_a_helper_process_is_the_file_made_in_one():
    from fabserver.writers.printer import PrintFile, write_print

    tp, program = long_print_job(), long_print_program()
    whole = io.BytesIO()
    write_print(whole, tp, program)
    for chunk in (7, 20000):
        for share in (0.1, 0.5, 0.9):
            made = PrintFile(tp, program, chunk=chunk)
            assert made.start_helper(share, _other_threads(), min_moves=0)
            out = io.BytesIO()
            made.write(out)
            assert out.getvalue() == whole.getvalue()
            again = io.BytesIO()  # a second write gives the same file
            made.write(again)
            assert again.getvalue() == whole.getvalue()


def test_a_helper_that_fails_leaves_its_part_to_the_writer():
    import os
    import signal

    from fabserver.writers.printer import PrintFile, write_print

    tp, program = long_print_job(), long_print_program()
    whole = io.BytesIO()
    write_print(whole, tp, program)
    made = PrintFile(tp, program, chunk=7)
    assert made.start_helper(0.5, _other_threads(), min_moves=0)
    os.kill(made._helper.pid, signal.SIGKILL)
    out = io.BytesIO()
    made.write(out)
    assert out.getvalue() == whole.getvalue()


def test_no_helper_for_a_small_file():
    from fabserver.writers.printer import PrintFile

    tp = long_print_job()
    assert not PrintFile(tp, long_print_program()).start_helper(0.5, min_moves=len(tp) + 1)


def test_no_helper_is_forked_beside_threads_that_may_hold_locks():
    import threading

    from fabserver.writers.printer import PrintFile

    runner = _other_threads()
    stop = threading.Event()
    # A name no thread left by another test shares (a web server's, say).
    server = threading.Thread(target=stop.wait, name=f"lock-holder-{id(stop)}", daemon=True)
    server.start()
    try:
        made = PrintFile(long_print_job(), long_print_program(), chunk=7)
        assert not made.start_helper(0.5, runner, min_moves=0)
        assert not made.start_helper(0.5, (*runner, "geos_"), min_moves=0)
        assert made.start_helper(0.5, (*runner, "lock-holder-"), min_moves=0)
    finally:
        stop.set()
        server.join()


def test_pieces_the_helper_has_not_reached_are_made_by_the_writer():
    """A helper held up (a busy machine) leaves the writer to take its pieces back from the
    end; where they meet, each piece is written once, the file the same."""
    import os
    import signal
    import threading

    from fabserver.writers.printer import PrintFile, write_print

    tp, program = long_print_job(layers=12, per_layer=60), long_print_program(layers=12)
    whole = io.BytesIO()
    write_print(whole, tp, program)
    made = PrintFile(tp, program, chunk=5)
    assert made.start_helper(0.8, _other_threads(), min_moves=0)
    helper = made._helper
    os.kill(helper.pid, signal.SIGSTOP)  # held before it has done much
    resume = threading.Timer(0.3, os.kill, (helper.pid, signal.SIGCONT))
    resume.start()
    out = io.BytesIO()
    made.write(out)
    resume.join()
    assert out.getvalue() == whole.getvalue()
    assert helper.low < len(made._before)  # some pieces were taken back
    assert helper.status == 0 and helper.state[0] >= helper.low  # and the helper did its part


def test_a_helper_reaped_by_the_system_leaves_its_part_to_the_writer():
    """Where the process ignores SIGCHLD (children reaped at once) the helper's end cannot
    be read: its part is made by the writer, the file the same."""
    import signal

    from fabserver.writers.printer import PrintFile, write_print

    tp, program = long_print_job(), long_print_program()
    whole = io.BytesIO()
    write_print(whole, tp, program)
    earlier = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        made = PrintFile(tp, program, chunk=7)
        assert made.start_helper(0.5, _other_threads(), min_moves=0)
        out = io.BytesIO()
        made.write(out)
    finally:
        signal.signal(signal.SIGCHLD, earlier)
    assert out.getvalue() == whole.getvalue()
