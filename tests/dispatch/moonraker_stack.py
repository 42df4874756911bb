"""A real Klipper host and Moonraker for the tests, from ``../shared/moonraker-stack``.

``start_stack.sh 0`` builds them once (gcc, make, pip) and starts them on a free
loopback port; ``stop_stack.sh PORT`` stops them. Where the stack's folder is
absent (a user's clone) or it cannot be built, the tests skip with the reason;
with ``CI=true`` they fail instead, so a CI run never passes without it.

Prints take real wall-clock time: the G-code here is tiny. Temperatures are files
(milli-degrees) the tests write to hold a heat-up wait.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from fabserver.testing import ROOT, require

STACK_DIR = Path(
    os.environ.get("FABSERVER_MOONRAKER_STACK", ROOT.parent / "shared" / "moonraker-stack")
)
START_TIMEOUT_S = 900  # a cold start builds Klipper and two virtualenvs
EXTRUDER_C, BED_C = 230.0, 70.0  # what start_stack.sh writes


class StackUnavailable(RuntimeError):
    """Why no real stack could be had (the tests skip, or fail under CI, with this)."""


def unavailable(reason: str) -> None:
    """Skip with the reason on a user's machine; fail under CI, where it must be there."""
    require(False, f"no real Moonraker stack: {reason}")


def mr_dir() -> Path:
    return Path(
        os.environ.get("MR_DIR") or Path(os.environ.get("TMPDIR", "/tmp")) / "moonraker-stack"
    )


@dataclass
class Stack:
    url: str
    port: int
    folder: Path  # MR_DIR/stack-PORT: api_key, temperature files, logs
    uploads_tmp: Path  # the TMPDIR of this stack's Moonraker (its uploads in progress)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path, **kwargs)

    def query(self, *objects: str) -> dict[str, Any]:
        """Klipper objects' status; fails loudly when Klipper has shut down."""
        answer = self.api("GET", "/printer/objects/query?" + "&".join(objects))
        answer.raise_for_status()
        return answer.json()["result"]["status"]

    def klippy_state(self) -> str:
        """Klipper's state as Moonraker reports it ("disconnected" when it answers 503)."""
        info = self.api("GET", "/server/info").json()["result"]
        return info["klippy_state"]

    def print_state(self) -> str:
        return self.query("print_stats")["print_stats"]["state"]

    def klippy_message(self) -> str:
        info = self.api("GET", "/printer/info").json().get("result", {})
        return f"{info.get('state')}: {info.get('state_message')}"

    def wait(
        self,
        predicate: Callable[[], Any],
        timeout: float = 60.0,
        what: str = "",
        shutdown_is_failure: bool = True,
    ) -> Any:
        """Poll until ``predicate`` is true; a Klipper shutdown fails at once with its words
        (the stack's hazard "Stepper too far in past" must not read as a result)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if shutdown_is_failure and self.klippy_state() == "shutdown":
                pytest.fail(f"Klipper shut down while waiting for {what}: {self.klippy_message()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what or 'condition'} not reached in {timeout} s")
            time.sleep(0.25)

    def set_temperature(self, heater: str, celsius: float) -> None:
        """What the heater's sensor reads (``extruder`` or ``bed``)."""
        (self.folder / f"{heater}_temp").write_text(f"{round(celsius * 1000)}\n")

    def settle_temperature(self, heater: str, celsius: float) -> None:
        """Set the sensor and wait until Klipper's smoothed reading follows: a heat-up wait
        started while the reading still decays from the old value returns at once."""
        self.set_temperature(heater, celsius)
        name = "heater_bed" if heater == "bed" else heater
        self.wait(
            lambda: abs(self.query(name)[name]["temperature"] - celsius) < 1.0,
            what=f"{name} reading {celsius} °C",
        )

    def klippy_log_tail(self, lines: int = 40) -> str:
        """The end of Klipper's log, for a failure message."""
        log = self.folder / "printer_data" / "logs" / "klippy.log"
        if not log.exists():
            return f"(no {log})"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def gcode(self, script: str) -> None:
        self.api("POST", "/printer/gcode/script", params={"script": script}).raise_for_status()

    def pid(self, process: str) -> int:
        return int((self.folder / f"{process}.pid").read_text())

    def history(self) -> list[dict[str, Any]]:
        answer = self.api("GET", "/server/history/list", params={"limit": 20, "order": "desc"})
        return answer.json()["result"]["jobs"]

    def make_idle(self) -> None:
        """Leave the printer as a test found it: nothing printing, no pause latched,
        heaters at the stack's temperatures, Klipper ready."""
        self.set_temperature("extruder", EXTRUDER_C)
        self.set_temperature("bed", BED_C)
        self._ready_again()
        if self.print_state() in ("printing", "paused"):
            self.api("POST", "/printer/print/cancel", timeout=120)
            # Cleaning up, a shutdown is no test's result: the simulated MCU misses its
            # timers when the machine is overloaded ("Timer too close"); restart it.
            self.wait(
                lambda: (
                    self.print_state() not in ("printing", "paused")
                    or self.klippy_state() == "shutdown"
                ),
                what="cancel to end",
                shutdown_is_failure=False,
            )
            self._ready_again()
        self.gcode("CLEAR_PAUSE")
        self.heaters_off()

    def _ready_again(self) -> None:
        if self.klippy_state() == "ready":
            return
        self.api("POST", "/printer/firmware_restart")
        self.wait(
            lambda: self.klippy_state() == "ready",
            timeout=90,
            what="Klipper ready after a restart",
            shutdown_is_failure=False,
        )
        time.sleep(1.5)  # Moonraker's job tracking subscribes after "ready" (README)

    def heaters_off(self) -> None:
        """Targets to 0, and time for Klipper's verify_heater (it looks once a second) to
        see it: otherwise a heat-up held right after counts as a heater failing to keep
        its old target and shuts Klipper down ("not heating at expected rate")."""
        self.gcode("TURN_OFF_HEATERS")
        time.sleep(1.5)

    def stop(self) -> None:
        subprocess.run(
            [str(STACK_DIR / "stop_stack.sh"), str(self.port), "--rm"],
            capture_output=True,
            timeout=60,
            env={**os.environ, "MR_DIR": str(mr_dir())},
        )
        shutil.rmtree(self.uploads_tmp, ignore_errors=True)


def start_stack(**env: str) -> Stack:
    """A stack on a free port; ``env``: MR_QUEUE_UPLOADS, MR_TRUSTED… (see its README)."""
    script = STACK_DIR / "start_stack.sh"
    if not script.exists():
        raise StackUnavailable(
            f"{STACK_DIR} not found (present only in the lab's workspace; "
            "FABSERVER_MOONRAKER_STACK names another place)"
        )
    # Moonraker streams each upload to TMPDIR/moonraker.upload-<second>.mru, named by the
    # second of the system's monotonic clock: two stacks on one machine (this run's, or
    # another's) receiving a file in the same second would swap their contents. Each
    # stack gets a temporary folder of its own.
    uploads_tmp = Path(tempfile.mkdtemp(prefix="fabserver-moonraker-"))
    environment = {**os.environ, "MR_DIR": str(mr_dir()), "TMPDIR": str(uploads_tmp), **env}
    environment.setdefault("NO_PROXY", "127.0.0.1")
    try:
        done = subprocess.run(
            [str(script), "0"],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            env=environment,
        )
    except subprocess.TimeoutExpired as error:
        raise StackUnavailable(f"start_stack.sh took over {error.timeout} s") from error
    if done.returncode:
        shutil.rmtree(uploads_tmp, ignore_errors=True)
        raise StackUnavailable(f"start_stack.sh failed: {done.stderr.strip()[-800:]}")
    url = done.stdout.strip().splitlines()[-1]
    port = int(url.rsplit(":", 1)[1])
    return Stack(url, port, mr_dir() / f"stack-{port}", uploads_tmp)


def tiny_gcode(path: Path, moves: int = 6, feed: int = 6000, heat: bool = False) -> Path:
    """A real print of a few seconds on the stack's printer: home, extrude ``moves``
    lines of 40 mm (0.4 s each at the default feed; 2 s at ``feed=1200``)."""
    lines = ["; fabserver test print", "G28", "G90", "M83"]
    if heat:
        lines += ["M190 S60", "M109 S210"]
    lines += ["G1 Z0.3 F900", "G1 X20 Y20 F6000"]
    for i in range(moves):
        lines.append(f"G1 X{20 + 40 * ((i + 1) % 2)} Y{20 + i} E1 F{feed}")
    lines += ["G1 Z10 F900", "M400"]
    path.write_text("\n".join(lines) + "\n")
    return path
