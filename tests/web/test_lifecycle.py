"""The job lifecycle without the web: state machine, claims, restart, dispatch."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update
from web_helpers import job_id_of

from fabserver.dispatch import (
    DispatchError,
    DownloadConnector,
    Receipt,
    TransientDispatchError,
    remote_name_for,
)
from fabserver.i18n import Text
from fabserver.jobs import recovery, service, tasks
from fabserver.jobs.states import TRANSITIONS, InvalidTransition, can_transition, transition
from fabserver.store.models import JOB_STATES, AuditEvent, Job


def test_state_machine_covers_every_state_and_final_states_are_final():
    assert set(TRANSITIONS) == set(JOB_STATES)
    for targets in TRANSITIONS.values():
        assert targets <= set(JOB_STATES)
    for final in ("done", "rejected", "cancelled"):
        assert not any(can_transition(final, t) for t in JOB_STATES)
    assert not can_transition("queued", "approved")  # no skipping the review
    assert not can_transition("review", "dispatched")


def test_invalid_transition_leaves_no_trace(runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        before = len(s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id)).all())
    with pytest.raises(InvalidTransition) as info, runtime.db.session() as s:
        transition(s, job_id, "done", actor="test")
    assert info.value.current == "review"
    with runtime.db.session() as s:
        assert s.get(Job, job_id).state == "review"
        after = len(s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id)).all())
    assert after == before


def test_two_claims_on_one_job_one_wins(runtime, job_token):
    """Compare-and-set: racing workers cannot both take a queued job."""
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        transition(s, job_id, "queued", actor="test")
    barrier = threading.Barrier(4)
    wins, losses = [], []

    def claim():
        barrier.wait()
        try:
            with runtime.db.session() as s:
                transition(s, job_id, "planning", actor="racer", expected=("queued",))
            wins.append(1)
        except InvalidTransition:
            losses.append(1)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == 3
    with runtime.db.session() as s:
        claims = s.scalars(
            select(AuditEvent).where(AuditEvent.job_id == job_id, AuditEvent.actor == "racer")
        ).all()
    assert len(claims) == 1


def test_a_duplicate_plan_message_does_nothing(runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        version = s.get(Job, job_id).plan_version
    tasks.plan_job(runtime, job_id)  # the job is in review: the claim fails
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert job.state == "review" and job.plan_version == version


def test_restart_plans_again_a_job_left_planning(runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:  # as if the server stopped mid-planning
        s.execute(update(Job).where(Job.id == job_id).values(state="planning", heartbeat_at=None))
    requeued = recovery.requeue_unfinished(runtime, stale_after_s=0)
    assert requeued == [job_id]
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert job.state == "review" and job.plan_version == 2
        reasons = [e.reason for e in job.events if e.actor == "system"]
    assert reasons == ["restart: planning interrupted"]


def test_a_worker_does_not_steal_a_job_another_is_planning(runtime, job_token):
    from fabserver.store.models import utcnow

    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        s.execute(
            update(Job).where(Job.id == job_id).values(state="planning", heartbeat_at=utcnow())
        )
    assert recovery.requeue_unfinished(runtime, stale_after_s=600) == []
    with runtime.db.session() as s:
        assert s.get(Job, job_id).state == "planning"


class _CountingConnector(DownloadConnector):
    """A connector that records what it sends; it cannot tell how a job ended."""

    sent: list[tuple[Path, str]]

    def __init__(self, failures: list[Exception] | None = None):
        super().__init__({}, "box-1")
        self.sent = []
        self.failures = failures or []

    def send(self, file: Path, remote_name: str) -> Receipt:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((file, remote_name))
        return Receipt(Text("envoyé", "sent"), remote_ref=remote_name)


@pytest.fixture
def approved_job(runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    service.approve(runtime, job_id, "staff:test")
    return job_id


def _attempts(runtime, job_id):
    with runtime.db.session() as s:
        return [
            e.data
            for e in s.scalars(
                select(AuditEvent).where(
                    AuditEvent.job_id == job_id, AuditEvent.action == "dispatch-attempt"
                )
            )
        ]


def test_dispatch_sends_once_even_when_asked_twice(runtime, approved_job, monkeypatch):
    connector = _CountingConnector()
    monkeypatch.setattr(tasks, "connector_for", lambda machine: connector)
    tasks.dispatch_job(runtime, approved_job)
    tasks.dispatch_job(runtime, approved_job)
    assert len(connector.sent) == 1
    path, remote = connector.sent[0]
    with runtime.db.session() as s:
        job = s.get(Job, approved_job)
        assert job.state == "dispatched" and job.receipt["remote_ref"] == remote
        assert remote == remote_name_for(approved_job, "block.stl", None, suffix=".gcode")
        assert remote.startswith(f"J{approved_job:04d}") and remote.endswith(".gcode")
        assert job.receipt["key"] == job.dispatch_key
        machine_file = next(a for a in job.artifacts if a.role == "machine")
    assert path == runtime.files.path(machine_file.sha256)
    assert [a["ok"] for a in _attempts(runtime, approved_job)] == [True]


def test_dispatch_retries_transient_errors_and_records_each_attempt(
    runtime, approved_job, monkeypatch
):
    busy = TransientDispatchError(Text("machine occupée", "machine busy"))
    connector = _CountingConnector([busy])
    monkeypatch.setattr(tasks, "connector_for", lambda machine: connector)
    with pytest.raises(TransientDispatchError):  # Huey schedules the retry
        tasks.dispatch_job(runtime, approved_job, retries_left=3)
    with runtime.db.session() as s:
        job = s.get(Job, approved_job)
        assert job.state == "approved" and job.dispatch_claimed_at is None
    tasks.dispatch_job(runtime, approved_job, retries_left=2)
    attempts = _attempts(runtime, approved_job)
    assert [(a["attempt"], a["ok"]) for a in attempts] == [(1, False), (2, True)]
    assert attempts[0]["retry"] is True and len(connector.sent) == 1


def test_dispatch_gives_up_on_a_permanent_error(runtime, approved_job, monkeypatch):
    refused = DispatchError(Text("clé d'API refusée", "API key refused"))
    monkeypatch.setattr(tasks, "connector_for", lambda machine: _CountingConnector([refused]))
    tasks.dispatch_job(runtime, approved_job, retries_left=5)  # no exception: no retry
    attempts = _attempts(runtime, approved_job)
    # the audit names the process that tried (a site's worker, with several sites)
    assert attempts[0].pop("worker").split(":")[1] == str(os.getpid())
    assert attempts == [
        {
            "attempt": 1,
            "ok": False,
            "transient": False,
            "message": {"fr": "clé d'API refusée", "en": "API key refused"},
            "retry": False,
        }
    ]
    with runtime.db.session() as s:
        assert s.get(Job, approved_job).state == "approved"


def test_job_keeps_its_profile_snapshots(runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
    assert job.machine_snapshot == runtime.profiles.machines["box-1"].snapshot()
    assert job.material_snapshot == runtime.profiles.materials["test-pla"].snapshot()


def test_migrations_are_idempotent_and_match_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fabserver.store import open_database
    from fabserver.store.models import Base

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    open_database(url).dispose()
    db = open_database(url)  # second start: nothing to do
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_done_records_the_charged_material_line():
    estimate = {
        "materials": [
            {"unit": "m", "quantity": 1.6, "cost_eur": None},
            {"unit": "g", "quantity": 5.0, "cost_eur": 0.15},
        ]
    }
    assert service.charged_material(estimate)["unit"] == "g"
    assert service.charged_material({"materials": [{"unit": "m", "cost_eur": None}]})["unit"] == "m"
    assert service.charged_material(None) is None


def test_staff_see_why_sending_failed(staff_client, runtime, approved_job, monkeypatch):
    refused = DispatchError(Text("clé d'API refusée", "API key refused"))
    monkeypatch.setattr(tasks, "connector_for", lambda machine: _CountingConnector([refused]))
    tasks.dispatch_job(runtime, approved_job)
    html = staff_client.get(f"/staff/jobs/{approved_job}").get_data(as_text=True)
    assert 'data-testid="dispatch-error"' in html and "clé d&#39;API refusée" in html


ACTIONS = {
    "approve": lambda rt, i: service.approve(rt, i, "staff:p"),
    "reject": lambda rt, i: service.reject(rt, i, "staff:p", "no"),
    "replan": lambda rt, i: service.replan(rt, i, "staff:p", options={"infill": "20"}),
    "dispatch": lambda rt, i: service.request_dispatch(rt, i, "staff:p"),
    "done": lambda rt, i: service.mark_done(rt, i, "staff:p", "5"),
    "cancel": lambda rt, i: service.cancel(rt, i, "staff:p"),
    "override": lambda rt, i: service.override_verdict(rt, i, "staff:p", "series", "n"),
}


def test_any_sequence_of_actions_keeps_a_continuous_audited_history(runtime, job_token):
    """Whatever staff click, in any order: each refused action changes nothing, each
    accepted one is exactly one audit row continuing from the previous state."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from fabserver.errors import FabError
    from fabserver.store.models import Design

    with runtime.db.session() as s:
        design = s.get(Design, s.get(Job, job_id_of(runtime, job_token)).design_id)
    maker = service.Maker("P", email="p@example.org")

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(sorted(ACTIONS)), max_size=8))
    def check(actions):
        job_id = service.submit(runtime, design, "box-1", "test-pla", 1, {}, maker).id
        for name in actions:
            with runtime.db.session() as s:
                before = s.get(Job, job_id).state
            try:
                ACTIONS[name](runtime, job_id)
            except FabError:
                with runtime.db.session() as s:
                    assert s.get(Job, job_id).state == before
        with runtime.db.session() as s:
            job = s.get(Job, job_id)
            steps = [e for e in job.events if e.action == "transition"]
            assert steps[0].from_state is None and steps[0].to_state == "queued"
            for previous, step in itertools.pairwise(steps):
                assert step.from_state == previous.to_state
                assert can_transition(step.from_state, step.to_state)
            assert steps[-1].to_state == job.state

    check()


def test_sweep_recovers_dead_workers_and_lost_messages_only(runtime, client, block_stl):
    from datetime import timedelta

    from web_helpers import upload_form

    from fabserver.store.models import utcnow

    tokens = [
        upload_form(client, block_stl).headers["Location"].rsplit("/", 1)[-1] for _ in range(3)
    ]
    dead, lost, busy = (job_id_of(runtime, t) for t in tokens)
    old = utcnow() - timedelta(seconds=runtime.settings.stale_planning_s + 5)
    with runtime.db.session() as s:
        s.execute(update(Job).where(Job.id == dead).values(state="planning", heartbeat_at=old))
        s.execute(update(Job).where(Job.id == lost).values(state="queued", updated_at=old))
        s.execute(update(Job).where(Job.id == busy).values(state="planning", heartbeat_at=utcnow()))
    recovery.sweep(runtime)
    with runtime.db.session() as s:
        assert s.get(Job, dead).state == "review" and s.get(Job, dead).plan_version == 2
        assert s.get(Job, lost).state == "review" and s.get(Job, lost).plan_version == 2
        assert s.get(Job, busy).state == "planning" and s.get(Job, busy).plan_version == 1


def test_a_late_worker_cannot_overwrite_a_newer_planning_run(runtime, job_token):
    """A worker thought dead finishes after its job was re-queued and claimed again:
    its results are dropped, the newer run's are kept."""
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        transition(s, job_id, "queued", actor="test")
        transition(s, job_id, "planning", actor="old", plan_version=2)
        transition(s, job_id, "queued", actor="sweep")
        transition(s, job_id, "planning", actor="new", plan_version=3)
    with pytest.raises(InvalidTransition), runtime.db.session() as s:
        transition(s, job_id, "review", actor="old", expected=("planning",), if_plan_version=2)
    with runtime.db.session() as s:
        transition(s, job_id, "review", actor="new", expected=("planning",), if_plan_version=3)
        assert s.get(Job, job_id).state == "review"


def test_heartbeat_keeps_a_silent_plan_alive(runtime, job_token):
    import time
    from datetime import timedelta

    from fabserver.store.models import utcnow

    job_id = job_id_of(runtime, job_token)
    long_ago = utcnow() - timedelta(hours=1)
    with runtime.db.session() as s:
        s.execute(
            update(Job).where(Job.id == job_id).values(state="planning", heartbeat_at=long_ago)
        )
        version = s.get(Job, job_id).plan_version
    with tasks._heartbeat(runtime, job_id, version, every_s=0.05):
        time.sleep(0.4)  # a plugin busy without a word
    with runtime.db.session() as s:
        beat = s.get(Job, job_id).heartbeat_at
    assert beat > long_ago + timedelta(minutes=59)
    assert recovery.requeue_stale_planning(runtime, stale_after_s=600) == []
