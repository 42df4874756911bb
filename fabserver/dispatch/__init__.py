"""Dispatch: connectors that send approved jobs to the machines.

``connector_for(machine)`` builds the connector a machine profile names. Built-in
connectors are registered here; others come from the entry-point group
``fabserver.connectors``, read once per process (:func:`installed_connectors`).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from ..i18n import Text
from ..profiles import MachineProfile
from .base import (
    Connector,
    ConnectorSettingsError,
    DispatchError,
    DownloadConnector,
    JobOutcome,
    MachineState,
    Receipt,
    TransientDispatchError,
)
from .folder import FolderConnector
from .moonraker import MoonrakerConnector
from .naming import remote_name_for
from .octoprint import OctoPrintConnector
from .raw_tcp import RawTcpConnector
from .serial_grbl import SerialGrblConnector

__all__ = [
    "Connector",
    "ConnectorEntry",
    "ConnectorRegistry",
    "ConnectorSettingsError",
    "DispatchError",
    "DownloadConnector",
    "JobOutcome",
    "MachineState",
    "Receipt",
    "TransientDispatchError",
    "available_connectors",
    "connector_for",
    "discover_connectors",
    "installed_connectors",
    "remote_name_for",
]

GROUP = "fabserver.connectors"

BUILT_IN: dict[str, type[Connector[Any]]] = {
    cls.type: cls
    for cls in (
        DownloadConnector,
        FolderConnector,
        RawTcpConnector,
        OctoPrintConnector,
        MoonrakerConnector,
        SerialGrblConnector,
    )
}


@dataclass(frozen=True)
class ConnectorEntry:
    """One connector as found: its class, where it comes from, or why it is broken."""

    type: str
    cls: builtins.type[Connector[Any]] | None  # ``type`` is the connector's name here
    origin: str  # "built-in" or the entry point's "module:attr (distribution version)"
    error: str = ""


def discover_connectors() -> dict[str, ConnectorEntry]:
    """Built-in connectors, then entry points; a broken package is listed, not fatal."""
    found = {name: ConnectorEntry(name, cls, "built-in") for name, cls in BUILT_IN.items()}
    for ep in entry_points(group=GROUP):
        if ep.name in found:
            continue  # a built-in name is never replaced by a package
        dist = f" ({ep.dist.name} {ep.dist.version})" if ep.dist else ""
        origin = f"{ep.value}{dist}"
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise TypeError(f"{ep.value} is not a Connector subclass")
            if not hasattr(cls, "Settings"):
                raise TypeError(f"{ep.value} declares no Settings (ConnectorSettings if none)")
        except Exception as error:  # a broken connector package must not stop the server
            found[ep.name] = ConnectorEntry(
                ep.name, None, origin, f"{type(error).__name__}: {error}"
            )
            continue
        found[ep.name] = ConnectorEntry(ep.name, cls, origin)
    return found


@dataclass(frozen=True)
class ConnectorRegistry:
    """The connectors found once, by type; builds a machine's connector from its profile."""

    entries: dict[str, ConnectorEntry]

    @classmethod
    def discover(cls) -> ConnectorRegistry:
        return cls(discover_connectors())

    def available(self) -> dict[str, type[Connector[Any]]]:
        """The connectors that load, by type."""
        return {name: e.cls for name, e in self.entries.items() if e.cls is not None}

    def connector_for(self, machine: MachineProfile) -> Connector[Any]:
        """The machine's connector, its settings checked (``ConnectorSettingsError`` if wrong)."""
        settings = dict(machine.connector)
        kind = settings.pop("type", "download")
        entry = self.entries.get(kind)
        if entry is None:
            raise DispatchError(
                Text(
                    f"Connecteur inconnu « {kind} » pour {machine.id}.",
                    f"Unknown connector '{kind}' for {machine.id}.",
                )
            )
        if entry.cls is None:
            raise DispatchError(
                Text(
                    f"Le connecteur « {kind} » de {machine.id} est installé mais ne se charge "
                    "pas (voir « fabserver connectors »).",
                    f"Connector '{kind}' for {machine.id} is installed but fails to load "
                    "(see 'fabserver connectors').",
                ),
                detail=entry.error,
            )
        connector = entry.cls(settings, machine.id)
        connector.check()
        return connector


@cache
def installed_connectors() -> ConnectorRegistry:
    """The registry of this process, built on first use (entry points are read once)."""
    return ConnectorRegistry.discover()


def available_connectors() -> dict[str, type[Connector[Any]]]:
    """Built-in connectors plus those installed through entry points (working ones)."""
    return installed_connectors().available()


def connector_for(machine: MachineProfile) -> Connector[Any]:
    """The machine's connector from this process's registry (see :class:`ConnectorRegistry`)."""
    return installed_connectors().connector_for(machine)
