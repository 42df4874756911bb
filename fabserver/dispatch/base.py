"""The connector interface: how an approved job's machine file reaches its machine.

A machine profile names its connector (``connector = { type = "octoprint", ... }``);
the queue calls :func:`~fabserver.dispatch.connector_for` and ``send``. Connectors
raise :class:`TransientDispatchError` for what a retry may fix (network down,
machine busy) and :class:`DispatchError` for what it will not (bad API key,
file refused); the queue retries the first with back-off and records every
attempt in the job's audit trail.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import FabError
from ..i18n import Text


class DispatchError(FabError):
    """Sending failed and retrying will not help; the message says what to fix."""


class TransientDispatchError(DispatchError):
    """Sending failed for a reason a later retry may fix (network, machine busy)."""


@dataclass(frozen=True)
class Receipt:
    """What a successful send returns, shown to staff and kept in the audit trail."""

    message: Text
    remote_ref: str = ""  # e.g. the remote file name or job id
    url: str = ""  # where staff can follow the job, if the machine has a page
    download: bool = False  # True: nothing was sent, staff download the file themselves


@dataclass(frozen=True)
class MachineState:
    """What the machine says about itself (for the staff page)."""

    state: str  # "idle", "printing", "paused", "error", "offline", …
    progress: float | None = None  # 0..1 of the current job
    message: Text = Text("", "")
    details: dict[str, Any] = field(default_factory=dict)


class Connector(ABC):
    """Base of every connector; ``settings`` is the profile's ``connector`` table."""

    type: ClassVar[str]
    description: ClassVar[Text]

    def __init__(self, settings: Mapping[str, Any], machine_id: str = ""):
        self.settings = dict(settings)
        self.machine_id = machine_id

    def check(self) -> None:
        """Validate settings at load time; raise ``ValueError`` naming the key."""

    @abstractmethod
    def send(self, file: Path, remote_name: str) -> Receipt:
        """Deliver ``file`` to the machine under ``remote_name`` (short, ASCII)."""

    def status(self) -> MachineState | None:
        """Current machine state, or ``None`` when the connector cannot tell."""
        return None


class DownloadConnector(Connector):
    """No link to the machine: staff download the file (USB stick, SD card)."""

    type = "download"
    description = Text("Téléchargement du fichier", "File download")

    def send(self, file: Path, remote_name: str) -> Receipt:
        return Receipt(
            Text(
                f"Fichier prêt à télécharger : {remote_name}",
                f"File ready to download: {remote_name}",
            ),
            remote_ref=remote_name,
            download=True,
        )
