"""``raw-tcp``: send the file's bytes to a network port (JetDirect/AppSocket, 9100).

Vinyl cutters and plotters behind a print server, and many network printers,
take their language (HPGL, CAMM-GL, PCL) raw on port 9100. There is no reply to
wait for: the job is delivered once every byte is acknowledged by TCP and the
connection is closed cleanly.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Annotated

from msgspec import Meta

from ..i18n import Text
from ..profiles import Positive
from .base import Connector, ConnectorSettings, DispatchError, Receipt, TransientDispatchError

CHUNK = 64 * 1024
CLOSE_GRACE_S = 1.0
# Linux: bytes sent but not yet acknowledged by the peer (SIOCOUTQ == TIOCOUTQ).
_SIOCOUTQ = getattr(termios, "TIOCOUTQ", None) if sys.platform.startswith("linux") else None


class RawTcpSettings(ConnectorSettings):
    host: Annotated[str, Meta(min_length=1)]
    port: Annotated[int, Meta(ge=1, le=65535)] = 9100
    timeout: Positive = 30.0  # seconds without progress
    # Bytes sent before and after the file (e.g. "IN;" or a PJL header), as text.
    prefix: str = ""
    suffix: str = ""


class RawTcpConnector(Connector[RawTcpSettings]):
    type = "raw-tcp"
    description = Text("Port réseau brut (9100)", "Raw network port (9100)")
    Settings = RawTcpSettings

    def send(self, file: Path, remote_name: str) -> Receipt:
        config = self.config
        where = f"{config.host}:{config.port}"
        sent = 0
        try:
            with (
                socket.create_connection(
                    (config.host, config.port), timeout=config.timeout
                ) as sock,
                open(file, "rb") as source,
            ):
                if config.prefix:
                    sock.sendall(config.prefix.encode("latin-1"))
                while chunk := source.read(CHUNK):
                    sock.sendall(chunk)
                    sent += len(chunk)
                if config.suffix:
                    sock.sendall(config.suffix.encode("latin-1"))
                _wait_acknowledged(sock, config.timeout)
                # Half-close and give the peer a moment to close in turn; a print
                # server that keeps the connection open is not an error: every byte
                # is already acknowledged, and failing now would send the job twice.
                sock.shutdown(socket.SHUT_WR)
                _drain_until_closed(sock, CLOSE_GRACE_S)
        except (ConnectionRefusedError, TimeoutError, socket.gaierror) as error:
            raise _unreachable(where, error, sent) from error
        except OSError as error:
            if error.errno in (
                errno.EHOSTUNREACH,
                errno.ENETUNREACH,
                errno.ECONNRESET,
                errno.EPIPE,
                errno.ECONNABORTED,
            ):
                raise _unreachable(where, error, sent) from error
            raise DispatchError(
                Text(f"Envoi vers {where} impossible.", f"Cannot send to {where}."),
                detail=repr(error),
            ) from error
        return Receipt(
            Text(
                f"Envoyé à {where} ({sent} octets) : {remote_name}",
                f"Sent to {where} ({sent} bytes): {remote_name}",
            ),
            remote_ref=remote_name,
            started=True,
        )


def _wait_acknowledged(sock: socket.socket, timeout: float) -> None:
    """Wait until the peer's TCP stack has acknowledged every byte (Linux; else no-op)."""
    if _SIOCOUTQ is None:
        return
    deadline = time.monotonic() + timeout
    while True:
        pending = struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0" * 4))[0]
        if pending == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending} bytes never acknowledged")
        time.sleep(0.01)


def _drain_until_closed(sock: socket.socket, grace: float) -> None:
    """Read (and drop) what the peer says, until it closes or ``grace`` runs out."""
    sock.settimeout(grace)
    try:
        while sock.recv(4096):
            pass
    except (TimeoutError, ConnectionResetError):
        pass


def _unreachable(where: str, error: OSError, sent: int = 0) -> TransientDispatchError:
    fr = f"La machine {where} ne répond pas"
    en = f"Machine {where} does not answer"
    if sent:  # the machine may have started on a partial job: staff should look
        fr += f" (coupé après {sent} octets : vérifiez qu'elle n'a pas commencé)"
        en += f" (cut after {sent} bytes: check that it did not start)"
    return TransientDispatchError(
        Text(
            fr + " ; vérifiez qu'elle est allumée et en ligne.", en + "; check it is on and online."
        ),
        detail=repr(error),
    )
