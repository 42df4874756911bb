"""``octoprint`` against a real OctoPrint (its own virtualenv, virtual printer, loopback).

The file must arrive byte for byte, the print must start, and the progress the
connector reads must grow while OctoPrint's own API says it is printing our file.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fabserver.dispatch import (
    ConnectorSettingsError,
    DispatchError,
    TransientDispatchError,
    connector_for,
    remote_name_for,
)
from fabserver.testing import require

from .octoprint_harness import OctoPrintUnavailable, running_octoprint

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("octoprint")]

KEY_ENV = "FABSERVER_TEST_OCTOPRINT_KEY"


@pytest.fixture(scope="module")
def octoprint(tmp_path_factory):
    try:
        with running_octoprint(tmp_path_factory.mktemp("octoprint")) as server:
            yield server
    except OctoPrintUnavailable as why:
        require(False, f"no real OctoPrint to test against: {why}")


@pytest.fixture
def connector_to(octoprint, machine_with, monkeypatch):
    monkeypatch.setenv(KEY_ENV, octoprint.api_key)

    def make(**settings):
        table = {"type": "octoprint", "url": octoprint.url, "api_key_env": KEY_ENV, **settings}
        return connector_for(machine_with(table))

    return make


def slow_gcode(path: Path, moves: int = 20, feed: int = 600) -> Path:
    """A print the virtual printer takes time over: it sleeps a tenth of each move's
    duration at its feed rate (20 moves at F600: about 3 s; each F60 move 30 mm long: 3 s),
    but acknowledges the first four moves at once (its command buffer)."""
    lines = ["; fabserver test print", "G21", "G90", "G28", f"G1 Z0.3 F{feed}"]
    for i in range(moves):
        lines.append(f"G1 X{20 + (i % 2) * 30} Y{20 + i} F{feed}")
    lines += [f"G1 Z10 F{feed}", "M84"]
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_for(predicate, timeout: float = 60.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(every)


def test_upload_while_offline_arrives_but_does_not_start(octoprint, connector_to, tmp_path):
    job = slow_gcode(tmp_path / "a.gcode", moves=2)
    name = remote_name_for(11, "support écran.gcode")
    receipt = connector_to(start=True).send(job, name)
    assert not receipt.started
    assert "not started" in receipt.message.en
    stored = octoprint.api("GET", f"/api/files/local/{receipt.remote_ref}")
    assert stored.status_code == 200
    assert stored.json()["size"] == job.stat().st_size
    state = connector_to().status()
    assert state.state == "offline"


def test_file_arrives_print_starts_and_progress_is_read_back(octoprint, connector_to, tmp_path):
    octoprint.connect_virtual_printer()
    job = slow_gcode(tmp_path / "benchy.gcode")
    name = remote_name_for(42, "benchy.gcode")
    connector = connector_to(start=True)

    receipt = connector.send(job, name)
    assert receipt.started, receipt.message.en
    assert receipt.remote_ref == name
    # The bytes OctoPrint stored are ours (read back through its download route).
    download = octoprint.api("GET", f"/downloads/files/local/{name}")
    assert download.content == job.read_bytes()

    # OctoPrint itself says it is printing our file…
    job_info = wait_for(
        lambda: (j := octoprint.api("GET", "/api/job").json())["state"] == "Printing" and j
    )
    assert job_info, "OctoPrint never reported Printing"
    assert job_info["job"]["file"]["name"] == name

    # …and the connector's progress grows from what OctoPrint reports.
    first = wait_for(lambda: (s := connector.status()).progress and s)
    assert first.state == "printing"
    assert first.details["file"] == name
    later = wait_for(lambda: (s := connector.status()).progress > first.progress and s, timeout=30)
    assert later and 0 < first.progress < later.progress <= 1

    # Sending the same job again (a retried dispatch) does not upload or restart it.
    again = connector.send(job, name)
    assert again.started and "Already" in again.message.en

    connector.pause()
    assert wait_for(lambda: connector.status().state == "paused", timeout=30)
    connector.resume()
    assert wait_for(lambda: connector.status().state == "printing", timeout=30)
    connector.cancel()
    assert wait_for(lambda: connector.status().state == "idle", timeout=60)


def test_a_finished_print_gives_its_real_duration(octoprint, connector_to, tmp_path):
    # Before the SD card test: after its copy to the card, the virtual printer's next
    # print stays "Starting".
    octoprint.connect_virtual_printer()
    # The virtual printer acknowledges its first four moves at once (its command buffer):
    # eight moves at F60 keep the print going for several seconds after the send.
    job = slow_gcode(tmp_path / "short.gcode", moves=8, feed=60)
    name = remote_name_for(44, "short.gcode")
    connector = connector_to(start=True)
    sent_at = time.time()
    assert connector.send(job, name).started
    assert connector.follow_interval() == 60.0
    assert connector.outcome(name, since=sent_at - 5) is None, "printing: no outcome yet"
    outcome = wait_for(lambda: connector.outcome(name, since=sent_at - 5), timeout=90)
    assert outcome, f"OctoPrint never recorded the print: {octoprint.api('GET', '/api/job').json()}"
    last = octoprint.api("GET", f"/api/files/local/{name}").json()["prints"]["last"]
    assert outcome.completed and outcome.source == "octoprint"
    assert outcome.time_s == pytest.approx(last["printTime"]) and outcome.time_s > 0
    # A record older than the dispatch is not this dispatch's outcome.
    assert connector.outcome(name, since=last["date"] + 1) is None


def test_sd_card_upload_is_accepted_while_octoprint_copies_it(octoprint, connector_to, tmp_path):
    octoprint.connect_virtual_printer()
    job = slow_gcode(tmp_path / "sd.gcode", moves=2)
    name = remote_name_for(43, "benchy.gcode", style="8.3")
    receipt = connector_to(location="sdcard").send(job, name)
    assert not receipt.started
    assert "SD card" in receipt.message.en
    assert receipt.remote_ref.lower().endswith(name.lower())


def test_wrong_key_is_a_permanent_error(octoprint, machine_with, monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "NOT-THE-KEY")
    connector = connector_for(
        machine_with({"type": "octoprint", "url": octoprint.url, "api_key_env": KEY_ENV})
    )
    with pytest.raises(DispatchError) as error:
        connector.send(slow_gcode(tmp_path / "x.gcode", 1), "J0001.gcode")
    assert not isinstance(error.value, TransientDispatchError)
    assert KEY_ENV in error.value.message.en


def test_server_down_is_transient(machine_with, monkeypatch, tmp_path):
    from .test_raw_tcp import free_port

    monkeypatch.setenv(KEY_ENV, "K")
    connector = connector_for(
        machine_with(
            {"type": "octoprint", "url": f"http://127.0.0.1:{free_port()}", "api_key_env": KEY_ENV}
        )
    )
    with pytest.raises(TransientDispatchError):
        connector.send(slow_gcode(tmp_path / "x.gcode", 1), "J0001.gcode")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"url": "http://octopi.local"}, "api_key_env"),
        ({"url": "http://octopi.local", "api_key_env": "octoprint-key"}, "api_key_env"),
        (
            {"url": "http://octopi.local", "api_key_env": "FABSERVER_TEST_UNSET_VARIABLE"},
            "api_key_env",
        ),
        ({"api_key_env": KEY_ENV}, "url"),
        ({"url": "octopi.local", "api_key_env": KEY_ENV}, "url"),
    ],
)
def test_settings_are_checked(machine_with, monkeypatch, table, key):
    monkeypatch.setenv(KEY_ENV, "K")
    monkeypatch.delenv("FABSERVER_TEST_UNSET_VARIABLE", raising=False)
    with pytest.raises(ConnectorSettingsError) as error:
        connector_for(machine_with({"type": "octoprint", **table}))
    assert error.value.key == key
