"""Chaos: planning processes killed at random while 50 jobs plan; nothing lost, nothing twice."""

from __future__ import annotations

import os
import random
import signal
import threading

from job_helpers import submit, wait_for
from sqlalchemy import select

from fabserver.jobs import planner
from fabserver.jobs.runtime import start_consumer
from fabserver.store.models import Artifact, AuditEvent, Job

JOBS = 50
KILLS = 15


def test_random_kills_leave_every_job_planned_or_failed_once(make_runtime, block_stl):
    runtime = make_runtime(immediate=False, workers=3)
    makers = ["Ana", "Bea", "Chloé", "Dan", "Eli"]
    ids = [
        submit(
            runtime,
            block_stl,
            options={"behaviour": "sleep", "seconds": 0.1},
            name=makers[i % len(makers)],
        ).id
        for i in range(JOBS)
    ]
    killed: list[tuple[int, int]] = []
    stop = threading.Event()
    chance = random.Random(12)

    def killer() -> None:
        while not stop.is_set() and len(killed) < KILLS:
            running = planner.running_plans()
            if running:
                job_id, pid = chance.choice(sorted(running.items()))
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append((job_id, pid))
                except ProcessLookupError:
                    pass
            stop.wait(chance.uniform(0.1, 0.5))

    consumer = start_consumer(runtime)
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:

        def all_settled() -> bool:
            with runtime.db.session() as s:
                states = s.scalars(select(Job.state).where(Job.id.in_(ids))).all()
            return all(state in ("review", "failed") for state in states)

        wait_for(all_settled, timeout_s=600, what="every job to be planned or failed")
    finally:
        stop.set()
        thread.join()
        consumer.stop(graceful=False)

    assert len(killed) >= 5  # the chaos happened
    with runtime.db.session() as s:
        jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(ids))).all()}
        events = s.scalars(select(AuditEvent).where(AuditEvent.job_id.in_(ids))).all()
        artifacts = s.scalars(select(Artifact).where(Artifact.job_id.in_(ids))).all()
    assert set(jobs) == set(ids)  # none lost
    reviews = {i: 0 for i in ids}
    for event in events:
        if event.to_state == "review" and event.action == "transition":
            reviews[event.job_id] += 1
    for job_id, found in jobs.items():
        if found.state == "review":
            assert reviews[job_id] == 1  # planned once
            kept = [a for a in artifacts if a.job_id == job_id]
            assert {a.plan_version for a in kept} == {found.plan_version}
            assert sorted(a.role for a in kept) == ["machine", "preview"]
        else:
            assert reviews[job_id] == 0
            assert found.error_message and found.error_message["fr"]
            assert "stopped twice" in found.error_message["en"]
    hit = {job_id for job_id, _ in killed}
    assert all(jobs[i].state == "review" for i in ids if i not in hit)  # only victims failed
    assert not any((runtime.settings.data_dir / "tmp").glob("plan-*"))
