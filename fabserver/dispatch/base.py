"""The connector interface: how an approved job's machine file reaches its machine.

A machine profile names its connector (``connector = { type = "octoprint", ... }``);
the queue calls :func:`~fabserver.dispatch.connector_for` and ``send``. Connectors
raise :class:`TransientDispatchError` for what a retry may fix (network down,
machine busy) and :class:`DispatchError` for what it will not (bad API key,
file refused); the queue retries the first with back-off and records every
attempt in the job's audit trail.

Each connector declares its settings as a model (``Settings``, a msgspec struct
like the profiles'), so a typo in a profile is caught by ``check()`` when the
connector is built, with the key named, rather than when the first job is
dispatched.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from msgspec import Meta

from ..errors import FabError
from ..i18n import Text
from ..profiles import Model, ValidationError, validated


class DispatchError(FabError):
    """Sending failed and retrying will not help; the message says what to fix."""


class TransientDispatchError(DispatchError):
    """Sending failed for a reason a later retry may fix (network, machine busy)."""


class ConnectorSettingsError(DispatchError, ValueError):
    """A machine's ``connector`` table is wrong; names the machine and the key.

    A ``ValueError`` too, as ``Connector.check`` promises.
    """

    def __init__(self, machine_id: str, key: str, problem: str):
        where = machine_id or "?"
        super().__init__(
            Text(
                f"Réglage du connecteur de {where} invalide, clé « {key} » : {problem}",
                f"Invalid connector setting for {where}, key '{key}': {problem}",
            ),
            detail=f"{where}: connector.{key}: {problem}",
        )
        self.machine_id = machine_id
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Receipt:
    """What a successful send returns, shown to staff and kept in the audit trail."""

    message: Text
    remote_ref: str = ""  # e.g. the remote file name or job id
    url: str = ""  # where staff can follow the job, if the machine has a page
    download: bool = False  # True: nothing was sent, staff download the file themselves
    started: bool = False  # True: the machine has started (or queued) the job


@dataclass(frozen=True)
class MachineState:
    """What the machine says about itself (for the staff page)."""

    state: str  # "idle", "printing", "paused", "error", "offline", …
    progress: float | None = None  # 0..1 of the current job
    message: Text = Text("", "")
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    """How a job the machine ran has ended, from the machine's own records.

    The server records ``time_s`` (and the material, when the machine counts it) on
    the job as its actual figures, so staff need not type them.
    """

    status: str  # "completed", "cancelled", "error"
    time_s: float | None = None  # from start to end, as the machine measured it
    filament_mm: float | None = None  # filament the machine fed, when it counts it
    source: str = ""  # who measured: "moonraker", "octoprint"
    message: Text = Text("", "")
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.status == "completed"


class ConnectorSettings(Model):
    """Base of the per-connector settings models: unknown keys are errors, every key
    is given by name (a default may come before a required key in a subclass)."""

    # How remote names are shaped for this machine (see naming.remote_name_for).
    name_style: Literal["short", "8.3"] = "short"
    name_length: Annotated[int, Meta(ge=8, le=255)] = 24


SettingsT = TypeVar("SettingsT", bound=ConnectorSettings)


class Connector(ABC, Generic[SettingsT]):
    """Base of every connector; ``settings`` is the profile's ``connector`` table.

    Generic over its settings model, so ``config`` has the connector's own fields:
    ``class FolderConnector(Connector[FolderSettings])`` with ``Settings = FolderSettings``;
    a connector without settings of its own says ``Settings = ConnectorSettings``.
    """

    type: ClassVar[str]
    description: ClassVar[Text]
    Settings: builtins.type[SettingsT]  # ``type`` is the connector's name here

    def __init__(self, settings: Mapping[str, Any], machine_id: str = ""):
        self.settings = dict(settings)
        self.machine_id = machine_id
        self._config: SettingsT | None = None

    @property
    def config(self) -> SettingsT:
        """The settings, validated (``check()`` runs on first use)."""
        if self._config is None:
            self.check()
        assert self._config is not None
        return self._config

    def check(self) -> None:
        """Validate settings at load time; raise ``ValueError`` naming the key."""
        try:
            self._config = validated(self.Settings, self.settings)
        except ValidationError as error:
            raise ConnectorSettingsError(self.machine_id, error.key or "?", error.problem) from None

    @abstractmethod
    def send(self, file: Path, remote_name: str) -> Receipt:
        """Deliver ``file`` to the machine under ``remote_name`` (short, ASCII)."""

    def status(self) -> MachineState | None:
        """Current machine state, or ``None`` when the connector cannot tell."""
        return None

    def follow_interval(self) -> float | None:
        """Seconds between two ``outcome`` questions about a started job; ``None`` when
        the machine keeps no record to ask."""
        return None

    def outcome(self, remote_ref: str, since: float | None = None) -> JobOutcome | None:
        """How the job sent as ``remote_ref`` (and started after ``since``, a Unix time)
        ended, or ``None`` while it runs, waits, or when the machine cannot tell."""
        return None

    def _fail(self, key: str, problem: str) -> ConnectorSettingsError:
        return ConnectorSettingsError(self.machine_id, key, problem)


class DownloadConnector(Connector[ConnectorSettings]):
    """No link to the machine: staff download the file (USB stick, SD card)."""

    type = "download"
    description = Text("Téléchargement du fichier", "File download")
    Settings = ConnectorSettings

    def send(self, file: Path, remote_name: str) -> Receipt:
        return Receipt(
            Text(
                f"Fichier prêt à télécharger : {remote_name}",
                f"File ready to download: {remote_name}",
            ),
            remote_ref=remote_name,
            download=True,
        )
