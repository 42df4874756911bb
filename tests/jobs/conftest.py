"""Jobs planned in real planning processes: a lab with the test plugins, a queue, a consumer."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "support"))
sys.path.insert(0, str(HERE.parent / "web" / "support"))

import fab_limitplugins  # noqa: E402
from web_helpers import BLOCK_STL  # noqa: E402

from fabserver.jobs.settings import Settings  # noqa: E402


@pytest.fixture
def lab_profiles(tmp_path) -> Path:
    return fab_limitplugins.lab_profiles(tmp_path / "profiles")


@pytest.fixture
def make_runtime(tmp_path, lab_profiles) -> Iterator[Callable]:
    """Build a runtime on a fresh data dir; ``immediate=False`` gives a real SQLite queue."""
    from fabserver.jobs.runtime import build_runtime

    made = []

    def make(**overrides):
        values = {
            "data_dir": tmp_path / "data",
            "profile_dir": lab_profiles,
            "immediate": True,
            **overrides,
        }
        runtime = build_runtime(Settings(**values), fab_limitplugins.registry())
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def runtime(make_runtime):
    return make_runtime()


@pytest.fixture
def block_stl() -> bytes:
    return BLOCK_STL.read_bytes()
