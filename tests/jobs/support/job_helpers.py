"""Helpers for the jobs tests (importable from test modules)."""

from __future__ import annotations

import time
from collections.abc import Callable


def submit(runtime, data: bytes, machine="lim-1", options=None, name="Camille", copies=1):
    """A maker's job as the upload form makes it: stored, parsed bounded, queued."""
    from fabserver.jobs import intake, service
    from fabserver.store.models import Design

    upload = intake.receive(runtime, data, "part.stl")
    design = intake.load_bounded(runtime, data, "part.stl")
    row = intake.record_design(runtime, upload, design)
    with runtime.db.session() as s:
        row = s.get(Design, row.id)
    maker = service.Maker(name=name, email=f"{name.lower()}@example.org")
    return service.submit(runtime, row, machine, "test-pla", copies, options or {}, maker)


def job(runtime, job_id: int):
    from fabserver.store.models import Job

    with runtime.db.session() as s:
        found = s.get(Job, job_id)
        found.artifacts  # noqa: B018 - load while the session is open
        found.events  # noqa: B018
        return found


def wait_for(condition: Callable[[], bool], timeout_s: float = 120.0, what: str = "") -> None:
    """Poll until ``condition()``; the bound is generous (a safety net, not a measure)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what or condition}")
