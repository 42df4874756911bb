"""Fixtures shared by the core's and the plugins' tests (paths live in ``fabserver.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabserver.testing import CORPUS, CORPUS_MISSING, SAMPLES, require, strict


def pytest_configure(config: pytest.Config) -> None:
    """In CI, a parametrisation that comes out empty fails instead of skipping."""
    if strict():
        config.inicfg["empty_parameter_set_mark"] = "fail_at_collect"


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
