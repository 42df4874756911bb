"""One G-code program streaming to one GRBL 1.1 controller (character counting).

The streamer keeps the byte count of every line GRBL has not yet acknowledged
and sends the next line only when it fits in the controller's serial buffer
(127 bytes on an Arduino); each ``ok`` or ``error:N`` frees the oldest line.
This keeps GRBL's planner full, unlike send-one-wait-ok, without ever
overflowing the buffer (an overflow silently drops characters and ruins the
part). ``GrblStream.run()`` does the work in the calling thread; the connector
(``serial_grbl``) runs it in the background or blocking.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import serial
from msgspec import Meta

from ..i18n import Text
from ..profiles import Positive
from .base import ConnectorSettings, DispatchError, TransientDispatchError
from .grbl_protocol import (
    CYCLE_START,
    FEED_HOLD,
    MAX_LINE_LENGTH,
    RX_BUFFER_SIZE,
    SOFT_RESET,
    STATUS_QUERY,
    ProgramLine,
    StatusReport,
    alarm_text,
    error_text,
    parse_status,
)
from .stream_board import StreamBoard

log = logging.getLogger(__name__)

Progress = Callable[["GrblStream"], None]
PUBLISH_INTERVAL_S = 0.5

# Stream states while the job is under way (the others: done, error, alarm, aborted).
ACTIVE_STATES = ("connecting", "running", "paused", "finishing")


class GrblSettings(ConnectorSettings):
    #: "/dev/ttyUSB0", or a pyserial URL ("socket://laser:23").
    port: Annotated[str, Meta(min_length=1)]
    baudrate: Annotated[int, Meta(gt=0)] = 115200
    rx_buffer: Annotated[int, Meta(ge=16, le=65536)] = RX_BUFFER_SIZE  # grblHAL: 1023
    max_line_length: Annotated[int, Meta(ge=16, le=255)] = MAX_LINE_LENGTH
    status_interval: Positive = 0.2  # seconds between "?" polls
    handshake_timeout: Positive = 5.0  # GRBL must answer "?" within this
    silence_timeout: Positive = 10.0  # no byte at all for this long: lost
    mode: Literal["background", "blocking"] = "background"
    # Where the stream publishes its state for other processes (the staff page); a
    # folder name, read as a path by ``state_folder``.
    state_dir: str | None = None

    @property
    def state_folder(self) -> Path | None:
        return None if self.state_dir is None else Path(self.state_dir)


class GrblStream:
    """One program streaming to one GRBL; ``run()`` does the work in the calling thread."""

    def __init__(
        self,
        settings: GrblSettings,
        lines: list[ProgramLine],
        name: str,
        progress: Progress | None = None,
        opener: Callable[[], Any] | None = None,
        board: StreamBoard | None = None,
    ):
        self.settings = settings
        self.lines = lines
        self.name = name
        self.progress_callback = progress
        self._open = opener or self._open_port
        self.total_bytes = sum(len(line.data) for line in lines)
        self.acked_bytes = 0
        self.acked_lines = 0
        self.state = "connecting"  # running, paused, finishing, done, error, alarm, aborted
        self.message = Text("Connexion à GRBL…", "Connecting to GRBL…")
        self.failure: DispatchError | None = None
        self.last_status: StatusReport | None = None
        self.grbl_messages: list[str] = []
        self.max_in_flight = 0  # most bytes ever waiting in GRBL's buffer (for tests, logs)
        self.started = threading.Event()
        self.finished = threading.Event()
        self._realtime: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._abort = threading.Event()
        self.board = board
        self._published: tuple[str, float] = ("", 0.0)

    # -- control, from any thread ------------------------------------------------
    @property
    def progress(self) -> float:
        if self.state == "done":
            return 1.0
        return self.acked_bytes / self.total_bytes if self.total_bytes else 0.0

    @property
    def active(self) -> bool:
        return not self.finished.is_set()

    def pause(self) -> None:
        self._realtime.put(FEED_HOLD)

    def resume(self) -> None:
        self._realtime.put(CYCLE_START)

    def abort(self) -> None:
        self._abort.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    # -- the work ------------------------------------------------------------------
    def _open_port(self) -> Any:
        config = self.settings
        try:
            # exclusive: a second program opening the port would garble the stream.
            return serial.serial_for_url(
                config.port, baudrate=config.baudrate, timeout=0.02, write_timeout=5, exclusive=True
            )
        except serial.SerialException as error:
            code = getattr(error, "errno", None)
            words = Text(
                f"Port série {config.port} indisponible : {error.strerror or error}",
                f"Serial port {config.port} unavailable: {error.strerror or error}",
            )
            if code in (errno.EACCES, errno.EPERM):
                raise DispatchError(
                    Text(
                        words.fr + " (droits : ajoutez le service au groupe dialout)",
                        words.en + " (permissions: add the service to the dialout group)",
                    ),
                    detail=repr(error),
                ) from error
            # Unplugged, busy, not yet enumerated: a retry may find it.
            raise TransientDispatchError(words, detail=repr(error)) from error

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.finished.set()  # before ``started``: a waiter woken by it sees the end
            self.started.set()
            self._notify()  # the final state, for other processes

    def _run(self) -> None:
        if self.board is not None:
            self.board.clear_requests()  # a command left for an earlier job is not for this one
        try:
            port = self._open()
        except DispatchError as error:
            self._end("error", error.message, error)
            return
        self._port = port
        self._buffer = b""
        self._heard = time.monotonic()
        try:
            self._handshake()
            self._stream()
        except DispatchError as error:
            self._end("error", error.message, error)
        except (OSError, serial.SerialException) as error:
            lost = TransientDispatchError(
                Text(f"Liaison série perdue : {error}", f"Serial link lost: {error}"),
                detail=repr(error),
            )
            self._end("error", lost.message, lost)
        except Exception as error:  # never leave a stream looking alive after a bug
            log.exception("GRBL stream on %s failed", self.settings.port)
            failure = DispatchError(
                Text("Erreur interne pendant l'envoi.", "Internal error while streaming."),
                detail=repr(error),
            )
            self._end("error", failure.message, failure)
        finally:
            with contextlib.suppress(Exception):
                port.close()

    def _end(self, state: str, message: Text, failure: DispatchError | None = None) -> None:
        self.state, self.message, self.failure = state, message, failure
        self._notify()

    def _notify(self) -> None:
        if self.progress_callback is not None:
            self.progress_callback(self)
        if self.board is not None:
            state, when = self._published
            now = time.monotonic()
            if state != self.state or now - when >= PUBLISH_INTERVAL_S or self.finished.is_set():
                self._published = (self.state, now)
                with contextlib.suppress(OSError):  # the staff page shows less; the job goes on
                    self.board.publish(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """The stream's state as plain data (published for other processes)."""
        report = self.last_status
        return {
            "job": self.name,
            "state": self.state,
            "progress": self.progress,
            "message": self.message.to_dict(),
            "grbl_state": report.state if report else None,
            "position": report.position if report else None,
            "lines_done": self.acked_lines,
            "lines": len(self.lines),
        }

    def _take_board_request(self) -> None:
        command = self.board.take_request() if self.board is not None else None
        if command == "pause":
            self.pause()
        elif command == "resume":
            self.resume()
        elif command == "abort":
            self.abort()

    def _read_lines(self) -> list[str]:
        """Whatever GRBL said since last time, as whole lines (waits ~20 ms at most)."""
        chunk = self._port.read(max(1, self._port.in_waiting))
        if not chunk:
            return []
        self._heard = time.monotonic()
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        return [c.strip().decode("ascii", "replace") for c in complete if c.strip()]

    def _handshake(self) -> None:
        """Ask "?" until GRBL answers; refuse to start on a machine in alarm or busy."""
        deadline = time.monotonic() + self.settings.handshake_timeout
        next_query = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_query:
                # Repeated: an Arduino resetting on connect drops bytes during its boot.
                self._port.write(STATUS_QUERY)
                next_query = time.monotonic() + 0.25
            for line in self._read_lines():
                report = parse_status(line)
                if report is None:
                    continue
                self.last_status = report
                if report.state in ("Idle", "Check"):
                    return
                raise _not_ready(report, self.settings.port)
        raise TransientDispatchError(
            Text(
                f"GRBL ne répond pas sur {self.settings.port} : machine éteinte, mauvais "
                "port ou mauvaise vitesse ?",
                f"GRBL does not answer on {self.settings.port}: machine off, wrong port "
                "or wrong baud rate?",
            ),
            detail=f"no status report within {self.settings.handshake_timeout} s",
        )

    def _stream(self) -> None:
        config = self.settings
        lines = self.lines
        for line in lines:
            if len(line.data) - 1 > config.max_line_length or len(line.data) > config.rx_buffer:
                raise DispatchError(
                    Text(
                        f"Ligne {line.source_line} trop longue pour GRBL "
                        f"({len(line.data) - 1} caractères, {config.max_line_length} au plus) : "
                        f"{line.source_text[:40]}",
                        f"Line {line.source_line} too long for GRBL "
                        f"({len(line.data) - 1} characters, at most {config.max_line_length}): "
                        f"{line.source_text[:40]}",
                    )
                )
        in_flight: deque[ProgramLine] = deque()
        buffered = 0
        next_line = 0
        stop_sending = False
        last_query = 0.0
        reports = 0  # status reports received so far
        reports_when_all_acked: int | None = None
        self.state = "running"
        self.message = Text("Envoi en cours", "Streaming")
        while True:
            if self._abort.is_set():
                self._do_abort()
                return
            while not self._realtime.empty():
                command = self._realtime.get()
                if command == FEED_HOLD and self.state in ("running", "finishing"):
                    self.state = "paused"
                elif command == CYCLE_START and self.state == "paused":
                    self.state = "running"
                self._port.write(command)
            # Fill GRBL's buffer with every next line that fits: the character count.
            batch = []
            while not stop_sending and next_line < len(lines):
                data = lines[next_line].data
                if buffered + len(data) > config.rx_buffer:
                    break
                batch.append(data)
                in_flight.append(lines[next_line])
                buffered += len(data)
                next_line += 1
            if batch:
                self._port.write(b"".join(batch))
                self.max_in_flight = max(self.max_in_flight, buffered)
            self.started.set()
            now = time.monotonic()
            if now - last_query >= config.status_interval:
                self._port.write(STATUS_QUERY)
                last_query = now
                self._take_board_request()
            for said in self._read_lines():
                if said == "ok" or said.startswith("error:"):
                    if not in_flight:
                        continue  # an answer to something we did not send (e.g. a stray newline)
                    done = in_flight.popleft()
                    buffered -= len(done.data)
                    self.acked_bytes += len(done.data)
                    self.acked_lines += 1
                    if said.startswith("error:") and self.failure is None:
                        stop_sending = True
                        self.failure = _line_failure(done, said)
                elif said.startswith("ALARM:"):
                    culprit = in_flight[0] if in_flight else None
                    failure = _alarm_failure(said, culprit)
                    self._end("alarm", failure.message, failure)
                    return
                elif said.startswith("<"):
                    self.last_status = parse_status(said)
                    reports += 1
                    self._on_status()
                elif said.startswith("Grbl "):
                    failure = DispatchError(
                        Text(
                            "GRBL a redémarré pendant le travail (alimentation, câble ?).",
                            "GRBL restarted during the job (power, cable?).",
                        ),
                        detail=said,
                    )
                    self._end("error", failure.message, failure)
                    return
                elif said.startswith("["):
                    self.grbl_messages.append(said)
            if self.failure is not None and not in_flight:
                self._end("error", self.failure.message, self.failure)
                return
            if next_line == len(lines) and not in_flight:
                # Every line is in GRBL's planner; the job ends when the machine is idle,
                # as told by a report that came after the last "ok" (not an older one).
                if reports_when_all_acked is None:
                    reports_when_all_acked = reports
                self.state = "finishing" if self.state != "paused" else self.state
                status = self.last_status
                if reports > reports_when_all_acked and status and status.state == "Idle":
                    self._end("done", Text("Travail terminé", "Job finished"))
                    return
            if time.monotonic() - self._heard > config.silence_timeout:
                raise TransientDispatchError(
                    Text(
                        f"GRBL ne répond plus depuis {config.silence_timeout:.0f} s (câble ?).",
                        f"GRBL silent for {config.silence_timeout:.0f} s (cable?).",
                    )
                )

    def _on_status(self) -> None:
        report = self.last_status
        if report is None:
            return
        if report.state in ("Hold", "Door") and self.state in ("running", "finishing"):
            self.state = "paused"  # a hold from the machine's own button, or the door
        elif report.state in ("Run", "Idle") and self.state == "paused":
            self.state = "running"
        self._notify()

    def _do_abort(self) -> None:
        """Feed hold, wait for the machine to stop, then soft reset: position kept."""
        self._port.write(FEED_HOLD)
        deadline = time.monotonic() + 5.0
        stopped = False
        while time.monotonic() < deadline and not stopped:
            self._port.write(STATUS_QUERY)
            for said in self._read_lines():
                report = parse_status(said)
                if report is not None:
                    self.last_status = report
                    stopped = (report.state == "Hold" and report.substate == 0) or report.state in (
                        "Idle",
                        "Alarm",
                    )
        self._port.write(SOFT_RESET)
        self._end("aborted", Text("Travail interrompu par l'équipe", "Job aborted by staff"))


def _not_ready(report: StatusReport, port: str) -> DispatchError:
    if report.state == "Alarm":
        return DispatchError(
            Text(
                f"GRBL sur {port} est en alarme : faites la prise d'origine ($H) ou "
                "déverrouillez ($X), puis relancez l'envoi.",
                f"GRBL on {port} is in alarm: home ($H) or unlock ($X), then dispatch again.",
            ),
            detail=f"<{report.state}>",
        )
    if report.state == "Door":
        return DispatchError(
            Text(
                "La porte de la machine est ouverte : fermez-la puis relancez l'envoi.",
                "The machine's door is open: close it, then dispatch again.",
            ),
            detail=f"<{report.state}>",
        )
    return DispatchError(
        Text(
            f"GRBL sur {port} est occupé ({report.state}) : attendez la fin du travail en cours.",
            f"GRBL on {port} is busy ({report.state}): wait for the current job to end.",
        ),
        detail=f"<{report.state}>",
    )


def _line_failure(line: ProgramLine, answer: str) -> DispatchError:
    words = error_text(answer)
    return DispatchError(
        Text(
            f"Ligne {line.source_line} refusée ({line.source_text[:40]}) : {words.fr}. "
            "L'envoi est arrêté.",
            f"Line {line.source_line} refused ({line.source_text[:40]}): {words.en}. "
            "Streaming stopped.",
        ),
        detail=f"{answer} at line {line.source_line}: {line.source_text}",
    )


def _alarm_failure(answer: str, near: ProgramLine | None) -> DispatchError:
    words = alarm_text(answer)
    where_fr = f" vers la ligne {near.source_line}" if near else ""
    where_en = f" near line {near.source_line}" if near else ""
    return DispatchError(
        Text(f"{words.fr}{where_fr}. Travail arrêté.", f"{words.en}{where_en}. Job stopped."),
        detail=answer + (f" near line {near.source_line}: {near.source_text}" if near else ""),
    )
