"""``moonraker``: Klipper printers through Moonraker's HTTP API.

Upload is ``POST /server/files/upload`` (multipart, ``root=gcodes``, ``print=true``
to start, ``checksum`` so Moonraker verifies the bytes); state and progress come
from ``GET /printer/objects/query`` (``webhooks``, ``print_stats``,
``virtual_sdcard``, ``pause_resume`` and the heaters), the polling recipe of
Moonraker's documentation; how a job ended comes from ``GET /server/history/list``.
Moonraker often trusts the lab's network, so the API key is optional here.

What a real Moonraker (v0.10) in front of a real Klipper (v0.13) does, and what
this connector does about it:

- Pause, resume and cancel always answer 200, whatever the state: a pause on an
  idle printer latches Klipper's ``pause_resume`` and the next print's pause then
  does nothing. So the state is read first and a command that makes no sense is
  refused with a message; a latch left by someone else is cleared before a start.
- A command waits in Klipper behind the running G-code: the whole heat-up during
  ``M190``/``M109``. It is sent with a short ``command_timeout`` and confirmed by
  reading the state back; during a heat-up the staff are told it takes effect
  when the heating ends.
- Klipper not connected or restarting: the object query answers 503 with the
  reason; that is the machine ``offline`` (``starting`` while Klipper starts),
  in the host's words, and a file can still be uploaded.
- Error bodies carry the HTTP reason phrase as ``message`` ("Unknown" for any
  multi-line Klipper error); the words are in the traceback's last exception.
- An upload over the file being printed answers 403 (not a key problem).
- With ``queue_gcode_uploads`` a busy printer queues the upload in Moonraker's
  job queue; a retried send finds it there and does not queue it twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from pathlib import Path
from typing import Any

import requests

from ..i18n import Text
from ..profiles import Positive
from .base import DispatchError, JobOutcome, MachineState, Receipt, TransientDispatchError
from .http import HttpConnector, HttpSettings, NoAnswerError, UnreachableError

# print_stats.state → our states (Moonraker: standby, printing, paused, complete,
# cancelled, error).
_PRINT_STATES = {
    "standby": "idle",
    "complete": "idle",
    "cancelled": "idle",
    "printing": "printing",
    "paused": "paused",
    "error": "error",
}
_BUSY = ("printing", "paused")
_QUERY = (
    "/printer/objects/query?webhooks&virtual_sdcard&print_stats&pause_resume&extruder&heater_bed"
)
_HEATERS = {"heater_bed": Text("plateau", "bed"), "extruder": Text("buse", "nozzle")}
# Klipper's heat-up waits end within 2 °C of the target (watermark) or 1 °C (PID).
_HEATING_MARGIN_C = 2.0
_FULL_POWER = 0.9
# History statuses of a finished job → ours (the rest: the host stopped under it).
_HISTORY_STATUSES = {"completed": "completed", "cancelled": "cancelled"}
_POLL_S = 0.25


class MoonrakerSettings(HttpSettings):
    start: bool = False
    folder: str = ""  # sub-folder of the gcodes root
    command_timeout: Positive = 5.0  # seconds to wait for a pause/resume/cancel answer
    confirm_timeout: Positive = 10.0  # seconds of reading the state back to confirm it


class KlipperOffline(TransientDispatchError):
    """Moonraker answers but Klipper is not connected to it (HTTP 503)."""

    def __init__(self, said: str, detail: str = ""):
        super().__init__(
            Text(
                f"Klipper n'est pas connecté à Moonraker : {said}",
                f"Klipper is not connected to Moonraker: {said}",
            ),
            detail=detail,
        )
        self.said = said


class MoonrakerConnector(HttpConnector[MoonrakerSettings]):
    type = "moonraker"
    description = Text("Moonraker (Klipper)", "Moonraker (Klipper)")
    Settings = MoonrakerSettings
    service = "Moonraker"
    api_key_required = False

    # --- sending -------------------------------------------------------------------

    def send(self, file: Path, remote_name: str) -> Receipt:
        config = self.config
        path = f"{config.folder.strip('/')}/{remote_name}" if config.folder else remote_name
        offline: KlipperOffline | None = None
        try:
            status = self._query()
        except KlipperOffline as down:
            # The file manager works without Klipper: deliver the file, start nothing.
            status, offline = {}, down
        already = self._already_there(status, path)
        if already is not None:
            return already
        if config.start and offline is None:
            self._clear_latched_pause(status)
        answer = self._upload(file, remote_name)
        stored = (answer.get("item") or {}).get("path") or path
        started = bool(answer.get("print_started"))
        queued = bool(answer.get("print_queued"))
        if started:
            message = Text(
                f"Impression lancée sur Moonraker : {stored}",
                f"Print started on Moonraker: {stored}",
            )
        elif queued:
            message = self._queued_message(stored)
        elif config.start:
            why = _not_started_reason(status, offline)
            message = Text(
                f"Fichier envoyé à Moonraker ({stored}) mais pas démarré : {why.fr}. "
                "Lancez-le depuis Mainsail ou Fluidd quand l'imprimante est prête.",
                f"File sent to Moonraker ({stored}) but not started: {why.en}. "
                "Start it from Mainsail or Fluidd when the printer is ready.",
            )
        else:
            message = Text(
                f"Fichier envoyé à Moonraker : {stored}", f"File sent to Moonraker: {stored}"
            )
        return Receipt(message, remote_ref=stored, url=self.base_url, started=started or queued)

    def _already_there(self, status: dict[str, Any], path: str) -> Receipt | None:
        """A retried dispatch whose first answer was lost: printing, or in the job queue."""
        stats = status.get("print_stats", {})
        if stats.get("filename") == path and stats.get("state") in _BUSY:
            return Receipt(
                Text(
                    f"Déjà en cours d'impression sur Moonraker : {path}",
                    f"Already printing on Moonraker: {path}",
                ),
                remote_ref=path,
                url=self.base_url,
                started=True,
            )
        if path in self._queued_files():
            return Receipt(
                Text(
                    f"Déjà dans la file d'attente de Moonraker : {path}",
                    f"Already in Moonraker's job queue: {path}",
                ),
                remote_ref=path,
                url=self.base_url,
                started=True,
            )
        return None

    def _queued_files(self) -> list[str]:
        try:
            response = self.request("GET", "/server/job_queue/status")
        except DispatchError:
            return []  # no job queue on this host (or it cannot tell): nothing queued
        jobs = _unwrap(response.json()).get("queued_jobs") or []
        return [job.get("filename", "") for job in jobs if isinstance(job, dict)]

    def _queued_message(self, stored: str) -> Text:
        try:
            queue_state = _unwrap(self.request("GET", "/server/job_queue/status").json()).get(
                "queue_state", ""
            )
        except DispatchError:
            queue_state = ""
        if queue_state == "paused":
            return Text(
                f"Fichier envoyé et mis dans la file d'attente de Moonraker : {stored}. "
                "L'imprimante est occupée et la file est en pause : lancez-la depuis "
                "Mainsail ou Fluidd quand le plateau est libre.",
                f"File sent and put in Moonraker's job queue: {stored}. The printer is "
                "busy and the queue is paused: start it from Mainsail or Fluidd when the "
                "bed is clear.",
            )
        return Text(
            f"Fichier envoyé et mis dans la file d'attente de Moonraker : {stored}",
            f"File sent and put in Moonraker's job queue: {stored}",
        )

    def _upload(self, file: Path, remote_name: str) -> dict[str, Any]:
        config = self.config
        form = {"root": "gcodes", "checksum": _sha256(file)}
        if config.folder:
            form["path"] = config.folder.strip("/")
        if config.start:
            form["print"] = "true"  # a string, as Moonraker's documentation insists
        with open(file, "rb") as stream:
            response = self.request(
                "POST",
                "/server/files/upload",
                files={"file": (remote_name, stream, "application/octet-stream")},
                data=form,
            )
        return _unwrap(response.json())

    # --- errors --------------------------------------------------------------------

    def server_says(self, response: requests.Response) -> str:
        return moonraker_says(response)

    def http_error(self, response, method: str, url: str) -> DispatchError:
        said = self.server_says(response)
        detail = f"{method} {url}: HTTP {response.status_code}: {said}"
        upload = url.endswith("/server/files/upload")
        if response.status_code == 422 and upload:
            # Checksum mismatch: the bytes were damaged on the way; sending again may work.
            return TransientDispatchError(
                Text(
                    "Moonraker a reçu un fichier abîmé (somme de contrôle) ; il sera renvoyé.",
                    "Moonraker received a damaged file (checksum); it will be sent again.",
                ),
                detail=detail,
            )
        if response.status_code == 403 and upload:
            # Not a key problem: Moonraker never replaces the file Klipper has loaded.
            return DispatchError(
                Text(
                    "Moonraker refuse le fichier : l'imprimante est en train d'imprimer ce "
                    "fichier (même nom). Attendez la fin de l'impression ou annulez-la, "
                    f"puis renvoyez. (Moonraker : {said})",
                    "Moonraker refuses the file: the printer is printing this file (same "
                    "name). Wait for the print to end or cancel it, then send again. "
                    f"(Moonraker: {said})",
                ),
                detail=detail,
            )
        if response.status_code == 503:
            return KlipperOffline(said, detail=detail)
        if response.status_code == 404 and "/server/history/" in url:
            return DispatchError(
                Text(
                    "Moonraker ne garde pas d'historique des impressions : ajoutez "
                    "[history] à moonraker.conf pour que la durée réelle soit relevée.",
                    "Moonraker keeps no print history: add [history] to moonraker.conf so "
                    "that the actual time is recorded.",
                ),
                detail=detail,
            )
        return super().http_error(response, method, url)

    # --- state ---------------------------------------------------------------------

    def _query(self) -> dict[str, Any]:
        return _unwrap(self.request("GET", _QUERY).json()).get("status", {})

    def status(self) -> MachineState | None:
        try:
            status = self._query()
        except KlipperOffline as offline:
            return MachineState(
                "offline", message=offline.message, details={"klippy_state": "disconnected"}
            )
        except (UnreachableError, NoAnswerError) as silent:
            return MachineState("offline", message=silent.message)
        hooks = status.get("webhooks", {})
        stats = status.get("print_stats", {})
        sdcard = status.get("virtual_sdcard", {})
        klippy = hooks.get("state", "ready")
        print_state = stats.get("state", "")
        details: dict[str, Any] = {
            "file": stats.get("filename") or None,
            "print_time_s": stats.get("print_duration"),
            "elapsed_s": stats.get("total_duration"),
            "klippy_state": klippy,
            "print_state": print_state,
            "temperatures": {
                name: {
                    "actual": status[name].get("temperature"),
                    "target": status[name].get("target"),
                }
                for name in _HEATERS
                if isinstance(status.get(name), dict)
            },
        }
        if klippy != "ready":
            said = _one_line(hooks.get("state_message") or klippy)
            if klippy == "startup":
                return MachineState(
                    "starting",
                    message=Text(f"Klipper démarre : {said}", f"Klipper is starting: {said}"),
                    details=details,
                )
            return MachineState(
                "error", message=Text(f"Klipper : {said}", f"Klipper: {said}"), details=details
            )
        state = _PRINT_STATES.get(print_state, "idle")
        progress = sdcard.get("progress")
        if state == "idle" and print_state != "complete":
            progress = None
        if progress is not None:
            progress = max(0.0, min(1.0, float(progress)))
        if state == "printing":
            details["remaining_s"] = _host_remaining(stats.get("print_duration"), progress)
        heating = _heating(status) if state == "printing" else None
        if heating is not None:
            state = "heating"
            message = Text(f"Klipper : chauffe ({heating.fr})", f"Klipper: heating ({heating.en})")
        elif print_state == "error" and stats.get("message"):
            said = _one_line(stats["message"])
            message = Text(f"Klipper : erreur : {said}", f"Klipper: error: {said}")
        else:
            text = stats.get("message") or print_state
            message = Text(f"Klipper : {text}", f"Klipper: {text}")
        return MachineState(state, progress=progress, message=message, details=details)

    # --- control -------------------------------------------------------------------

    def pause(self) -> Text:
        """Pause the print; refused when nothing prints (Klipper would latch the pause)."""
        status = self._query()
        state = status.get("print_stats", {}).get("state", "")
        if state == "paused":
            return Text("L'impression est déjà en pause.", "The print is already paused.")
        if state != "printing":
            raise _nothing_to("pause", state)
        confirmed = self._command("pause", ("paused",))
        after = confirmed.get("print_stats", {}).get("state", "")
        if after == "paused":
            return Text("Impression en pause.", "Print paused.")
        if after not in _BUSY:
            # The print ended before the pause ran: do not leave Klipper latched.
            self._clear_latched_pause(confirmed)
            return Text(
                "L'impression s'est terminée avant la pause ; rien n'est en pause.",
                "The print ended before the pause; nothing is paused.",
            )
        return _pending("pause", _heating(confirmed))

    def resume(self) -> Text:
        status = self._query()
        state = status.get("print_stats", {}).get("state", "")
        if state != "paused":
            raise _nothing_to("resume", state)
        confirmed = self._command("resume", ("printing",))
        if confirmed.get("print_stats", {}).get("state") == "printing":
            return Text("Impression reprise.", "Print resumed.")
        return _pending("resume", _heating(confirmed))

    def cancel(self) -> Text:
        status = self._query()
        state = status.get("print_stats", {}).get("state", "")
        if state not in _BUSY:
            if self._clear_latched_pause(status):
                return Text(
                    "Rien ne s'imprimait ; la pause restée enclenchée dans Klipper est levée.",
                    "Nothing was printing; the pause left latched in Klipper is cleared.",
                )
            raise _nothing_to("cancel", state)
        confirmed = self._command("cancel", ("cancelled", "standby", "complete", "error"))
        if confirmed.get("print_stats", {}).get("state") not in _BUSY:
            return Text("Impression annulée.", "Print cancelled.")
        return _pending("cancel", _heating(confirmed))

    def _command(self, verb: str, wanted: tuple[str, ...]) -> dict[str, Any]:
        """Send pause/resume/cancel without waiting past ``command_timeout`` (Klipper
        answers only once the running G-code ends), then read the state until it is
        one of ``wanted``, the printer is heating, or ``confirm_timeout`` passes."""
        config = self.config
        # No answer in time: received all the same; Klipper runs it when the command ends.
        with contextlib.suppress(NoAnswerError):
            self.request("POST", f"/printer/print/{verb}", read_timeout=config.command_timeout)
        deadline = time.monotonic() + config.confirm_timeout
        while True:
            status = self._query()
            state = status.get("print_stats", {}).get("state")
            if state in wanted or state not in _BUSY:
                return status
            if _heating(status) is not None or time.monotonic() >= deadline:
                return status
            time.sleep(_POLL_S)

    def _clear_latched_pause(self, status: dict[str, Any]) -> bool:
        """Klipper keeps a pause asked while nothing printed and ignores the next
        print's pause; ``CLEAR_PAUSE`` resets it. True when there was one to clear."""
        latched = status.get("pause_resume", {}).get("is_paused")
        if not latched or status.get("print_stats", {}).get("state") in _BUSY:
            return False
        self.request("POST", "/printer/gcode/script", params={"script": "CLEAR_PAUSE"})
        return True

    # --- how it ended --------------------------------------------------------------

    def follow_interval(self) -> float | None:
        return self.config.follow_interval

    def outcome(self, remote_ref: str, since: float | None = None) -> JobOutcome | None:
        """The newest history entry for ``remote_ref``: its duration and filament.

        ``total_duration`` (start to end, heating and homing included, as the
        estimate counts them) is the actual time; ``print_duration`` leaves out
        pauses and everything before the first extrusion, and is kept in details.
        """
        response = self.request(
            "GET", "/server/history/list", params={"limit": 50, "order": "desc"}
        )
        jobs = _unwrap(response.json()).get("jobs") or []
        for job in jobs:
            if not isinstance(job, dict) or job.get("filename") != remote_ref:
                continue
            if since is not None and (job.get("start_time") or 0.0) < since:
                return None  # newest first: older entries are earlier dispatches
            said = job.get("status", "")
            if said == "in_progress":
                return None
            status = _HISTORY_STATUSES.get(said, "error")
            total = job.get("total_duration")
            filament = job.get("filament_used")
            return JobOutcome(
                status,
                time_s=float(total) if total is not None else None,
                filament_mm=float(filament) if filament is not None else None,
                source="moonraker",
                message=Text(
                    f"Moonraker : travail {job.get('job_id', '?')} {said}",
                    f"Moonraker: job {job.get('job_id', '?')} {said}",
                ),
                details={
                    key: job.get(key)
                    for key in (
                        "job_id",
                        "status",
                        "start_time",
                        "end_time",
                        "print_duration",
                        "total_duration",
                        "filament_used",
                    )
                },
            )
        return None


def moonraker_says(response: requests.Response) -> str:
    """Moonraker's words about an error: the last exception of its traceback.

    ``error.message`` is the HTTP reason phrase ("Forbidden", "Unknown" for every
    multi-line Klipper error); the real text is only in ``error.traceback``.
    """
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return str(body)[:300]
    reason = str(error.get("message") or response.reason or "")
    words = traceback_words(str(error.get("traceback") or "")) or reason
    # tornado wraps the words: "HTTP 403: Forbidden (File is loaded, upload not permitted)"
    words = re.sub(r"^HTTP \d{3}: ", "", words)
    if reason and words.startswith(f"{reason} (") and words.endswith(")"):
        words = words[len(reason) + 2 : -1]
    return words[:300]


def traceback_words(traceback: str) -> str:
    """The message of the last exception in a Python traceback, on one line.

    The exception line follows the last ``File …`` frame and its indented source
    lines; a Klipper message may go on over several lines after it.
    """
    lines = traceback.rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
    start = frames[-1] + 1 if frames else 0
    while start < len(lines) and (not lines[start].strip() or lines[start][:1].isspace()):
        start += 1
    if start >= len(lines):
        return ""
    head = re.sub(r"^[A-Za-z_][\w.]*: ?", "", lines[start], count=1)
    return _one_line("\n".join([head, *lines[start + 1 :]]))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _heating(status: dict[str, Any]) -> Text | None:
    """Heaters still below their target (a heat-up wait in progress), in words.

    A heater counts when it is below its target past Klipper's own margin and is
    either at (nearly) full power or the print has not extruded yet: a dip of a few
    degrees mid-print, with the regulation at work, is not a heat-up.
    """
    started = bool(status.get("print_stats", {}).get("print_duration"))
    cold = []
    for name, label in _HEATERS.items():
        heater = status.get(name)
        if not isinstance(heater, dict):
            continue
        target, actual = heater.get("target") or 0.0, heater.get("temperature")
        if not target or actual is None or actual >= target - _HEATING_MARGIN_C:
            continue
        if (heater.get("power") or 0.0) >= _FULL_POWER or not started:
            cold.append((label, f"{actual:.0f}/{target:.0f} °C"))
    if not cold:
        return None
    return Text(
        ", ".join(f"{label.fr} {t}" for label, t in cold),
        ", ".join(f"{label.en} {t}" for label, t in cold),
    )


def _host_remaining(print_duration: Any, progress: float | None) -> float | None:
    """Remaining time from the host's own figures (Mainsail's "file" estimate): the
    time printed so far over the fraction of the file read."""
    if not print_duration or not progress or progress < 0.01:
        return None
    return max(0.0, float(print_duration) / progress - float(print_duration))


_VERBS = {
    "pause": Text("mettre en pause", "pause"),
    "resume": Text("reprendre", "resume"),
    "cancel": Text("annuler", "cancel"),
}


def _nothing_to(verb: str, state: str) -> DispatchError:
    what = _VERBS[verb]
    if verb == "resume":
        why = Text(
            f"l'impression n'est pas en pause (état : {state or '?'})",
            f"the print is not paused (state: {state or '?'})",
        )
    else:
        why = Text(
            f"l'imprimante n'imprime pas (état : {state or '?'})",
            f"the printer is not printing (state: {state or '?'})",
        )
    return DispatchError(
        Text(f"Rien à {what.fr} : {why.fr}.", f"Nothing to {what.en}: {why.en}."),
        detail=f"{verb} refused: print_stats.state={state!r}",
    )


def _pending(verb: str, heating: Text | None) -> Text:
    what = _VERBS[verb]
    if heating is not None:
        return Text(
            f"Demande envoyée (« {what.fr} ») : l'imprimante chauffe ({heating.fr}) ; "
            "Klipper l'exécutera dès la fin de la chauffe.",
            f"Request sent ({what.en}): the printer is heating ({heating.en}); Klipper "
            "carries it out as soon as the heating ends.",
        )
    return Text(
        f"Demande envoyée (« {what.fr} ») mais pas encore confirmée par Klipper : "
        "il termine la commande en cours.",
        f"Request sent ({what.en}) but not yet confirmed by Klipper: it is finishing "
        "the current command.",
    )


def _not_started_reason(status: dict[str, Any], offline: KlipperOffline | None) -> Text:
    if offline is not None:
        return Text(
            f"Klipper n'est pas connecté ({offline.said})",
            f"Klipper is not connected ({offline.said})",
        )
    hooks = status.get("webhooks", {})
    if hooks.get("state", "ready") != "ready":
        said = _one_line(hooks.get("state_message") or hooks.get("state", ""))
        return Text(f"Klipper n'est pas prêt ({said})", f"Klipper is not ready ({said})")
    state = status.get("print_stats", {}).get("state", "")
    return Text(
        f"l'imprimante n'est pas prête (état : {state or '?'})",
        f"the printer is not ready (state: {state or '?'})",
    )


def _unwrap(body: Any) -> dict[str, Any]:
    """Moonraker wraps most answers in ``{"result": …}``; the upload answer is not."""
    if isinstance(body, dict) and isinstance(body.get("result"), dict):
        return body["result"]
    return body if isinstance(body, dict) else {}


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
