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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

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
    try:
        yield from _serve(
            process,
            f"postgresql+psycopg://fab@127.0.0.1:{port}/postgres",
            lambda: psycopg.connect(f"host=127.0.0.1 port={port} user=fab dbname=postgres").close(),
            psycopg.OperationalError,
            wait_s=20,
            stop_s=30,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A ``redis-server`` on a free loopback port, without persistence; yields its URL.

    Skips (fails in CI) when it is not installed."""
    import shutil
    import subprocess

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
    yield from _serve(
        process,
        f"redis://127.0.0.1:{port}/0",
        redis.Redis(port=port).ping,
        redis.ConnectionError,
        wait_s=5,
        stop_s=10,
    )


def _serve(
    process: subprocess.Popen,
    url: str,
    answer: Callable[[], object],
    not_yet: type[Exception],
    *,
    wait_s: float,
    stop_s: float,
) -> Iterator[str]:
    """Yield ``url`` once the server ``process`` answers (``answer()`` stops raising
    ``not_yet``, or ``wait_s`` has passed: the test then meets the real error); stop it after."""
    import time

    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                answer()
                break
            except not_yet:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=stop_s)
