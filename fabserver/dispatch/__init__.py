"""Dispatch: connectors that send approved jobs to the machines.

``connector_for(machine)`` builds the connector a machine profile names. Built-in
connectors are registered here; others come from the entry-point group
``fabserver.connectors``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ..i18n import Text
from ..profiles import MachineProfile
from .base import (
    Connector,
    ConnectorSettingsError,
    DispatchError,
    DownloadConnector,
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
    "ConnectorSettingsError",
    "DispatchError",
    "DownloadConnector",
    "MachineState",
    "Receipt",
    "TransientDispatchError",
    "available_connectors",
    "connector_for",
    "remote_name_for",
]

GROUP = "fabserver.connectors"

BUILT_IN: dict[str, type[Connector]] = {
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


def available_connectors() -> dict[str, type[Connector]]:
    """Built-in connectors plus those installed through entry points."""
    found = dict(BUILT_IN)
    for ep in entry_points(group=GROUP):
        try:
            found.setdefault(ep.name, ep.load())
        except Exception:  # a broken connector package must not stop the server
            continue
    return found


def connector_for(machine: MachineProfile) -> Connector:
    settings = dict(machine.connector)
    kind = settings.pop("type", "download")
    classes = available_connectors()
    if kind not in classes:
        raise DispatchError(
            Text(
                f"Connecteur inconnu « {kind} » pour {machine.id}.",
                f"Unknown connector '{kind}' for {machine.id}.",
            )
        )
    connector = classes[kind](settings, machine.id)
    connector.check()
    return connector
