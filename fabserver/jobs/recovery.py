"""Recovery: what a dead worker or a lost message left behind goes back to the queue.

A job whose planning stops without an answer (its process killed, its worker gone)
is planned again once; the second time it is ``failed`` with a message, so that no
restart can loop on it. ``serve`` and ``worker`` call :func:`requeue_unfinished` at
start; the queue's periodic :func:`sweep` does the same for jobs silent too long.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import AuditEvent, Job, utcnow
from .context import Runtime
from .limits import limit_detail, limit_message, limits_for
from .service import SYSTEM_ACTORS
from .states import InvalidTransition, end_planning, fail_planning

MAX_PLAN_ATTEMPTS = 2  # a job whose planning process is killed is tried once more, no more


def plan_attempts(session: Session, job_id: int) -> int:
    """Claims of the job since a maker or staff last asked for a plan (the audit trail
    keeps them; the system's own re-queues after a lost worker do not reset the count)."""
    asked = session.scalar(
        select(func.max(AuditEvent.id)).where(
            AuditEvent.job_id == job_id,
            AuditEvent.action == "transition",
            AuditEvent.to_state == "queued",
            AuditEvent.actor.not_in(SYSTEM_ACTORS),
        )
    )
    return int(
        session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.job_id == job_id,
                AuditEvent.action == "transition",
                AuditEvent.to_state == "planning",
                AuditEvent.id > (asked or 0),
            )
        )
        or 0
    )


def worker_lost(
    runtime: Runtime, job_id: int, version: int | None, detail: str, reason: str = ""
) -> str | None:
    """The planning of a job stopped without an answer (its process was killed, or its
    worker died): plan it again once; the second time the job is ``failed`` with a
    message, so that no restart can loop on it. Returns the new state (None: the job
    had moved on meanwhile)."""
    try:
        with runtime.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            if plan_attempts(s, job_id) >= MAX_PLAN_ATTEMPTS:
                limits = limits_for(job.machine_snapshot)
                message = limit_message("crash", limits, job.plugin)
                fail_planning(
                    s,
                    job_id,
                    version,
                    message,
                    limit_detail("crash", limits, job.machine_id, detail),
                    actor="system",
                )
                return "failed"
            end_planning(
                s,
                job_id,
                version,
                "queued",
                actor="system",
                reason=reason or f"planning interrupted: {detail}"[:500],
                progress=0.0,
                stage="",
            )
    except InvalidTransition:
        return None
    runtime.enqueue_plan(job_id)
    return "queued"


def requeue_stale_planning(
    runtime: Runtime,
    stale_after_s: float,
    reason: str = "planning interrupted: no news from its worker",
) -> list[int]:
    """Jobs 'planning' with no heartbeat for ``stale_after_s`` (their worker stopped or
    died) go back to the queue and their plan message is sent again, once: a job that
    has already lost its worker before is ``failed`` instead."""
    limit = utcnow() - timedelta(seconds=stale_after_s)
    with runtime.db.session() as s:
        stale = s.scalars(
            select(Job.id).where(
                Job.state == "planning",
                (Job.heartbeat_at.is_(None)) | (Job.heartbeat_at <= limit),
            )
        ).all()
    requeued = []
    for job_id in stale:
        if worker_lost(runtime, job_id, None, "no news from its worker", reason) == "queued":
            requeued.append(job_id)
    return requeued


def offer_queued(runtime: Runtime, older_than_s: float = 0.0) -> list[int]:
    """Queue again the plan message of queued jobs (waiting longer than ``older_than_s``),
    in case it was lost; a claim makes the duplicates harmless."""
    limit = utcnow() - timedelta(seconds=older_than_s)
    with runtime.db.session() as s:
        queued = s.scalars(
            select(Job.id).where(Job.state == "queued", Job.updated_at <= limit).order_by(Job.id)
        ).all()
    for job_id in queued:
        runtime.enqueue_plan(job_id)
    return list(queued)


def requeue_unfinished(runtime: Runtime, stale_after_s: float) -> list[int]:
    """At start: stale 'planning' jobs back to the queue, and every queued job offered
    to the queue again. Returns the ids offered."""
    requeued = requeue_stale_planning(
        runtime, stale_after_s, reason="restart: planning interrupted"
    )
    return sorted({*requeued, *offer_queued(runtime)})


def sweep(runtime: Runtime) -> None:
    """Periodic, in every consumer: what a dead worker or a lost message left behind."""
    stale = runtime.settings.stale_planning_s
    requeue_stale_planning(runtime, stale)
    offer_queued(runtime, older_than_s=stale)
