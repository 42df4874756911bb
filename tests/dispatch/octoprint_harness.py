"""A real OctoPrint for the tests: its own virtualenv, a prepared base folder, loopback.

The virtualenv is made once and reused (``.venv-octoprint/`` at the repository
root, or ``FABSERVER_OCTOPRINT_VENV``); a lock keeps parallel test workers from
installing twice. The base folder has an admin user with a known API key, the
first-run wizard marked done, online checks off and the virtual printer on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

OCTOPRINT_VERSION = "1.11.8"
ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("FABSERVER_OCTOPRINT_VENV", ROOT / ".venv-octoprint"))
INSTALL_TIMEOUT_S = 900
START_TIMEOUT_S = 180

# Bundled plugins that reach the internet or nag at start; not needed to print.
QUIET_PLUGINS = [
    "announcements",
    "tracking",
    "softwareupdate",
    "discovery",
    "errortracking",
    "achievements",
]


class OctoPrintUnavailable(RuntimeError):
    """Why a real OctoPrint could not be had (the tests skip with this reason)."""


def ensure_venv() -> Path:
    """The ``octoprint`` executable of the pinned version, installing it if needed."""
    executable = VENV / "bin" / "octoprint"
    stamp = VENV / f".installed-{OCTOPRINT_VERSION}"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / f"{VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and executable.exists():
            return executable
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(VENV)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            subprocess.run(
                [str(VENV / "bin" / "pip"), "install", "-q", f"octoprint=={OCTOPRINT_VERSION}"],
                check=True,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.CalledProcessError as error:
            tail = (error.stderr or "")[-600:] if isinstance(error.stderr, str) else ""
            raise OctoPrintUnavailable(
                f"could not install octoprint=={OCTOPRINT_VERSION} (no network?): {tail}"
            ) from error
        except subprocess.TimeoutExpired as error:
            raise OctoPrintUnavailable(
                f"installing octoprint=={OCTOPRINT_VERSION} took over {error.timeout} s"
            ) from error
        stamp.touch()
        return executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class OctoPrint:
    url: str
    api_key: str
    basedir: Path
    process: subprocess.Popen

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-Api-Key": self.api_key, **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def connect_virtual_printer(self, timeout: float = 60.0) -> None:
        if self.api("GET", "/api/connection").json()["current"]["state"] == "Operational":
            return
        answer = self.api(
            "POST",
            "/api/connection",
            json={"command": "connect", "port": "VIRTUAL", "baudrate": 115200},
        )
        answer.raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", "/api/connection").json()["current"]["state"]
            if state == "Operational":
                return
            time.sleep(0.5)
        raise OctoPrintUnavailable(f"virtual printer not operational after {timeout} s: {state}")

    def log_tail(self) -> str:
        log = self.basedir / "logs" / "octoprint.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def _prepare_basedir(executable: Path, basedir: Path, api_key: str) -> None:
    basedir.mkdir(parents=True, exist_ok=True)
    python = executable.parent / "python"
    # OctoPrint's own hasher, so the users file is exactly what it would write.
    password_hash = subprocess.run(
        [
            str(python),
            "-c",
            "import sys; from octoprint.access.users import UserManager; "
            "print(UserManager.create_password_hash(sys.argv[1]))",
            secrets.token_urlsafe(12),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()
    users = {
        "_version": 1,
        "fabserver": {
            "password": password_hash,
            "active": True,
            "groups": ["admins", "users"],
            "permissions": [],
            "apikey": api_key,
            "settings": {},
        },
    }
    config = {
        "server": {
            "firstRun": False,
            "onlineCheck": {"enabled": False},
            "pluginBlacklist": {"enabled": False},
        },
        "serial": {"autoconnect": False},
        "plugins": {"_disabled": QUIET_PLUGINS, "virtual_printer": {"enabled": True}},
    }
    # YAML is a superset of JSON: no YAML writer needed on this side.
    (basedir / "users.yaml").write_text(json.dumps(users))
    (basedir / "config.yaml").write_text(json.dumps(config))


@contextlib.contextmanager
def running_octoprint(basedir: Path) -> Iterator[OctoPrint]:
    executable = ensure_venv()
    api_key = secrets.token_hex(16).upper()
    _prepare_basedir(executable, basedir, api_key)
    port = free_port()
    process = subprocess.Popen(
        [
            str(executable),
            "serve",
            "--basedir",
            str(basedir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            # CI containers run as root; OctoPrint refuses that without this flag.
            *(["--iknowwhatimdoing"] if os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = OctoPrint(f"http://127.0.0.1:{port}", api_key, basedir, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise OctoPrintUnavailable(f"octoprint exited early:\n{server.log_tail()}")
            try:
                if server.api("GET", "/api/version").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise OctoPrintUnavailable(f"octoprint did not start:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
