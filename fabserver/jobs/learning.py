"""The finished jobs a machine × material's time correction learns from, and its reset.

The computation is :mod:`fabserver.learning`; here are only the queries: jobs
marked done with a recorded real time, finished after the last reset, with the
raw estimate they were planned with (not the corrected one, so a correction never
feeds on itself).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..learning import MAX_JOBS, Correction, Sample, learn
from ..store.models import AuditEvent, CorrectionReset, Job, utcnow


def last_reset(session: Session, machine_id: str, material_id: str) -> datetime | None:
    return session.scalar(
        select(func.max(CorrectionReset.at)).where(
            CorrectionReset.machine_id == machine_id, CorrectionReset.material_id == material_id
        )
    )


def finished_samples(session: Session, machine_id: str, material_id: str) -> list[Sample]:
    """The latest finished jobs of ``machine_id`` in ``material_id`` since the last reset."""
    done_at = (
        select(AuditEvent.job_id, func.max(AuditEvent.at).label("at"))
        .where(AuditEvent.to_state == "done")
        .group_by(AuditEvent.job_id)
        .subquery()
    )
    query = (
        select(Job.estimate, Job.actual_time_s, done_at.c.at)
        .join(done_at, done_at.c.job_id == Job.id)
        .where(
            Job.state == "done",
            Job.machine_id == machine_id,
            Job.material_id == material_id,
            Job.actual_time_s.is_not(None),
        )
        .order_by(done_at.c.at.desc())
        .limit(MAX_JOBS)
    )
    since = last_reset(session, machine_id, material_id)
    if since is not None:
        query = query.where(done_at.c.at > since)
    samples = []
    for estimate, actual, at in session.execute(query):
        estimate = estimate or {}
        raw = estimate.get("raw_machine_time_s") or estimate.get("machine_time_s")
        if raw:
            samples.append(Sample(float(raw), float(actual), at))
    return samples


def correction_for(
    session: Session, machine_id: str, material_id: str, now: datetime | None = None
) -> Correction | None:
    """What the lab's finished jobs say about this machine × material (``None``: too few)."""
    samples = finished_samples(session, machine_id, material_id)
    return learn(samples, now or utcnow())


def reset_correction(session: Session, machine_id: str, material_id: str, actor: str) -> None:
    """Start learning afresh (after a repair, new firmware settings…)."""
    session.add(CorrectionReset(machine_id=machine_id, material_id=material_id, actor=actor))


def corrections_by_machine(
    session: Session, pairs: set[tuple[str, str]]
) -> dict[str, list[tuple[str, Correction | None]]]:
    """For the staff's machine page: each machine's materials and their corrections."""
    out: dict[str, list[tuple[str, Correction | None]]] = {}
    for machine_id, material_id in sorted(pairs):
        out.setdefault(machine_id, []).append(
            (material_id, correction_for(session, machine_id, material_id))
        )
    return out
