"""Fixtures shared by the core's and the plugins' tests (paths live in ``fabserver.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabserver.testing import CORPUS, CORPUS_MISSING, SAMPLES, require, strict

EMPTY_PARAMETER_SET = "got empty parameter set"  # pytest's reason for such a skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI, a parametrisation that comes out empty (a missing corpus, no plugin) stops
    the run instead of skipping."""
    if not strict():
        return
    empty = [
        item.nodeid
        for item in items
        if any(
            str(mark.kwargs.get("reason", "")).startswith(EMPTY_PARAMETER_SET)
            for mark in item.iter_markers("skip")
        )
    ]
    if empty:
        raise pytest.UsageError("Empty parameter set (CI=true): " + ", ".join(empty))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of public design files; skips where it is absent (fails in CI)."""
    require(CORPUS.is_dir(), CORPUS_MISSING)
    return CORPUS


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def profiles():
    from fabserver.profiles import load_profiles

    return load_profiles()
