"""Paths and helpers the test suites share (core and plugins alike).

Kept in the package rather than in a ``conftest.py`` so that any test module
can import it by name, whatever folder it lives in.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Real public design files, beside the checkout in the lab's workspace; absent in a user's clone.
CORPUS = Path(os.environ.get("FABSERVER_CORPUS", ROOT.parent / "shared" / "corpus"))
#: The project's own small designs.
SAMPLES = ROOT / "samples"
CORPUS_MISSING = f"shared corpus not found at {CORPUS} (present only in the lab's workspace)"


def corpus_files(subdir: str, *suffixes: str) -> list[Path]:
    """Corpus files for parametrisation (empty where the corpus is absent).

    ``suffixes`` are compared case-insensitively (``".stl"`` matches ``.STL``).
    """
    folder = CORPUS / subdir
    if not folder.is_dir():
        return []
    wanted = {s.lower() for s in suffixes}
    return sorted(p for p in folder.iterdir() if not wanted or p.suffix.lower() in wanted)


def missing_part(reason: str) -> None:
    """A real part a test needs is missing: skip on a user's machine, fail on CI (``CI=true``)."""
    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: every real part must be installed)")
    pytest.skip(reason)
