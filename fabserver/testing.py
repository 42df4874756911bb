"""Paths and helpers the test suites share (core and plugins alike).

Kept in the package rather than in a ``conftest.py`` so that any test module
can import it by name, whatever folder it lives in.

Tests that need a real part or an independent reference (PrusaSlicer,
CuraEngine, Chromium, Redis, PostgreSQL, OctoPrint, hp2xx, the corpus) call
:func:`require`: on a user's machine a missing one skips the test with the
reason; with ``CI=true`` it fails it, so a green CI cannot hide them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
#: Real public design files, beside the checkout in the lab's workspace; absent in a user's clone.
CORPUS = Path(os.environ.get("FABSERVER_CORPUS", ROOT.parent / "shared" / "corpus"))
#: The project's own small designs.
SAMPLES = ROOT / "samples"
CORPUS_MISSING = f"shared corpus not found at {CORPUS} (present only in the lab's workspace)"


def strict() -> bool:
    """True in CI (``CI=true``): whatever a test needs must be there."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(condition: object, reason: str) -> None:
    """Go on when ``condition`` holds; otherwise skip with ``reason``, or fail in CI."""
    if condition:
        return
    import pytest

    if strict():
        pytest.fail(f"CI=true and a required part is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str) -> ModuleType:
    """The module ``name``, imported; skips (fails in CI) with ``reason`` when it is absent."""
    try:
        return importlib.import_module(name)
    except ImportError:
        require(False, reason)
        raise  # unreachable: require skipped or failed


def corpus_files(subdir: str, *suffixes: str) -> list[Path]:
    """Corpus files for parametrisation (empty where the corpus is absent).

    ``suffixes`` are compared case-insensitively (``".stl"`` matches ``.STL``).
    In CI an empty result is an error at collection, not tests that vanish.
    """
    folder = CORPUS / subdir
    found = []
    if folder.is_dir():
        wanted = {s.lower() for s in suffixes}
        found = sorted(p for p in folder.iterdir() if not wanted or p.suffix.lower() in wanted)
    if not found and strict():
        raise RuntimeError(f"CI=true and no corpus files in {folder}: {CORPUS_MISSING}")
    return found


def free_port() -> int:
    """A TCP port free on the loopback now (tests share the machine: never a fixed one)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free loopback port; yields its SQLAlchemy URL.

    Skips (fails in CI) when the server or psycopg is not installed."""
    import shutil
    import subprocess
    import tempfile
    import time

    require_module("psycopg", "psycopg not installed (pip install fabserver[postgres])")
    initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
    require(initdb and postgres, "PostgreSQL server not installed (apt-get install postgresql)")
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="fabserver-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data = root / "cluster"
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "fab", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            *prefix,
            postgres,
            *("-D", str(data), "-p", str(port), "-k", str(root), "-F"),
            *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=fab dbname=postgres").close()
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    try:
        yield f"postgresql+psycopg://fab@127.0.0.1:{port}/postgres"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A ``redis-server`` on a free loopback port, without persistence; yields its URL.

    Skips (fails in CI) when it is not installed."""
    import shutil
    import subprocess
    import time

    binary = shutil.which("redis-server")
    require(binary, "redis-server not installed (apt-get install redis-server)")
    redis = require_module("redis", "the redis client is not installed (pip install redis)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
