"""Fair queue: light jobs and makers with nothing waiting go first; no maker holds every process."""

from __future__ import annotations

import trimesh
from job_helpers import submit, wait_for
from sqlalchemy import select

from fabserver.jobs import fairness
from fabserver.jobs.runtime import start_consumer
from fabserver.jobs.states import transition
from fabserver.store.models import AuditEvent, Job


def test_a_makers_next_jobs_and_big_jobs_come_later(make_runtime, block_stl):
    runtime = make_runtime(immediate=False, workers=2)  # no consumer: jobs stay queued
    ana = [submit(runtime, block_stl, name="Ana").id for _ in range(4)]
    bea = submit(runtime, block_stl, name="Bea").id
    many = submit(runtime, block_stl, name="Chloé", copies=50).id
    priority = {i: fairness.plan_priority(runtime, i) for i in [*ana, bea, many]}
    assert priority[bea] > priority[ana[0]]  # Ana has three more waiting
    assert priority[bea] > priority[many]  # same file, 50 copies
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=20.0)  # 1 MB of STL
    sphere.apply_translation(-sphere.bounds[0])
    big = submit(runtime, sphere.export(file_type="stl"), name="Dan").id
    assert fairness.plan_priority(runtime, big) < priority[bea]


def test_one_maker_holds_at_most_half_of_the_planning_processes(make_runtime, block_stl):
    runtime = make_runtime(immediate=False, workers=2)
    ana = [submit(runtime, block_stl, name="Ana").id for _ in range(2)]
    bea = submit(runtime, block_stl, name="Bea").id
    assert fairness.per_maker_limit(runtime) == 1
    assert fairness.may_claim(runtime, ana[1])
    with runtime.db.session() as s:
        transition(s, ana[0], "planning", actor="worker", expected=("queued",))
    assert not fairness.may_claim(runtime, ana[1])  # Ana's other job waits
    assert fairness.may_claim(runtime, bea)


def test_another_makers_job_is_planned_while_one_maker_has_a_queue(make_runtime, block_stl):
    runtime = make_runtime(immediate=False, workers=2)
    slow = {"behaviour": "sleep", "seconds": 1.0}
    ana = [submit(runtime, block_stl, name="Ana", options=slow).id for _ in range(3)]
    bea = submit(runtime, block_stl, name="Bea").id
    consumer = start_consumer(runtime)
    try:

        def settled() -> bool:
            with runtime.db.session() as s:
                states = s.scalars(select(Job.state).where(Job.id.in_([*ana, bea]))).all()
            return all(state == "review" for state in states)

        wait_for(settled, timeout_s=300, what="every job to be planned")
    finally:
        consumer.stop(graceful=False)
    with runtime.db.session() as s:
        claims = {
            e.job_id: e.id
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.to_state == "planning").order_by(AuditEvent.id)
            ).all()
        }
    assert claims[bea] < claims[ana[1]] and claims[bea] < claims[ana[2]]
