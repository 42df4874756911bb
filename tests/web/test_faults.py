"""Storage faults: no start on a data directory that cannot be written; a message, and
nothing lost, when the disk refuses writes while serving."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web_helpers import BLOCK_STL, make_app, upload_api, upload_form

from fabserver.store.faults import DataDirError, check_data_dir
from fabserver.testing import require


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def read_only_dir(tmp_path):
    """A data directory that really refuses writes, root included: a read-only bind
    mount (root with CAP_SYS_ADMIN), else a directory without write permission (others)."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "note").write_text("kept")
    if os.geteuid() == 0:
        mounted = _mount("--bind", str(folder), str(folder)) and _mount(
            "-o", "remount,ro,bind", str(folder)
        )
        if not mounted:
            _unmount(folder)
        require(mounted, "a read-only bind mount needs root with CAP_SYS_ADMIN")
        yield folder
        _unmount(folder)
    else:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)


def _run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FABSERVER_LANG": "fr", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "fabserver.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_start_on_a_read_only_data_directory_exits_with_a_message(read_only_dir, command):
    extra = ["--port", "0"] if command == "serve" else []
    result = _run_cli(command, "--data", str(read_only_dir), *extra)
    assert result.returncode != 0
    assert "n'est pas accessible en écriture" in result.stderr
    assert str(read_only_dir) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert (read_only_dir / "note").read_text() == "kept"


def test_start_on_a_file_in_place_of_the_file_store_exits_with_a_message(tmp_path):
    (tmp_path / "data").mkdir()
    not_a_folder = tmp_path / "data" / "files"
    not_a_folder.write_text("a file, not a folder")
    result = _run_cli("--lang", "en", "serve", "--data", str(tmp_path / "data"), "--port", "0")
    assert result.returncode == 2
    assert "cannot be written" in result.stderr and "--data or FABSERVER_DATA" in result.stderr
    assert "Traceback" not in result.stderr
    assert not_a_folder.read_text() == "a file, not a folder"


def test_check_passes_on_a_writable_directory_and_leaves_nothing(tmp_path):
    check_data_dir(tmp_path / "data")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["files"]
    assert list((tmp_path / "data" / "files" / "objects").iterdir()) == []


def test_check_refuses_a_file_store_that_is_a_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "files").write_text("oops")
    with pytest.raises(DataDirError) as caught:
        check_data_dir(tmp_path / "data")
    assert "files" in caught.value.message.fr


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs as the data directory: a real 'no space left on device'."""
    folder = tmp_path / "data"
    folder.mkdir()
    ok = os.geteuid() == 0 and _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder))
    require(ok, "a small tmpfs needs root with CAP_SYS_ADMIN")
    yield folder
    _unmount(folder)


def _fill(path: Path) -> None:
    """Write zeros until the disk is full to the last byte."""
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 1 << 10, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def test_a_full_disk_gives_the_maker_a_message_and_loses_nothing(tmp_path, small_disk):
    app = make_app(tmp_path, DATA_DIR=small_disk)
    try:
        client = app.test_client()
        first = upload_form(client, BLOCK_STL.read_bytes())
        assert first.status_code == 303
        job_page = first.headers["Location"]
        _fill(small_disk / "filler")
        # Other bytes (a binary STL's 80-byte header is free text): a new file to store.
        data = b"another part".ljust(80) + BLOCK_STL.read_bytes()[80:]
        response = upload_form(client, data, filename="other.stl")
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        assert "disque plein ou en lecture seule" in html
        assert "Traceback" not in html
        assert int(response.headers["Retry-After"]) > 0
        # What was stored before is intact and still served.
        assert client.get(job_page).status_code == 200
        assert not list((small_disk / "files" / "objects").rglob(".incoming-*"))
        (small_disk / "filler").unlink()
        assert upload_form(client, data, filename="other.stl").status_code == 303
    finally:
        app.extensions["fabserver"].close()


def test_a_full_disk_gives_the_api_json(tmp_path, small_disk):
    app = make_app(tmp_path, DATA_DIR=small_disk)
    try:
        client = app.test_client()
        _fill(small_disk / "filler")
        response = client.post(
            "/api/v1/jobs",
            data={
                "file": (
                    io.BytesIO(b"api part".ljust(80) + BLOCK_STL.read_bytes()[80:]),
                    "part.stl",
                ),
                "machine": "box-1",
                "material": "test-pla",
                "name": "Camille",
                "email": "camille@example.org",
                "consent": "1",
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 503
        assert "disk full or read-only" in response.get_json()["error"]["en"]
    finally:
        app.extensions["fabserver"].close()


@pytest.fixture
def remountable_store(tmp_path):
    """The file store on its own bind mount (as the shared mount at scale), to be made
    read-only while serving. (The database's own folder cannot be: SQLite keeps its
    files open for writing, and the kernel refuses to remount under open writers.)"""
    store = tmp_path / "data" / "files"
    store.mkdir(parents=True)
    ok = os.geteuid() == 0 and _mount("--bind", str(store), str(store))
    require(ok, "a bind mount needs root with CAP_SYS_ADMIN")
    yield store
    _unmount(store)


def test_a_file_store_turned_read_only_while_serving_gives_messages(tmp_path, remountable_store):
    from fabserver.web.auth import create_staff, issue_token

    app = make_app(tmp_path, DATA_DIR=remountable_store.parent)
    runtime = app.extensions["fabserver"]
    try:
        user = create_staff(runtime, "ana", "correct horse battery")
        token = issue_token(runtime, user.id, "test")
        client = app.test_client()
        first = upload_form(client, BLOCK_STL.read_bytes())
        assert first.status_code == 303
        assert _mount("-o", "remount,ro,bind", str(remountable_store))
        data = b"read-only day".ljust(80) + BLOCK_STL.read_bytes()[80:]
        response = upload_form(client, data, filename="other.stl")
        assert response.status_code == 503
        assert "disque plein ou en lecture seule" in response.get_data(as_text=True)
        api = upload_api(client, data)
        assert api.status_code == 503 and "read-only" in api.get_json()["error"]["en"]
        # What was stored is still served, to makers and to staff.
        listing = client.get("/api/v1/staff/jobs", headers={"Authorization": f"Bearer {token}"})
        assert listing.status_code == 200
        page = client.get(first.headers["Location"])
        assert page.status_code == 200
        assert client.get(first.headers["Location"] + "/preview.svg").status_code == 200
    finally:
        _mount("-o", "remount,rw,bind", str(remountable_store))
        runtime.close()
