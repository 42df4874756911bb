"""``raw-tcp``: a local listener receives exactly the bytes; refusal is transient."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from fabserver.dispatch import ConnectorSettingsError, TransientDispatchError, connector_for


class Listener:
    """A one-connection JetDirect-like sink that records what it received."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while chunk := conn.recv(65536):
                self.received += chunk

    def close(self) -> None:
        self.thread.join(10)
        self.server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_bytes_arrive_exactly_with_prefix_and_suffix(machine_with, tmp_path: Path):
    hpgl = b"IN;SP1;" + b"".join(f"PU{i},0;PD{i},100;".encode() for i in range(20000)) + b"SP0;"
    job = tmp_path / "J0001.hpgl"
    job.write_bytes(hpgl)
    listener = Listener()
    try:
        machine = machine_with(
            {"type": "raw-tcp", "host": "127.0.0.1", "port": listener.port, "suffix": "\x1b.E"},
            "vinyl",
        )
        receipt = connector_for(machine).send(job, "J0001.hpgl")
    finally:
        listener.close()
    assert bytes(listener.received) == hpgl + b"\x1b.E"
    assert str(len(hpgl)) in receipt.message.en


def test_connection_refused_is_transient(machine_with, tmp_path: Path):
    job = tmp_path / "J.hpgl"
    job.write_bytes(b"IN;")
    connector = connector_for(
        machine_with({"type": "raw-tcp", "host": "127.0.0.1", "port": free_port()})
    )
    with pytest.raises(TransientDispatchError) as error:
        connector.send(job, "J.hpgl")
    assert "127.0.0.1" in error.value.message.fr


def test_silent_peer_times_out_as_transient(machine_with, tmp_path: Path):
    """A listener that never accepts nor reads: the send stops after the timeout."""
    job = tmp_path / "J.hpgl"
    job.write_bytes(b"PD;" * (8 << 20))  # more than the kernel buffers hold
    server = socket.create_server(("127.0.0.1", 0), backlog=1)
    try:
        connector = connector_for(
            machine_with(
                {
                    "type": "raw-tcp",
                    "host": "127.0.0.1",
                    "port": server.getsockname()[1],
                    "timeout": 0.5,
                }
            )
        )
        with pytest.raises(TransientDispatchError, match="cut after"):
            connector.send(job, "J.hpgl")
    finally:
        server.close()


def test_default_port_is_9100_and_host_is_required(machine_with):
    connector = connector_for(machine_with({"type": "raw-tcp", "host": "plotter.lab"}))
    assert connector.config.port == 9100
    with pytest.raises(ConnectorSettingsError, match="host"):
        connector_for(machine_with({"type": "raw-tcp", "port": 9100}))


def test_peer_that_keeps_the_connection_open_still_counts_as_delivered(machine_with, tmp_path):
    """Some print servers never close; every byte acknowledged is a delivery, not an error."""
    job = tmp_path / "J.hpgl"
    payload = b"IN;" + b"PD0,0;" * 50_000
    job.write_bytes(payload)
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()
    release = threading.Event()

    def hold_open() -> None:
        conn, _ = server.accept()
        with conn:
            while len(received) < len(payload):
                received.extend(conn.recv(65536))
            release.wait(30)

    thread = threading.Thread(target=hold_open, daemon=True)
    thread.start()
    try:
        table = {"type": "raw-tcp", "host": "127.0.0.1", "port": server.getsockname()[1]}
        receipt = connector_for(machine_with(table)).send(job, "J.hpgl")
    finally:
        release.set()
        thread.join(10)
        server.close()
    assert bytes(received) == payload
    assert receipt.started
