"""Fixtures shared by the core's and the plugins' tests (paths live in ``fabserver.testing``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabserver.testing import CORPUS, CORPUS_MISSING, SAMPLES


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of public design files; skips where it is absent (a user's clone)."""
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def profiles():
    from fabserver.profiles import load_profiles

    return load_profiles()
