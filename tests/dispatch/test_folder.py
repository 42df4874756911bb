"""``folder``: atomic drop into a temporary folder, read back byte for byte."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from fabserver.dispatch import (
    ConnectorSettingsError,
    DispatchError,
    TransientDispatchError,
    connector_for,
)


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.gcode"
    path.write_bytes(os.urandom(3 << 20))  # larger than one copy chunk
    return path


def test_file_arrives_identical_and_no_temporary_is_left(machine_with, tmp_path, job_file):
    drop = tmp_path / "hot"
    drop.mkdir()
    connector = connector_for(machine_with({"type": "folder", "path": str(drop)}))
    receipt = connector.send(job_file, "J0001-part.gcode")
    assert (drop / "J0001-part.gcode").read_bytes() == job_file.read_bytes()
    assert sorted(p.name for p in drop.iterdir()) == ["J0001-part.gcode"]
    assert receipt.remote_ref == str(drop / "J0001-part.gcode")
    assert connector.status().details["waiting"] == ["J0001-part.gcode"]


def test_a_watcher_never_sees_a_partial_file(machine_with, tmp_path, job_file):
    """Poll the folder while sending: every visible, non-hidden file is complete."""
    drop = tmp_path / "hot"
    drop.mkdir()
    expected = job_file.read_bytes()
    connector = connector_for(machine_with({"type": "folder", "path": str(drop)}))
    seen_sizes: list[int] = []
    done = threading.Event()

    def scan() -> None:
        for entry in os.scandir(drop):
            if not entry.name.startswith("."):
                seen_sizes.append(Path(entry.path).stat().st_size)

    def watch() -> None:
        while not done.is_set():
            scan()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(5):
            connector.send(job_file, f"J000{i}.gcode")
    finally:
        done.set()
        watcher.join()
    scan()
    assert len(seen_sizes) >= 5
    assert set(seen_sizes) == {len(expected)}


def test_resend_of_same_bytes_is_idempotent_but_different_bytes_are_refused(
    machine_with, tmp_path, job_file
):
    drop = tmp_path / "hot"
    drop.mkdir()
    connector = connector_for(machine_with({"type": "folder", "path": str(drop)}))
    connector.send(job_file, "J0002.gcode")
    again = connector.send(job_file, "J0002.gcode")
    assert "Already" in again.message.en
    other = tmp_path / "other.gcode"
    other.write_bytes(b"G28\n")
    with pytest.raises(DispatchError) as refused:
        connector.send(other, "J0002.gcode")
    assert not isinstance(refused.value, TransientDispatchError)
    assert (drop / "J0002.gcode").read_bytes() == job_file.read_bytes()
    assert [p.name for p in drop.iterdir()] == ["J0002.gcode"]

    overwriting = connector_for(
        machine_with({"type": "folder", "path": str(drop), "overwrite": True})
    )
    overwriting.send(other, "J0002.gcode")
    assert (drop / "J0002.gcode").read_bytes() == b"G28\n"


def test_missing_local_folder_is_permanent_and_unmounted_share_is_transient(
    machine_with, tmp_path, job_file
):
    missing = tmp_path / "nowhere"
    connector = connector_for(machine_with({"type": "folder", "path": str(missing)}))
    with pytest.raises(DispatchError) as error:
        connector.send(job_file, "J1.gcode")
    assert not isinstance(error.value, TransientDispatchError)
    assert "nowhere" in error.value.message.fr
    assert connector.status().state == "offline"

    # tmp_path exists but is not a mount point: the stick is "unplugged".
    share = tmp_path / "share"
    (share / "jobs").mkdir(parents=True)
    unplugged = connector_for(
        machine_with({"type": "folder", "path": str(share / "jobs"), "mount_point": str(share)})
    )
    with pytest.raises(TransientDispatchError, match="not mounted"):
        unplugged.send(job_file, "J1.gcode")
    assert list((share / "jobs").iterdir()) == []


def test_create_makes_the_folder(machine_with, tmp_path, job_file):
    target = tmp_path / "a" / "b"
    connector = connector_for(machine_with({"type": "folder", "path": str(target), "create": True}))
    connector.send(job_file, "J1.gcode")
    assert (target / "J1.gcode").is_file()


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"type": "folder"}, "path"),
        ({"type": "folder", "path": "relative/dir"}, "path"),
        ({"type": "folder", "path": "/srv/x", "mount_point": "/media/usb"}, "mount_point"),
        ({"type": "folder", "path": "/srv/x", "overwrit": True}, "overwrit"),
    ],
)
def test_bad_settings_name_the_key(machine_with, table, key):
    with pytest.raises(ConnectorSettingsError) as error:
        connector_for(machine_with(table))
    assert error.value.key == key
    assert isinstance(error.value, ValueError)
    assert f"« {key} »" in error.value.message.fr


@pytest.mark.parametrize("name", ["../escape.gcode", "sub/dir.gcode", ".hidden.gcode"])
def test_names_that_would_leave_the_folder_or_hide_are_refused(
    machine_with, tmp_path, job_file, name
):
    drop = tmp_path / "hot"
    drop.mkdir()
    connector = connector_for(machine_with({"type": "folder", "path": str(drop)}))
    with pytest.raises(DispatchError, match="refused"):
        connector.send(job_file, name)
    assert list(drop.iterdir()) == []
    assert not (tmp_path / "escape.gcode").exists()
