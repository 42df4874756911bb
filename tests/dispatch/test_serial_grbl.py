"""``serial-grbl`` against a GRBL 1.1 simulator on a pseudo-terminal.

The simulator counts what sits in its 127-byte serial buffer: the streamer must
never overflow it, and must keep it well filled (character counting, not
send-and-wait). Errors and alarms in the middle of a file are reported with the
file's line and GRBL's meaning in words.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fabserver.dispatch import DispatchError, TransientDispatchError, connector_for, stream_board
from fabserver.dispatch.grbl_protocol import clean_line, parse_status, program_lines

from .grbl_simulator import GrblSimulator


@pytest.fixture
def simulator_factory():
    made: list[GrblSimulator] = []

    def make(**options) -> GrblSimulator:
        sim = GrblSimulator(**options)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()


def laser_program(path: Path, moves: int = 400) -> tuple[Path, list[bytes]]:
    """A laser job with comments and spacing; returns it and the lines GRBL should get."""
    source = ["; fabserver test job", "%", "G21 G90 (millimetres, absolute)", "M4 S0", ""]
    for i in range(moves):
        x, y = 10 + (i * 7) % 300, 10 + (i * 13) % 200
        source.append(f"G1 X{x:.3f} Y{y:.3f} F{1200 + i % 5 * 300} S{100 + i % 900}  ; segment {i}")
    source += ["M5", "G0 X0 Y0", "%"]
    path.write_text("\n".join(source) + "\n")
    expected = [clean_line(line).encode() for line in source if clean_line(line) not in ("", "%")]
    return path, expected


def grbl(machine_with, sim: GrblSimulator, **settings):
    table = {"type": "serial-grbl", "port": sim.port, "handshake_timeout": 5, **settings}
    return connector_for(machine_with(table, "laser"))


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path, monkeypatch):
    """Each test publishes stream states in its own folder: pty names get reused."""
    monkeypatch.setattr(stream_board, "default_folder", lambda: tmp_path / "streams")


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_whole_file_streams_in_order_without_overflow(machine_with, simulator_factory, tmp_path):
    sim = simulator_factory(line_time=0.0005)
    job, expected = laser_program(tmp_path / "job.gcode")
    seen: list[float] = []
    stream = grbl(machine_with, sim).stream(
        job, "J0001.gcode", progress=lambda s: seen.append(s.progress)
    )

    assert sim.executed == expected
    assert not sim.overflow and sim.max_rx <= 127
    # Character counting keeps the buffer filled: more than a single line waits in it.
    longest = max(len(line) + 1 for line in expected)
    assert sim.max_rx > 127 - longest
    assert stream.max_in_flight <= 127
    assert stream.state == "done" and stream.progress == 1.0
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert sim.position[:2] == [0.0, 0.0]


def test_error_in_the_middle_stops_streaming_and_names_the_line(
    machine_with, simulator_factory, tmp_path
):
    job, expected = laser_program(tmp_path / "job.gcode")
    bad_index = 150
    bad = expected[bad_index]
    sim = simulator_factory(error_on={bad: 20}, line_time=0.0005)
    connector = grbl(machine_with, sim)
    with pytest.raises(DispatchError) as raised:
        connector.stream(job, "J0002.gcode")
    error = raised.value
    assert not isinstance(error, TransientDispatchError)
    source_line = (
        job.read_text()
        .splitlines()
        .index(
            next(line for line in job.read_text().splitlines() if clean_line(line).encode() == bad)
        )
        + 1
    )
    assert f"Line {source_line} refused" in error.message.en
    assert f"Ligne {source_line} refusée" in error.message.fr
    assert "unsupported or invalid G-code" in error.message.en
    # Nothing was sent after GRBL's answer: only what was already in its buffer followed.
    after = sim.received[sim.received.index(bad) + 1 :]
    assert sum(len(line) + 1 for line in after) <= 127
    assert len(sim.received) < len(expected)
    assert sim.received == expected[: len(sim.received)]
    state = connector.status()
    assert state.state == "error" and state.details["lines_done"] == len(sim.received)


def test_alarm_stops_at_once_and_says_what_to_do(machine_with, simulator_factory, tmp_path):
    job, expected = laser_program(tmp_path / "job.gcode")
    culprit = expected[200]
    sim = simulator_factory(alarm_on={culprit: 2}, line_time=0.0005)
    connector = grbl(machine_with, sim)
    with pytest.raises(DispatchError) as raised:
        connector.stream(job, "J0003.gcode")
    assert "GRBL alarm 2" in raised.value.message.en
    assert "soft limit" in raised.value.message.en and "unlock ($X)" in raised.value.message.en
    # At most what was already on its way when the alarm came; then nothing more.
    assert sum(len(line) + 1 for line in sim.after_alarm) <= 127
    assert len(sim.received) < len(expected)
    state = connector.status()
    assert state.state == "error" and "alarm" in state.message.en


def test_background_send_pause_resume_and_abort_keeping_position(
    machine_with, simulator_factory, tmp_path
):
    sim = simulator_factory(line_time=0.01)
    job, expected = laser_program(tmp_path / "job.gcode", moves=600)
    connector = grbl(machine_with, sim)
    receipt = connector.send(job, "J0004.gcode")
    assert receipt.started
    assert wait_for(lambda: len(sim.executed) > 20 and connector.status().progress > 0)
    state = connector.status()
    assert state.state == "printing" and 0 < state.progress < 1

    # A second job for the same port is refused while this one runs; a retry of it is not.
    with pytest.raises(TransientDispatchError, match="busy"):
        connector.send(job, "J0005.gcode")
    assert "Already" in connector.send(job, "J0004.gcode").message.en

    connector.pause()
    assert wait_for(lambda: sim.hold and connector.status().state == "paused")
    held_at = len(sim.executed)
    assert wait_for(lambda: connector.status().details["grbl_state"] == "Hold")
    assert len(sim.executed) == held_at  # a held GRBL takes no line

    connector.resume()
    assert wait_for(lambda: len(sim.executed) > held_at + 5)
    assert wait_for(lambda: connector.status().state == "printing")

    connector.abort()
    assert wait_for(lambda: connector.status().state == "idle")
    assert "aborted" in connector.status().message.en
    # The reset byte is written before the job ends; the simulator reads it on its own thread.
    assert wait_for(lambda: sim.resets == 1)
    assert not sim.reset_while_moving  # feed hold first: position kept
    assert len(sim.executed) < len(expected)


def test_machine_in_alarm_is_not_started(machine_with, simulator_factory, tmp_path):
    sim = simulator_factory(state="Alarm")
    job, _ = laser_program(tmp_path / "job.gcode", moves=5)
    with pytest.raises(DispatchError, match=r"unlock \(\$X\)") as raised:
        grbl(machine_with, sim).send(job, "J0006.gcode")
    assert not isinstance(raised.value, TransientDispatchError)
    assert sim.received == []


def test_silent_port_and_missing_port_are_transient(machine_with, simulator_factory, tmp_path):
    job, _ = laser_program(tmp_path / "job.gcode", moves=5)
    mute = simulator_factory(answer=False)
    with pytest.raises(TransientDispatchError, match="does not answer"):
        grbl(machine_with, mute, handshake_timeout=0.5).send(job, "J0007.gcode")
    missing = connector_for(
        machine_with({"type": "serial-grbl", "port": str(tmp_path / "ttyUSB9")}, "laser")
    )
    with pytest.raises(TransientDispatchError, match="unavailable"):
        missing.send(job, "J0007.gcode")


def test_port_held_by_another_program_is_transient(machine_with, simulator_factory, tmp_path):
    import serial

    sim = simulator_factory()
    job, _ = laser_program(tmp_path / "job.gcode", moves=5)
    with (
        serial.Serial(sim.port, exclusive=True),
        pytest.raises(TransientDispatchError, match="unavailable"),
    ):
        grbl(machine_with, sim).send(job, "J0009.gcode")
    assert sim.received == []


def test_too_long_line_is_refused_before_anything_is_sent(
    machine_with, simulator_factory, tmp_path
):
    sim = simulator_factory()
    job = tmp_path / "long.gcode"
    job.write_text("G21\nG1 " + " ".join(f"X{i}.123456789" for i in range(12)) + "\n")
    with pytest.raises(DispatchError, match="Line 2 too long"):
        grbl(machine_with, sim).send(job, "J0008.gcode")
    assert sim.received == []


def test_protocol_helpers():
    assert clean_line("g1 x10.5 (move) y2 ; tail") == "G1X10.5Y2"
    lines = program_lines("%\n; only a comment\nG0 X1\n\n(x)\nM5\n")
    assert [(line.data, line.source_line) for line in lines] == [(b"G0X1\n", 3), (b"M5\n", 6)]
    report = parse_status("<Hold:0|MPos:1.000,2.500,0.000|Bf:15,127|FS:0,0|Pn:XZ>")
    assert (report.state, report.substate, report.position) == ("Hold", 0, [1.0, 2.5, 0.0])
    assert parse_status("ok") is None


OTHER_PROCESS = """
import json, sys
from fabserver.dispatch.serial_grbl import SerialGrblConnector
connector = SerialGrblConnector({"port": sys.argv[1], "state_dir": sys.argv[2]}, "laser")
connector.check()
if sys.argv[3] != "status":
    getattr(connector, sys.argv[3])()
state = connector.status()
print(json.dumps(None if state is None else {"state": state.state, "progress": state.progress,
                                             "en": state.message.en, **state.details}))
"""


def test_another_process_sees_the_stream_and_controls_it(machine_with, simulator_factory, tmp_path):
    """The staff page runs in another process than the worker streaming to the port."""
    sim = simulator_factory(line_time=0.01)
    job, expected = laser_program(tmp_path / "job.gcode", moves=600)
    folder = tmp_path / "shared-state"
    connector = grbl(machine_with, sim, state_dir=str(folder))

    def other(command: str) -> dict | None:
        done = subprocess.run(
            [sys.executable, "-c", OTHER_PROCESS, sim.port, str(folder), command],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout)

    assert other("status") is None  # nothing streamed yet: nothing to say
    connector.send(job, "J0010.gcode")
    assert wait_for(lambda: len(sim.executed) > 20)
    # Published at most twice a second: wait for a state with some progress in it.
    seen = {}
    assert wait_for(lambda: seen.update(other("status")) or seen["progress"] > 0, timeout=30)
    assert seen["state"] == "printing" and seen["job"] == "J0010.gcode"
    assert 0 < seen["progress"] < 1

    other("pause")
    assert wait_for(lambda: sim.hold and connector.status().state == "paused")
    other("resume")
    assert wait_for(lambda: not sim.hold)
    other("abort")
    assert wait_for(lambda: connector.status().state == "idle")
    assert wait_for(lambda: "aborted" in (other("status") or {}).get("en", ""), timeout=30)
    assert wait_for(lambda: sim.resets == 1)
    assert not sim.reset_while_moving
    assert len(sim.executed) < len(expected)


@pytest.mark.parametrize(
    ("port", "ok"),
    [
        ("/dev/ttyUSB0", True),
        ("socket://laser.lab:23", True),
        ("ttyUSB0", False),
        ("http://laser.lab", False),
    ],
)
def test_port_setting_is_checked(machine_with, port, ok):
    from fabserver.dispatch import ConnectorSettingsError

    table = {"type": "serial-grbl", "port": port}
    if ok:
        assert connector_for(machine_with(table, "laser")).port == port
    else:
        with pytest.raises(ConnectorSettingsError, match="port"):
            connector_for(machine_with(table, "laser"))


def test_answers_in_words_including_older_firmwares_text():
    from fabserver.dispatch.grbl_protocol import alarm_text, error_text

    assert error_text("error:22").en == "GRBL error 22: feed rate (F) not set"
    assert error_text("error:22").fr == "erreur GRBL 22 : vitesse d'avance (F) non définie"
    assert error_text("error: Bad number format").en == "GRBL error: Bad number format"
    assert "home the machine again" in alarm_text("ALARM:1").en
    assert alarm_text("ALARM: Hard/soft limit").en == "GRBL alarm: Hard/soft limit"
