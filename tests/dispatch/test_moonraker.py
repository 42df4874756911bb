"""``moonraker`` against a real Moonraker v0.10 driving a real Klipper v0.13 host.

The stack (``../shared/moonraker-stack``) runs Klipper's Linux-process MCU with
simulated pins and temperatures on loopback; prints take real time, so the G-code
is a few seconds long. One test uses the stand-in, for the one fault the real
stack cannot produce (bytes damaged on the way).
"""

from __future__ import annotations

import os

import pytest

from fabserver.dispatch import DispatchError, TransientDispatchError, connector_for

from .moonraker_stack import tiny_gcode
from .moonraker_standin import MoonrakerStandIn

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("moonraker")]

KEY_ENV = "FABSERVER_TEST_MOONRAKER_KEY"
# A short wait for the answer to a command Klipper answers late (a heat-up holds it);
# a long one for the confirmation, as a loaded test machine makes Klipper slow.
QUICK = {"command_timeout": 2.0, "confirm_timeout": 30.0}


def connect(machine_with, url: str, **settings):
    return connector_for(machine_with({"type": "moonraker", "url": url, **QUICK, **settings}))


def stored(stack, path: str) -> bytes:
    return (stack.folder / "printer_data" / "gcodes" / path).read_bytes()


def test_print_starts_progress_grows_and_history_gives_the_real_duration(
    machine_with, moonraker, tmp_path
):
    job = tiny_gcode(tmp_path / "voron.gcode", moves=12, feed=3000)
    connector = connect(machine_with, moonraker.url, start=True)
    receipt = connector.send(job, "J0042-voron.gcode")
    assert receipt.started and receipt.remote_ref == "J0042-voron.gcode", receipt.message.en
    assert stored(moonraker, "J0042-voron.gcode") == job.read_bytes()

    first = moonraker.wait(
        lambda: (s := connector.status()).state == "printing" and s.progress and s,
        what="printing with progress",
    )
    assert first.details["file"] == "J0042-voron.gcode"
    assert connector.outcome("J0042-voron.gcode") is None, "still printing: no outcome yet"

    again = connector.send(job, "J0042-voron.gcode")
    assert again.started and "Already printing" in again.message.en
    assert [j["filename"] for j in moonraker.history()].count("J0042-voron.gcode") == 1

    later = moonraker.wait(
        lambda: (s := connector.status()).progress > first.progress and s, what="progress"
    )
    assert later.state in ("printing", "idle")
    moonraker.wait(lambda: connector.status().state == "idle", what="the print to end")
    outcome = moonraker.wait(
        lambda: connector.outcome("J0042-voron.gcode"), what="the job in history"
    )
    (entry,) = [j for j in moonraker.history() if j["filename"] == "J0042-voron.gcode"]
    assert outcome.completed and outcome.source == "moonraker"
    assert outcome.time_s == pytest.approx(entry["total_duration"])
    assert outcome.time_s > 0
    assert outcome.filament_mm == pytest.approx(12.0)  # twelve moves of E1
    assert outcome.details["print_duration"] == pytest.approx(entry["print_duration"])
    # A job dispatched after this entry started is not answered with it.
    assert connector.outcome("J0042-voron.gcode", since=entry["end_time"] + 1) is None


def test_without_start_the_file_waits_in_a_folder(machine_with, moonraker, tmp_path):
    job = tiny_gcode(tmp_path / "a.gcode")
    connector = connect(machine_with, moonraker.url, folder="fablab/")
    receipt = connector.send(job, "J7.gcode")
    assert not receipt.started
    assert receipt.remote_ref == "fablab/J7.gcode"
    assert stored(moonraker, "fablab/J7.gcode") == job.read_bytes()
    assert connector.status().state == "idle"
    assert moonraker.print_state() != "printing"


def test_busy_printer_gets_the_file_but_does_not_start(machine_with, moonraker, tmp_path):
    connector = connect(machine_with, moonraker.url, start=True)
    connector.send(tiny_gcode(tmp_path / "long.gcode", moves=30, feed=1200), "J1-long.gcode")
    receipt = connector.send(tiny_gcode(tmp_path / "b.gcode"), "J8.gcode")
    assert not receipt.started
    assert "not started" in receipt.message.en and "printing" in receipt.message.en
    assert stored(moonraker, "J8.gcode")
    assert moonraker.query("print_stats")["print_stats"]["filename"] == "J1-long.gcode"


def test_pause_resume_cancel_on_an_idle_printer_are_refused_and_nothing_latches(
    machine_with, moonraker
):
    connector = connect(machine_with, moonraker.url)
    for command, words in (("pause", "Nothing to pause"), ("resume", "Nothing to resume")):
        with pytest.raises(DispatchError) as refused:
            getattr(connector, command)()
        assert words in refused.value.message.en
        assert "Rien à" in refused.value.message.fr
        assert not isinstance(refused.value, TransientDispatchError)
    with pytest.raises(DispatchError, match="Nothing to cancel"):
        connector.cancel()
    assert moonraker.query("pause_resume")["pause_resume"]["is_paused"] is False


def test_a_pause_latched_by_someone_else_is_cleared_so_the_next_pause_works(
    machine_with, moonraker, tmp_path
):
    # What Mainsail's pause button does on an idle printer: 200, and Klipper latches.
    assert moonraker.api("POST", "/printer/print/pause").json() == {"result": "ok"}
    assert moonraker.query("pause_resume")["pause_resume"]["is_paused"] is True

    connector = connect(machine_with, moonraker.url, start=True)
    receipt = connector.send(tiny_gcode(tmp_path / "p.gcode", moves=30, feed=1200), "J2.gcode")
    assert receipt.started
    moonraker.wait(lambda: connector.status().state == "printing", what="printing")
    said = connector.pause()
    assert said.en == "Print paused.", moonraker.query("print_stats", "pause_resume")
    assert moonraker.print_state() == "paused"
    position = moonraker.query("virtual_sdcard")["virtual_sdcard"]["file_position"]
    assert connector.status().state == "paused"
    assert moonraker.query("virtual_sdcard")["virtual_sdcard"]["file_position"] == position
    assert "already paused" in connector.pause().en
    assert connector.resume().en == "Print resumed."
    assert connector.cancel().en == "Print cancelled."
    assert moonraker.print_state() == "cancelled"
    assert moonraker.query("pause_resume")["pause_resume"]["is_paused"] is False


def test_pause_and_cancel_during_a_heat_up_are_sent_and_confirmed_by_polling(
    machine_with, moonraker, tmp_path
):
    connector = connect(machine_with, moonraker.url, start=True)
    moonraker.settle_temperature("bed", 40.0)  # below M190 S60: the wait holds
    connector.send(tiny_gcode(tmp_path / "h.gcode", heat=True), "J3-heat.gcode")
    heating = moonraker.wait(
        lambda: (s := connector.status()).state == "heating" and s, what="heating"
    )
    assert "bed 40/60" in heating.message.en and "plateau 40/60" in heating.message.fr

    said = connector.pause()  # Klipper holds the answer until the heat-up ends
    assert "heating" in said.en and "chauffe" in said.fr
    assert moonraker.print_state() == "printing"
    moonraker.set_temperature("bed", 70.0)
    moonraker.wait(lambda: connector.status().state == "paused", what="the pause to take effect")
    assert connector.cancel().en == "Print cancelled."
    assert moonraker.query("pause_resume")["pause_resume"]["is_paused"] is False

    moonraker.heaters_off()
    moonraker.settle_temperature("bed", 40.0)
    connector.send(tiny_gcode(tmp_path / "h2.gcode", heat=True), "J4-heat.gcode")
    moonraker.wait(lambda: connector.status().state == "heating", what="heating again")
    said = connector.cancel()
    assert "heating" in said.en
    moonraker.set_temperature("bed", 70.0)
    moonraker.wait(lambda: moonraker.print_state() == "cancelled", what="the cancel")
    outcome = moonraker.wait(lambda: connector.outcome("J4-heat.gcode"), what="history")
    assert outcome.status == "cancelled" and not outcome.completed


def test_shutdown_and_klipper_errors_are_in_the_hosts_words(machine_with, moonraker):
    connector = connect(machine_with, moonraker.url)
    moonraker.gcode("G28")
    with pytest.raises(DispatchError) as one_line:
        connector.request("POST", "/printer/gcode/script", params={"script": "G1 X500"})
    assert "Move out of range: 500.000" in one_line.value.message.en

    moonraker.api("POST", "/printer/emergency_stop")
    state = moonraker.wait(
        lambda: (s := connector.status()).state == "error" and s,
        what="the shutdown",
        shutdown_is_failure=False,
    )
    assert "Shutdown due to webhooks request" in state.message.en
    with pytest.raises(DispatchError) as multi_line:
        connector.request("POST", "/printer/gcode/script", params={"script": "G28"})
    # Moonraker's own "message" is "Unknown" here; the words come from the traceback.
    said = multi_line.value.message.en
    assert "Unknown" not in said
    assert "Shutdown due to webhooks request" in said and "Printer is shutdown" in said


def test_upload_over_the_file_being_printed_is_explained(machine_with, moonraker, tmp_path):
    job = tiny_gcode(tmp_path / "busy.gcode", moves=30, feed=1200)
    connector = connect(machine_with, moonraker.url, start=True)
    connector.send(job, "J5-busy.gcode")
    moonraker.wait(lambda: moonraker.print_state() == "printing", what="printing")
    # The race the retry check cannot see: the print started between check and upload.
    connector._already_there = lambda status, path: None
    with pytest.raises(DispatchError) as refused:
        connector.send(job, "J5-busy.gcode")
    assert not isinstance(refused.value, TransientDispatchError)
    said = refused.value.message
    assert "printing this file" in said.en and "en train d'imprimer ce fichier" in said.fr
    assert "File is loaded, upload not permitted" in said.en
    assert "API key" not in said.en


def test_klipper_starting_or_disconnected_is_offline_and_a_file_still_arrives(
    machine_with, own_moonraker, tmp_path
):
    stack = own_moonraker()
    connector = connect(machine_with, stack.url, start=True)
    os.kill(stack.pid("mcu"), 15)  # the printer's board gone: Klipper retries to connect
    stack.api("POST", "/printer/firmware_restart")
    starting = stack.wait(
        lambda: (s := connector.status()).state == "starting" and s, what="Klipper starting"
    )
    assert "attempting to connect" in starting.message.en

    os.kill(stack.pid("klippy"), 15)  # Klipper itself gone: Moonraker answers 503
    # "Klippy Disconnected" while Moonraker sees it go, then "Klippy Host not connected".
    offline = stack.wait(
        lambda: (
            (s := connector.status()).state == "offline"
            and "Host not connected" in s.message.en
            and s
        ),
        what="offline",
    )
    assert offline.message.en == "Klipper is not connected to Moonraker: Klippy Host not connected"

    job = tiny_gcode(tmp_path / "c.gcode")
    receipt = connector.send(job, "J6.gcode")
    assert not receipt.started
    assert "Klippy Host not connected" in receipt.message.en
    assert stored(stack, "J6.gcode") == job.read_bytes()


def test_queued_uploads_are_seen_and_not_queued_twice(machine_with, own_moonraker, tmp_path):
    stack = own_moonraker(MR_QUEUE_UPLOADS="1")
    connector = connect(machine_with, stack.url, start=True)
    first = connector.send(tiny_gcode(tmp_path / "l.gcode", moves=30, feed=1200), "J10.gcode")
    assert first.started and "Print started" in first.message.en
    queued = connector.send(tiny_gcode(tmp_path / "q.gcode"), "J11.gcode")
    assert queued.started and "job queue" in queued.message.en and "paused" in queued.message.en
    again = connector.send(tiny_gcode(tmp_path / "q.gcode"), "J11.gcode")
    assert "Already in Moonraker's job queue" in again.message.en
    jobs = stack.api("GET", "/server/job_queue/status").json()["result"]["queued_jobs"]
    assert [j["filename"] for j in jobs] == ["J11.gcode"]


def test_without_api_key_env_a_refusal_says_what_to_do_and_a_key_works(
    machine_with, own_moonraker, tmp_path, monkeypatch
):
    stack = own_moonraker(MR_TRUSTED="10.9.9.9")  # loopback is no longer trusted
    job = tiny_gcode(tmp_path / "k.gcode")
    with pytest.raises(DispatchError) as refused:
        connect(machine_with, stack.url).send(job, "J12.gcode")
    said = refused.value.message
    assert "HTTP 401" in said.en and "None" not in said.en and "None" not in said.fr
    assert "trusted clients" in said.en and "api_key_env" in said.en
    monkeypatch.setenv(KEY_ENV, (stack.folder / "api_key").read_text().strip())
    receipt = connect(machine_with, stack.url, api_key_env=KEY_ENV).send(job, "J12.gcode")
    assert receipt.remote_ref == "J12.gcode"
    assert stored(stack, "J12.gcode") == job.read_bytes()


def test_damaged_upload_is_transient_and_the_retry_succeeds(machine_with, tmp_path):
    """Stand-in: loopback never damages bytes, so the real stack cannot answer 422."""
    standin = MoonrakerStandIn()
    try:
        job = tiny_gcode(tmp_path / "d.gcode")
        connector = connect(machine_with, standin.url)
        standin.damage_next_upload = True
        with pytest.raises(TransientDispatchError, match="checksum"):
            connector.send(job, "J9.gcode")
        assert "J9.gcode" not in standin.files
        connector.send(job, "J9.gcode")
        assert standin.files["J9.gcode"] == job.read_bytes()
    finally:
        standin.close()


def test_moonraker_that_does_not_answer_is_offline(machine_with):
    from .test_raw_tcp import free_port

    state = connect(machine_with, f"http://127.0.0.1:{free_port()}").status()
    assert state.state == "offline"
    assert "does not answer" in state.message.en
