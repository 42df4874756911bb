"""Real servers in subprocesses (``fabserver serve`` / ``fabserver worker``) on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "tests" / "web" / "support"
sys.path.insert(0, str(SUPPORT))

import fab_testplugins  # noqa: E402

STAFF_USER, STAFF_PASSWORD = "ana", "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fabserver_command() -> list[str]:
    script = Path(sys.executable).with_name("fabserver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fabserver.cli"]


@dataclass
class Lab:
    """What the flow uses: a real plugin when installed, else the test plugins."""

    plugin: str
    machine: str
    material: str
    sample: Path
    env: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def real(self) -> bool:
        return not self.plugin.startswith("test")


def choose_lab(tmp: Path) -> Lab:
    from fabserver.profiles import load_profiles
    from fabserver.registry import load_registry

    registry = load_registry()
    profiles = load_profiles()
    samples = {
        "fdm": ["fdm-step.stl", "web-block.stl"],
        "vinyl": ["vinyl-sticker.svg"],
        "laser": ["laser-keyring.svg"],
    }
    for plugin, names in samples.items():
        if plugin not in registry.plugins:
            continue
        sample = next(
            (ROOT / "samples" / n for n in names if (ROOT / "samples" / n).exists()), None
        )
        machine = next((m for m in profiles.machines.values() if m.plugin == plugin), None)
        if sample is None or machine is None or not profiles.materials_for(machine):
            continue
        material = profiles.materials_for(machine)[0]
        return Lab(plugin, machine.id, material.id, sample)
    # No real plugin: the test plugins, loaded by the server through an entry point.
    entry_points = fab_testplugins.write_entry_points(tmp / "entry-points")
    env = {
        "PYTHONPATH": os.pathsep.join([str(entry_points), str(SUPPORT)]),
        "FABSERVER_PROFILES": str(fab_testplugins.PROFILES),
    }
    return Lab(
        "testbox",
        "box-1",
        "test-pla",
        ROOT / "samples" / "web-block.stl",
        env,
        {"opt-testbox-delay_s": "3"},  # long enough to watch the progress
    )


@dataclass
class Server:
    url: str
    data: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data: Path, env: dict[str, str], log: Path) -> Server:
    port = free_port()
    full_env = {**os.environ, **env, "FABSERVER_DATA": str(data)}
    full_env.pop("FABSERVER_REDIS_URL", None)
    handle = log.open("ab")
    process = subprocess.Popen(
        [*fabserver_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full_env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/api/v1/machines", timeout=2).ok:
                return Server(url, data, process, log)
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-3000:]}")


def add_staff(data: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [*fabserver_command(), "add-staff", STAFF_USER, "--data", str(data)],
        env={**os.environ, **env, "FABSERVER_STAFF_PASSWORD": STAFF_PASSWORD},
        check=True,
        capture_output=True,
        timeout=120,
    )


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
