"""The queue at scale: a real ``redis-server``, two ``fabserver worker`` processes, 20 jobs.

Every plan message is delivered twice on purpose (as after a restart or a
re-queue); the audit table must still show each job claimed and planned exactly
once, and both processes taking a share of the work.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter

import pytest
from servers import ROOT, fab_testplugins, fabserver_command
from sqlalchemy import select

from fabserver.testing import redis_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("redis")]

JOBS = 20


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


def _start_worker(env, log):
    return subprocess.Popen(
        [*fabserver_command(), "worker", "--workers", "2"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_plan_each_of_20_jobs_exactly_once(tmp_path, redis_url):
    from fabserver.jobs import intake, service
    from fabserver.jobs.runtime import build_runtime
    from fabserver.jobs.settings import Settings
    from fabserver.store.models import AuditEvent, Job

    data = tmp_path / "data"
    entry_points = fab_testplugins.write_entry_points(tmp_path / "entry-points")
    env = {
        **os.environ,
        "FABSERVER_DATA": str(data),
        "FABSERVER_REDIS_URL": redis_url,
        "FABSERVER_PROFILES": str(fab_testplugins.PROFILES),
        "PYTHONPATH": os.pathsep.join([str(entry_points), str(fab_testplugins.PROFILES.parent)]),
    }
    settings = Settings(data_dir=data, profile_dir=fab_testplugins.PROFILES, redis_url=redis_url)
    runtime = build_runtime(settings, fab_testplugins.registry())  # creates the database
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    workers = [_start_worker(env, log) for log in logs]
    try:
        _wait_for(
            lambda: (
                all("worker:" in log.read_text() for log in logs if log.exists())
                and all(log.exists() for log in logs)
            ),
            120,
            "both workers to start",
        )
        stl = (ROOT / "samples" / "web-block.stl").read_bytes()
        upload = intake.receive(runtime, stl, "block.stl")
        design = intake.record_design(runtime, upload, intake.load_bounded(runtime, stl, "b.stl"))
        maker = service.Maker("Test", email="t@example.org")
        job_ids = [
            service.submit(runtime, design, "box-1", "test-pla", 1, {"delay_s": 0.3}, maker).id
            for _ in range(JOBS)
        ]
        for job_id in job_ids:  # a second delivery of every message
            runtime.enqueue_plan(job_id)

        def all_planned() -> bool:
            with runtime.db.session() as s:
                states = s.scalars(select(Job.state).where(Job.id.in_(job_ids))).all()
            assert "failed" not in states, [log.read_text()[-2000:] for log in logs]
            return all(state == "review" for state in states)

        _wait_for(all_planned, 180, "20 jobs planned")
        time.sleep(1.0)  # let any late duplicate be consumed before counting
        with runtime.db.session() as s:
            events = s.scalars(
                select(AuditEvent).where(
                    AuditEvent.job_id.in_(job_ids), AuditEvent.action == "transition"
                )
            ).all()
            versions = s.scalars(select(Job.plan_version).where(Job.id.in_(job_ids))).all()
        claims = Counter(e.job_id for e in events if e.to_state == "planning")
        planned = Counter(e.job_id for e in events if e.to_state == "review")
        assert claims == Counter({job_id: 1 for job_id in job_ids})
        assert planned == Counter({job_id: 1 for job_id in job_ids})
        assert set(versions) == {1}
        processes = {e.data["worker"].split(":")[1] for e in events if e.to_state == "planning"}
        assert processes == {str(w.pid) for w in workers}, "both workers took a share"
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        runtime.close()
