"""``moonraker`` against a local stand-in that follows Moonraker's documented API.

Not tried on a real Moonraker/Klipper here: the stand-in answers as the
documentation says (upload answer unwrapped, queries wrapped in ``result``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fabserver.dispatch import DispatchError, TransientDispatchError, connector_for

from .moonraker_standin import MoonrakerStandIn

KEY_ENV = "FABSERVER_TEST_MOONRAKER_KEY"


@pytest.fixture
def moonraker():
    standin = MoonrakerStandIn()
    yield standin
    standin.close()


@pytest.fixture
def gcode(tmp_path: Path) -> Path:
    path = tmp_path / "voron.gcode"
    path.write_bytes(b"; test\nG28\n" + os.urandom(200_000).hex().encode() + b"\nM84\n")
    return path


def connect(machine_with, url: str, **settings):
    return connector_for(machine_with({"type": "moonraker", "url": url, **settings}))


def test_upload_starts_the_print_and_progress_is_read_back(machine_with, moonraker, gcode):
    connector = connect(machine_with, moonraker.url, start=True)
    receipt = connector.send(gcode, "J0042-voron.gcode")
    assert receipt.started and receipt.remote_ref == "J0042-voron.gcode"
    assert moonraker.files["J0042-voron.gcode"] == gcode.read_bytes()
    (fields,) = moonraker.uploads
    assert fields["root"] == "gcodes" and fields["print"] == "true"
    assert fields["checksum"] == hashlib.sha256(gcode.read_bytes()).hexdigest()

    state = connector.status()
    assert (state.state, state.progress) == ("printing", 0.0)
    assert state.details["file"] == "J0042-voron.gcode"
    moonraker.advance(0.4)
    assert connector.status().progress == pytest.approx(0.4)

    again = connector.send(gcode, "J0042-voron.gcode")
    assert again.started and "Already" in again.message.en
    assert len(moonraker.uploads) == 1, "a retried dispatch must not upload twice"

    connector.pause()
    assert connector.status().state == "paused"
    connector.resume()
    assert connector.status().state == "printing"
    moonraker.advance(1.0)
    finished = connector.status()
    assert (finished.state, finished.progress) == ("idle", 1.0)
    assert moonraker.commands == ["pause", "resume"]


def test_without_start_the_file_waits_in_a_folder(machine_with, moonraker, gcode):
    connector = connect(machine_with, moonraker.url, folder="fablab/")
    receipt = connector.send(gcode, "J7.gcode")
    assert not receipt.started
    assert receipt.remote_ref == "fablab/J7.gcode"
    assert "print" not in moonraker.uploads[0]
    assert connector.status().state == "idle"


def test_busy_printer_gets_the_file_but_does_not_start(machine_with, moonraker, gcode):
    moonraker.start_print("someone-else.gcode")
    receipt = connect(machine_with, moonraker.url, start=True).send(gcode, "J8.gcode")
    assert not receipt.started
    assert "not started" in receipt.message.en
    assert "J8.gcode" in moonraker.files


def test_damaged_upload_is_transient_and_the_retry_succeeds(machine_with, moonraker, gcode):
    connector = connect(machine_with, moonraker.url)
    moonraker.damage_next_upload = True
    with pytest.raises(TransientDispatchError, match="checksum"):
        connector.send(gcode, "J9.gcode")
    assert "J9.gcode" not in moonraker.files
    connector.send(gcode, "J9.gcode")
    assert moonraker.files["J9.gcode"] == gcode.read_bytes()


def test_api_key_is_sent_and_a_missing_one_is_a_permanent_error(machine_with, gcode, monkeypatch):
    standin = MoonrakerStandIn(api_key="s3cret")
    try:
        monkeypatch.setenv(KEY_ENV, "s3cret")
        connect(machine_with, standin.url, api_key_env=KEY_ENV).send(gcode, "J1.gcode")
        assert "J1.gcode" in standin.files
        with pytest.raises(DispatchError) as error:
            connect(machine_with, standin.url).send(gcode, "J2.gcode")
        assert not isinstance(error.value, TransientDispatchError)
        assert "HTTP 401" in error.value.message.en
    finally:
        standin.close()


def test_server_trouble_is_transient(machine_with, moonraker, gcode):
    moonraker.fail_next_with = 503
    with pytest.raises(TransientDispatchError, match="503"):
        connect(machine_with, moonraker.url).send(gcode, "J3.gcode")


def test_klipper_shutdown_is_reported_in_words(machine_with, moonraker):
    moonraker.klippy_state = "shutdown"
    moonraker.klippy_message = "MCU 'mcu' shutdown: Timer too close"
    state = connect(machine_with, moonraker.url).status()
    assert state.state == "error"
    assert "Timer too close" in state.message.fr
