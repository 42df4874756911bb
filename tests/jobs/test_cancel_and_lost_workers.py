"""Cancel kills a running plan; a job that kills its planning process is retried once, no more."""

from __future__ import annotations

import os

import pytest
from job_helpers import job, submit, wait_for
from sqlalchemy import select

from fabserver.jobs import planner, recovery, service
from fabserver.jobs.runtime import start_consumer
from fabserver.jobs.states import transition
from fabserver.store.models import AuditEvent


@pytest.fixture
def consumer_runtime(make_runtime):
    runtime = make_runtime(immediate=False, workers=2)
    consumer = start_consumer(runtime)
    yield runtime
    consumer.stop(graceful=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not reaped yet) counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_cancel_kills_the_running_plan(consumer_runtime, block_stl):
    runtime = consumer_runtime
    created = submit(runtime, block_stl, options={"behaviour": "sleep", "seconds": 300})
    wait_for(lambda: created.id in planner.running_plans(), what="the plan to start")
    pid = planner.running_plans()[created.id]
    assert _alive(pid)
    service.cancel(runtime, created.id, actor="maker", reason="changed my mind")
    # The plan would sleep for 5 minutes: it is killed at the next look at the job.
    wait_for(lambda: not _alive(pid), timeout_s=60, what="the planning process to end")
    wait_for(lambda: created.id not in planner.running_plans(), what="the supervisor to let go")
    cancelled = job(runtime, created.id)
    assert cancelled.state == "cancelled"
    assert not cancelled.artifacts
    # The supervisor lets go of the child first; its worker then removes the plan's folder.
    wait_for(
        lambda: not any((runtime.settings.data_dir / "tmp").glob("plan-*")),
        what="the plan's private folder to be removed",
    )


def _claims(runtime, job_id: int) -> int:
    with runtime.db.session() as s:
        return len(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.job_id == job_id, AuditEvent.to_state == "planning"
                )
            ).all()
        )


def test_a_job_that_kills_its_worker_twice_is_failed(runtime, block_stl):
    created = submit(runtime, block_stl, options={"behaviour": "die"})
    failed = job(runtime, created.id)
    assert failed.state == "failed"
    assert _claims(runtime, created.id) == 2  # tried once more, then no more
    assert "stopped twice in a row" in failed.error_message["en"]
    assert "deux fois de suite" in failed.error_message["fr"]
    assert "SIGKILL" in failed.error_detail
    # A new request by staff starts a fresh count.
    service.replan(runtime, created.id, actor="ana", options={"behaviour": "ok"})
    assert job(runtime, created.id).state == "review"


def test_no_restart_loop_on_a_job_that_took_its_server_down(runtime, block_stl):
    """The whole server died while planning the job: the first restart plans it again,
    the second fails it instead of dying on it once more."""
    created = submit(runtime, block_stl)
    runtime.enqueue_plan = lambda job_id, delay=None: None  # this test plays the worker
    with runtime.db.session() as s:
        transition(s, created.id, "queued", actor="ana", reason="re-plan")
    for after_restart in ("queued", "failed"):
        with runtime.db.session() as s:  # a worker claims it... and the server dies
            transition(s, created.id, "planning", actor="worker", expected=("queued",))
        recovery.requeue_unfinished(runtime, 0.0)  # what ``serve`` does at start
        assert job(runtime, created.id).state == after_restart
    failed = job(runtime, created.id)
    assert "stopped twice" in failed.error_message["en"]
    assert "no news from its worker" in failed.error_detail
