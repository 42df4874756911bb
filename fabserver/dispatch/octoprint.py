"""``octoprint``: upload through OctoPrint's REST API, optionally select and start.

Upload is ``POST /api/files/local`` (multipart, ``select``/``print`` flags);
state and progress come from ``GET /api/job`` and ``GET /api/printer``.
OctoPrint ignores ``print`` when the printer is not ready and says so in the
answer (``effectivePrint``); the receipt then tells staff the file is there but
not started, rather than retrying a start on a bed that may not be clear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..i18n import Text
from .base import DispatchError, JobOutcome, MachineState, Receipt
from .http import HttpConnector, HttpSettings

# OctoPrint's printer flags → our states, first match wins.
_FLAG_STATES = (
    ("error", "error"),
    ("cancelling", "cancelling"),
    ("pausing", "pausing"),
    ("paused", "paused"),
    ("printing", "printing"),
    ("operational", "idle"),
)


class OctoPrintSettings(HttpSettings):
    select: bool = True
    start: bool = False
    location: Literal["local", "sdcard"] = "local"
    folder: str = ""  # folder inside OctoPrint's storage, created by OctoPrint if missing


class OctoPrintConnector(HttpConnector[OctoPrintSettings]):
    type = "octoprint"
    description = Text("OctoPrint (API REST)", "OctoPrint (REST API)")
    Settings = OctoPrintSettings
    service = "OctoPrint"

    def send(self, file: Path, remote_name: str) -> Receipt:
        config = self.config
        current = self._job()
        if _is_current(current, remote_name, config.folder) and current.get("state", "").startswith(
            ("Printing", "Paused", "Pausing")
        ):
            # A retried dispatch whose first answer was lost: it is already printing.
            return Receipt(
                Text(
                    f"Déjà en cours d'impression sur OctoPrint : {remote_name}",
                    f"Already printing on OctoPrint: {remote_name}",
                ),
                remote_ref=remote_name,
                url=self.base_url,
                started=True,
            )
        form = {
            "select": _flag(config.select or config.start),
            "print": _flag(config.start),
        }
        if config.folder:
            form["path"] = config.folder
        with open(file, "rb") as stream:
            response = self.request(
                "POST",
                f"/api/files/{config.location}",
                files={"file": (remote_name, stream, "application/octet-stream")},
                data=form,
            )
        answer: dict[str, Any] = response.json() if response.content else {}
        stored = answer.get("files", {}).get(config.location, {})
        name = stored.get("path") or stored.get("name") or remote_name
        started = bool(answer.get("effectivePrint", config.start))
        if not answer.get("done", True):
            # OctoPrint is still working on it (copying to the printer's SD card):
            # it selects or starts the file itself once done.
            message = Text(
                f"Fichier reçu par OctoPrint ({name}), copie vers la carte SD en cours.",
                f"File received by OctoPrint ({name}), copying to the SD card.",
            )
        elif config.start and not started:
            message = Text(
                f"Fichier envoyé à OctoPrint ({name}) mais pas démarré : l'imprimante n'est "
                "pas prête (déconnectée ou occupée). Lancez-le depuis OctoPrint.",
                f"File sent to OctoPrint ({name}) but not started: the printer is not ready "
                "(disconnected or busy). Start it from OctoPrint.",
            )
        elif started:
            message = Text(
                f"Impression lancée sur OctoPrint : {name}", f"Print started on OctoPrint: {name}"
            )
        else:
            message = Text(
                f"Fichier envoyé à OctoPrint : {name}", f"File sent to OctoPrint: {name}"
            )
        return Receipt(message, remote_ref=name, url=self.base_url, started=started)

    def _job(self) -> dict[str, Any]:
        return self.request("GET", "/api/job").json()

    def status(self) -> MachineState | None:
        job = self._job()
        text = job.get("state", "")
        printer: dict[str, Any] = {}
        if not text.startswith(("Offline", "Closed", "Error")):
            try:
                printer = self.request("GET", "/api/printer", params={"history": "false"}).json()
            except DispatchError:
                printer = {}  # 409 while connecting or not operational; /api/job still says why
        flags = printer.get("state", {}).get("flags", {})
        state = next((ours for flag, ours in _FLAG_STATES if flags.get(flag)), None)
        if state is None:
            state = _state_from_text(text)
        progress = job.get("progress") or {}
        completion = progress.get("completion")
        details = {
            "file": (job.get("job") or {}).get("file", {}).get("name"),
            "print_time_s": progress.get("printTime"),
            "print_time_left_s": progress.get("printTimeLeft"),
            "elapsed_s": progress.get("printTime"),
            "remaining_s": progress.get("printTimeLeft"),
            "octoprint_state": text,
            "temperatures": {
                tool: values.get("actual")
                for tool, values in printer.get("temperature", {}).items()
                if isinstance(values, dict)
            },
        }
        words = Text(f"OctoPrint : {text}", f"OctoPrint: {text}")
        if job.get("error"):
            words = Text(
                f"OctoPrint : {text} ({job['error']})", f"OctoPrint: {text} ({job['error']})"
            )
        return MachineState(
            state,
            progress=None if completion is None else max(0.0, min(1.0, completion / 100.0)),
            message=words,
            details=details,
        )

    def _job_command(self, command: str, **extra: Any) -> None:
        self.request("POST", "/api/job", json={"command": command, **extra})

    def pause(self) -> None:
        self._job_command("pause", action="pause")

    def resume(self) -> None:
        self._job_command("pause", action="resume")

    def cancel(self) -> None:
        self._job_command("cancel")

    def follow_interval(self) -> float | None:
        config = self.config
        # OctoPrint keeps print records for its own storage only, not the printer's card.
        return config.follow_interval if config.location == "local" else None

    def outcome(self, remote_ref: str, since: float | None = None) -> JobOutcome | None:
        """The file's last print, from OctoPrint's records (``prints.last``): its
        ``printTime`` from start to end, and whether it succeeded."""
        config = self.config
        current = self._job()
        if _is_current(current, remote_ref.rsplit("/", 1)[-1], config.folder) and current.get(
            "state", ""
        ).startswith(("Printing", "Paused", "Pausing", "Cancelling", "Starting")):
            return None
        info = self.request("GET", f"/api/files/{config.location}/{remote_ref}").json()
        last = (info.get("prints") or {}).get("last") or {}
        if not last or (since is not None and (last.get("date") or 0.0) < since):
            return None  # not printed (to its end) since it was sent
        completed = bool(last.get("success"))
        time_s = last.get("printTime")
        return JobOutcome(
            "completed" if completed else "cancelled",
            time_s=float(time_s) if time_s is not None else None,
            source="octoprint",
            message=Text(
                "OctoPrint : impression terminée"
                if completed
                else "OctoPrint : impression interrompue (annulée ou en échec)",
                "OctoPrint: print completed"
                if completed
                else "OctoPrint: print not completed (cancelled or failed)",
            ),
            details={"last": last, "prints": info.get("prints")},
        )


def _state_from_text(text: str) -> str:
    """State when OctoPrint gives no printer flags (offline, connecting, error)."""
    if not text or text.startswith(("Offline", "Closed")):
        return "error" if "error" in text.lower() else "offline"
    if "error" in text.lower():
        return "error"
    return "connecting"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _is_current(job: dict[str, Any], remote_name: str, folder: str) -> bool:
    file = (job.get("job") or {}).get("file") or {}
    wanted = f"{folder.strip('/')}/{remote_name}" if folder else remote_name
    return file.get("path") == wanted or (not folder and file.get("name") == remote_name)
