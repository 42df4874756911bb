"""``moonraker``: Klipper printers through Moonraker's HTTP API.

Upload is ``POST /server/files/upload`` (multipart, ``root=gcodes``, ``print=true``
to start, ``checksum`` so Moonraker verifies the bytes); state and progress come
from ``GET /printer/objects/query?webhooks&virtual_sdcard&print_stats``, the
polling recipe of Moonraker's documentation. Moonraker often trusts the lab's
network, so the API key is optional here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..i18n import Text
from .base import DispatchError, MachineState, Receipt, TransientDispatchError
from .http import HttpConnector, HttpSettings

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


class MoonrakerSettings(HttpSettings):
    start: bool = False
    folder: str = ""  # sub-folder of the gcodes root


class MoonrakerConnector(HttpConnector):
    type = "moonraker"
    description = Text("Moonraker (Klipper)", "Moonraker (Klipper)")
    Settings = MoonrakerSettings
    service = "Moonraker"
    api_key_required = False

    def send(self, file: Path, remote_name: str) -> Receipt:
        config = self.config
        assert isinstance(config, MoonrakerSettings)
        path = f"{config.folder.strip('/')}/{remote_name}" if config.folder else remote_name
        stats = self._query().get("print_stats", {})
        if stats.get("filename") == path and stats.get("state") in ("printing", "paused"):
            # A retried dispatch whose first answer was lost: it is already printing.
            return Receipt(
                Text(
                    f"Déjà en cours d'impression sur Moonraker : {path}",
                    f"Already printing on Moonraker: {path}",
                ),
                remote_ref=path,
                url=self.base_url,
                started=True,
            )
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
        answer = _unwrap(response.json())
        stored = (answer.get("item") or {}).get("path") or path
        started = bool(answer.get("print_started"))
        queued = bool(answer.get("print_queued"))
        if started:
            message = Text(
                f"Impression lancée sur Moonraker : {stored}",
                f"Print started on Moonraker: {stored}",
            )
        elif queued:
            message = Text(
                f"Fichier envoyé et mis en file d'attente sur Moonraker : {stored}",
                f"File sent and queued on Moonraker: {stored}",
            )
        elif config.start:
            message = Text(
                f"Fichier envoyé à Moonraker ({stored}) mais pas démarré : l'imprimante "
                "n'est pas prête. Lancez-le depuis Mainsail ou Fluidd.",
                f"File sent to Moonraker ({stored}) but not started: the printer is not "
                "ready. Start it from Mainsail or Fluidd.",
            )
        else:
            message = Text(
                f"Fichier envoyé à Moonraker : {stored}", f"File sent to Moonraker: {stored}"
            )
        return Receipt(message, remote_ref=stored, url=self.base_url, started=started or queued)

    def http_error(self, response, method: str, url: str) -> DispatchError:
        if response.status_code == 422 and url.endswith("/server/files/upload"):
            # Checksum mismatch: the bytes were damaged on the way; sending again may work.
            return TransientDispatchError(
                Text(
                    "Moonraker a reçu un fichier abîmé (somme de contrôle) ; il sera renvoyé.",
                    "Moonraker received a damaged file (checksum); it will be sent again.",
                ),
                detail=f"{method} {url}: HTTP 422",
            )
        return super().http_error(response, method, url)

    def _query(self) -> dict[str, Any]:
        response = self.request("GET", "/printer/objects/query?webhooks&virtual_sdcard&print_stats")
        return _unwrap(response.json()).get("status", {})

    def status(self) -> MachineState | None:
        status = self._query()
        hooks = status.get("webhooks", {})
        stats = status.get("print_stats", {})
        sdcard = status.get("virtual_sdcard", {})
        klippy = hooks.get("state", "ready")
        details = {
            "file": stats.get("filename") or None,
            "print_time_s": stats.get("print_duration"),
            "klippy_state": klippy,
            "print_state": stats.get("state"),
        }
        if klippy != "ready":
            said = hooks.get("state_message", klippy)
            return MachineState(
                "offline" if klippy in ("startup", "disconnected") else "error",
                message=Text(f"Klipper : {said}", f"Klipper: {said}"),
                details=details,
            )
        state = _PRINT_STATES.get(stats.get("state", ""), "idle")
        progress = sdcard.get("progress")
        if state == "idle" and stats.get("state") != "complete":
            progress = None
        text = stats.get("message") or stats.get("state", "")
        return MachineState(
            state,
            progress=None if progress is None else max(0.0, min(1.0, float(progress))),
            message=Text(f"Klipper : {text}", f"Klipper: {text}"),
            details=details,
        )

    def pause(self) -> None:
        self.request("POST", "/printer/print/pause")

    def resume(self) -> None:
        self.request("POST", "/printer/print/resume")

    def cancel(self) -> None:
        self.request("POST", "/printer/print/cancel")


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
