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
