"""``serial-grbl``: stream G-code to a GRBL 1.1 controller on a serial port.

Streaming itself (character counting) is in ``grbl_stream``; this module is the
connector around it.

``send`` runs the stream in a background thread and returns once GRBL has
answered and the first lines are accepted: a laser or milling job lasts up to
hours, the queue worker must not wait for it, and staff need pause, resume and
abort while it runs. ``stream(file, progress=...)`` is the blocking form, for
the command line and for scripts. One stream per port at a time; the last
stream of each port stays known to ``status()``, in this process directly and
in others through the files ``stream_board`` keeps.

- ``error:N``: no further line is sent; the lines already in GRBL's buffer
  finish; the job ends in error naming the file line and GRBL's meaning.
- ``ALARM:N``: GRBL has already stopped and emptied its buffer; the stream ends
  at once with the alarm in words.
- pause ``!`` (feed hold), resume ``~``, abort: feed hold, then soft reset
  (0x18) once the machine has stopped, so the position is kept.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ..i18n import Text
from .base import Connector, DispatchError, MachineState, Receipt, TransientDispatchError
from .grbl_protocol import program_lines
from .grbl_stream import ACTIVE_STATES as _ACTIVE
from .grbl_stream import GrblSettings, GrblStream, Progress
from .stream_board import StreamBoard, process_alive

__all__ = ["GrblSettings", "GrblStream", "SerialGrblConnector"]


# The last stream of each port, in this process (one serial port, one owner).
_STREAMS: dict[str, GrblStream] = {}
_STREAMS_LOCK = threading.Lock()

_STATES = {
    "connecting": "connecting",
    "running": "printing",
    "finishing": "printing",
    "paused": "paused",
    "done": "idle",
    "aborted": "idle",
    "error": "error",
    "alarm": "error",
}


# pyserial URL handlers that make sense for a machine controller.
URL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "hwgrep")


class SerialGrblConnector(Connector[GrblSettings]):
    type = "serial-grbl"
    description = Text("GRBL sur port série (streaming)", "GRBL on a serial port (streaming)")
    Settings = GrblSettings

    def check(self) -> None:
        super().check()
        port = self.port
        scheme, sep, _ = port.partition("://")
        if sep and scheme not in URL_SCHEMES:
            raise self._fail(
                "port", f"unknown URL scheme '{scheme}' (known: {', '.join(URL_SCHEMES)})"
            )
        if not sep and not port.startswith("/") and not port.upper().startswith("COM"):
            raise self._fail(
                "port", "give a device path (/dev/ttyUSB0) or a URL (socket://host:23)"
            )

    @property
    def port(self) -> str:
        return self.config.port

    def current(self) -> GrblStream | None:
        with _STREAMS_LOCK:
            return _STREAMS.get(self.port)

    @property
    def board(self) -> StreamBoard:
        return StreamBoard(self.config.state_folder, self.port)

    def _elsewhere(self) -> dict[str, Any] | None:
        """The published state of a stream run by another process on this host, if active."""
        snapshot = self.board.read()
        if not snapshot or snapshot.get("pid") == os.getpid():
            return None
        if snapshot.get("state") in _ACTIVE and not process_alive(int(snapshot.get("pid", 0))):
            return {
                **snapshot,
                "state": "error",
                "message": {
                    "fr": "Le processus qui envoyait ce travail s'est arrêté.",
                    "en": "The process streaming this job stopped.",
                },
            }
        return snapshot

    def _prepare(self, file: Path, remote_name: str, progress: Progress | None) -> GrblStream:
        try:
            text = file.read_text(encoding="ascii", errors="strict")
        except UnicodeDecodeError as error:
            raise DispatchError(
                Text(
                    "Le fichier n'est pas du G-code texte (caractères non ASCII).",
                    "The file is not text G-code (non-ASCII characters).",
                ),
                detail=repr(error),
            ) from error
        config = self.config
        elsewhere = self._elsewhere()
        if elsewhere and elsewhere.get("state") in _ACTIVE:
            raise _busy(self.port, str(elsewhere.get("job")))
        stream = GrblStream(config, program_lines(text), remote_name, progress, board=self.board)
        with _STREAMS_LOCK:
            running = _STREAMS.get(self.port)
            if running is not None and running.active:
                raise _busy(self.port, running.name)
            _STREAMS[self.port] = stream
        return stream

    def stream(
        self, file: Path, remote_name: str = "", progress: Progress | None = None
    ) -> GrblStream:
        """Stream in the calling thread until the job ends; ``progress`` is called as it goes."""
        stream = self._prepare(file, remote_name or file.name, progress)
        stream.run()
        if stream.failure is not None:
            raise stream.failure
        return stream

    def send(self, file: Path, remote_name: str) -> Receipt:
        running = self.current()
        if running is not None and running.active and running.name == remote_name:
            return Receipt(
                Text(
                    f"Déjà en cours sur {self.port} : {remote_name}",
                    f"Already running on {self.port}: {remote_name}",
                ),
                remote_ref=remote_name,
                started=True,
            )
        if self.config.mode == "blocking":
            self.stream(file, remote_name)
            return Receipt(
                Text(
                    f"Travail terminé sur {self.port} : {remote_name}",
                    f"Job finished on {self.port}: {remote_name}",
                ),
                remote_ref=remote_name,
                started=True,
            )
        stream = self._prepare(file, remote_name, None)
        thread = threading.Thread(target=stream.run, name=f"grbl-{self.port}", daemon=True)
        thread.start()
        stream.started.wait()
        if stream.failure is not None and stream.acked_lines == 0:
            raise stream.failure  # nothing ran: the queue may retry or report
        return Receipt(
            Text(
                f"Envoi lancé sur {self.port} : {remote_name} ({len(stream.lines)} lignes)",
                f"Streaming started on {self.port}: {remote_name} ({len(stream.lines)} lines)",
            ),
            remote_ref=remote_name,
            started=True,
        )

    def status(self) -> MachineState | None:
        """The stream's state, from this process or as another process published it.

        None when no stream is known. The port is never opened just to ask:
        opening resets an Arduino GRBL.
        """
        stream = self.current()
        snapshot = stream.snapshot() if stream is not None else self._elsewhere()
        if snapshot is None:
            return None
        return MachineState(
            _STATES.get(snapshot["state"], "error"),
            progress=snapshot.get("progress"),
            message=Text.from_dict(snapshot.get("message") or ""),
            details={
                k: snapshot.get(k) for k in ("job", "grbl_state", "position", "lines_done", "lines")
            },
        )

    def _control(self, command: str) -> None:
        stream = self.current()
        if stream is not None and stream.active:
            getattr(stream, command)()
            return
        elsewhere = self._elsewhere()
        if elsewhere and elsewhere.get("state") in _ACTIVE:
            self.board.request(command)
            return
        raise DispatchError(
            Text(f"Aucun travail en cours sur {self.port}.", f"No job running on {self.port}.")
        )

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def abort(self) -> None:
        self._control("abort")

    cancel = abort


def _busy(port: str, job: str) -> TransientDispatchError:
    return TransientDispatchError(
        Text(f"{port} est occupé par le travail {job}.", f"{port} is busy with job {job}.")
    )
