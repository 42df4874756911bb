"""Connector settings: defaults, the key named in every problem, web addresses in their
normal form and joined to the API paths as the connectors send them."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabserver.dispatch import BUILT_IN, ConnectorSettingsError
from fabserver.dispatch.base import Connector
from fabserver.dispatch.http import HttpConnector
from fabserver.dispatch.octoprint import OctoPrintSettings

KEY_ENV = "FABSERVER_TEST_SETTINGS_KEY"


def checked(kind: str, table: dict) -> Connector:
    connector = BUILT_IN[kind](table, "printer-9")
    connector.check()
    return connector


def problem(kind: str, table: dict) -> ConnectorSettingsError:
    with pytest.raises(ConnectorSettingsError) as error:
        checked(kind, table)
    assert error.value.machine_id == "printer-9"
    return error.value


def test_defaults_are_the_documented_ones():
    assert checked("download", {}).config.name_style == "short"
    assert checked("download", {}).config.name_length == 24
    raw = checked("raw-tcp", {"host": "plotter.lab"}).config
    assert (raw.port, raw.timeout, raw.prefix, raw.suffix) == (9100, 30.0, "", "")
    grbl = checked("serial-grbl", {"port": "/dev/ttyUSB0"}).config
    assert (grbl.baudrate, grbl.rx_buffer, grbl.max_line_length) == (115200, 127, 79)
    assert (grbl.status_interval, grbl.handshake_timeout, grbl.silence_timeout) == (0.2, 5, 10)
    assert (grbl.mode, grbl.state_dir, grbl.state_folder) == ("background", None, None)
    moonraker = checked("moonraker", {"url": "http://voron.lab:7125"}).config
    assert (moonraker.timeout, moonraker.connect_timeout, moonraker.follow_interval) == (30, 5, 60)
    assert (moonraker.command_timeout, moonraker.confirm_timeout) == (5, 10)
    assert (moonraker.api_key_env, moonraker.verify_tls, moonraker.start) == (None, True, False)
    folder = checked("folder", {"path": "/srv/jobs"}).config
    assert (folder.mount, folder.overwrite, folder.create) == (None, False, False)


def test_folder_names_are_read_as_paths():
    folder = checked("folder", {"path": "/media/usb/jobs/", "mount_point": "/media/usb"})
    assert folder.folder == Path("/media/usb/jobs") and folder.config.mount == Path("/media/usb")
    grbl = checked("serial-grbl", {"port": "COM3", "state_dir": "/run/streams"})
    assert grbl.config.state_folder == Path("/run/streams")
    assert grbl.board.state_file.parent == Path("/run/streams")


@pytest.mark.parametrize(
    ("kind", "table", "key", "words"),
    [
        ("download", {"name_length": 7}, "name_length", ">= 8"),
        ("download", {"name_length": 256}, "name_length", "<= 255"),
        ("download", {"name_style": "long"}, "name_style", "'long' (one of 'short', '8.3')"),
        ("raw-tcp", {}, "host", "missing"),
        ("raw-tcp", {"host": ""}, "host", "length >= 1"),
        ("raw-tcp", {"host": "h", "port": 65536}, "port", "<= 65535"),
        ("raw-tcp", {"host": "h", "port": "printer"}, "port", "Expected int, got str"),
        ("raw-tcp", {"host": "h", "timeout": 0}, "timeout", "> 0"),
        ("raw-tcp", {"host": "h", "prefx": "IN;"}, "prefx", "unknown key"),
        ("folder", {"path": 5}, "path", "Expected str, got int"),
        ("folder", {"path": "/srv/x", "create": "yes"}, "create", "Expected bool"),
        ("serial-grbl", {"port": "COM3", "rx_buffer": 15}, "rx_buffer", ">= 16"),
        ("serial-grbl", {"port": "COM3", "baudrate": 0}, "baudrate", ">= 1"),
        (
            "serial-grbl",
            {"port": "COM3", "mode": "fast"},
            "mode",
            "(one of 'background', 'blocking')",
        ),
        ("moonraker", {"url": "http://h", "command_timeout": -1}, "command_timeout", "> 0"),
        ("moonraker", {"url": "http://h", "follow_interval": 0}, "follow_interval", "> 0"),
        (
            "octoprint",
            {"url": "http://h", "location": "usb"},
            "location",
            "(one of 'local', 'sdcard')",
        ),
    ],
)
def test_every_problem_names_its_key_in_both_languages(kind, table, key, words):
    error = problem(kind, table)
    assert error.key == key and words in error.problem
    assert f"clé « {key} » : " in error.message.fr and f"key '{key}': " in error.message.en
    assert words in error.message.fr and words in error.message.en


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("http://octopi.lan", "http://octopi.lan/"),
        ("http://octopi.lan/", "http://octopi.lan/"),
        ("HTTP://OctoPi.LAN:5000", "http://octopi.lan:5000/"),
        ("https://lab.example/octoprint/", "https://lab.example/octoprint/"),
        ("https://lab.example/octoprint", "https://lab.example/octoprint"),
        ("http://voron.lab:80", "http://voron.lab/"),
        ("https://voron.lab:443/", "https://voron.lab/"),
        ("http://[::1]:80", "http://[::1]/"),
        ("http://127.0.0.1:7125", "http://127.0.0.1:7125/"),
        ("  http://voron.lab  ", "http://voron.lab/"),
        ("http:///voron.lab", "http://voron.lab/"),
        ("http://imprimante-tête.lab", "http://xn--imprimante-tte-1kb.lab/"),
        ("http://lab/mes imprimantes/é", "http://lab/mes%20imprimantes/%C3%A9"),
        ("http://lab/a/../b", "http://lab/b"),
        ("http://user:secret@octopi.lan", "http://user:secret@octopi.lan/"),
    ],
)
def test_addresses_are_kept_in_their_normal_form(monkeypatch, given, written):
    """The forms profiles have always had: staff see them in messages and receipts."""
    monkeypatch.setenv(KEY_ENV, "K")
    for kind in ("octoprint", "moonraker"):
        connector = checked(kind, {"url": given, "api_key_env": KEY_ENV})
        assert isinstance(connector, HttpConnector)
        assert connector.config.url == written
        assert connector.base_url == written.rstrip("/")


def test_an_address_is_normal_however_the_settings_are_built():
    settings = OctoPrintSettings(url="HTTP://OctoPi.lan:80")
    assert settings.url == "http://octopi.lan/"
    assert OctoPrintSettings(url=settings.url).url == settings.url


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("octopi.lan", "begin it with http:// or https://"),
        ("ftp://octopi.lan", "begin it with http:// or https://"),
        ("octopi.lan:5000", "begin it with http:// or https://"),
        ("", "begin it with http:// or https://"),
        ("http://", "names no host"),
        ("https:///", "names no host"),
        ("http://octopi.lan:99999", "not a valid web address"),
        ("http://octopi.lan:abc", "not a valid web address"),
        ("http://octo pi.lan", "not a valid web address"),
        ("http://[::1", "not a valid web address"),
    ],
)
def test_what_is_not_a_web_address_is_refused_naming_url(given, words):
    error = problem("moonraker", {"url": given})
    assert error.key == "url" and words in error.problem
    assert f"'{given}'" in error.problem


@pytest.fixture
def web_server() -> Iterator[tuple[int, list[str]]]:
    """A real HTTP server on a free port that answers ``{}`` and keeps the paths asked."""
    paths: list[str] = []

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], paths
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("address", "asked"),
    [
        ("http://127.0.0.1:{port}", "/server/info"),
        ("HTTP://127.0.0.1:{port}/", "/server/info"),
        ("http://127.0.0.1:{port}/printer-2/", "/printer-2/server/info"),
        ("http://127.0.0.1:{port}/printer 2", "/printer%202/server/info"),
    ],
)
def test_api_paths_are_joined_to_the_address(web_server, address, asked):
    port, paths = web_server
    connector = checked("moonraker", {"url": address.format(port=port)})
    assert isinstance(connector, HttpConnector)
    assert connector.request("GET", "/server/info").json() == {}
    assert paths == [asked]
