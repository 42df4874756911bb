"""A streaming job's state and controls, shared between processes through two files.

The worker that streams to a serial port is often not the process serving the
staff page. The stream publishes its state to ``<folder>/<port>.json`` (written
atomically, at most a few times a second) and picks up one pending command
from ``<folder>/<port>.control`` ("pause", "resume", "abort"). Same host only;
enough for one lab server.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .naming import ascii_slug

COMMANDS = ("pause", "resume", "abort")


def default_folder() -> Path:
    return Path(tempfile.gettempdir()) / "fabserver-streams"


class StreamBoard:
    def __init__(self, folder: Path | None, port: str):
        self.folder = folder or default_folder()
        slug = ascii_slug(port) or "port"
        self.state_file = self.folder / f"{slug}.json"
        self.control_file = self.folder / f"{slug}.control"

    def _write(self, path: Path, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def publish(self, snapshot: dict[str, Any]) -> None:
        self._write(self.state_file, json.dumps({**snapshot, "pid": os.getpid()}))

    def read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def request(self, command: str) -> None:
        if command not in COMMANDS:
            raise ValueError(f"unknown command '{command}'")
        self._write(self.control_file, command)

    def take_request(self) -> str | None:
        try:
            command = self.control_file.read_text().strip()
            self.control_file.unlink()
        except OSError:
            return None
        return command if command in COMMANDS else None

    def clear_requests(self) -> None:
        with contextlib.suppress(OSError):
            self.control_file.unlink()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
