"""The job state machine: the one place where a job's state changes.

Every change is a compare-and-set ``UPDATE … WHERE state = :from`` followed by
an audit row in the same transaction, so two workers (or a worker and a staff
member) racing on one job cannot both win, and the history is never missing a
step.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import FabError
from ..i18n import Text
from ..store.models import AuditEvent, Job, utcnow

TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"planning", "cancelled"}),
    "planning": frozenset({"review", "failed", "queued", "cancelled"}),
    "review": frozenset({"approved", "rejected", "queued", "cancelled"}),
    "approved": frozenset({"dispatched", "queued", "cancelled"}),
    "dispatched": frozenset({"done", "failed", "cancelled"}),
    "failed": frozenset({"queued", "cancelled"}),
    "rejected": frozenset(),
    "done": frozenset(),
    "cancelled": frozenset(),
}
FINAL_STATES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
ACTIVE_STATES = ("queued", "planning", "review", "approved", "dispatched")

STATE_LABELS: dict[str, Text] = {
    "queued": Text("En file d'attente", "Queued"),
    "planning": Text("Calcul en cours", "Planning"),
    "review": Text("En attente de validation", "Waiting for review"),
    "approved": Text("Validé", "Approved"),
    "dispatched": Text("Envoyé à la machine", "Sent to the machine"),
    "done": Text("Terminé", "Done"),
    "failed": Text("Échec", "Failed"),
    "rejected": Text("Refusé", "Rejected"),
    "cancelled": Text("Annulé", "Cancelled"),
}


class InvalidTransition(FabError):
    """The job is not in a state that allows this change."""

    def __init__(self, job_id: int, current: str | None, target: str):
        label = STATE_LABELS.get(current or "", Text(str(current), str(current)))
        super().__init__(
            Text(
                f"Impossible : la demande n° {job_id} est « {label.fr} ».",
                f"Not possible: job {job_id} is '{label.en}'.",
            ),
            detail=f"job {job_id}: {current} -> {target} not allowed",
        )
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def transition(
    session: Session,
    job_id: int,
    target: str,
    *,
    actor: str,
    reason: str = "",
    expected: tuple[str, ...] | None = None,
    if_plan_version: int | None = None,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> str:
    """Move job ``job_id`` to ``target``, setting ``fields`` too; return the previous state.

    ``expected`` restricts the states accepted as a start (e.g. a worker only
    claims ``queued`` jobs); ``if_plan_version`` makes a worker's change apply only
    to the planning run it claimed, not to a later one. Raises
    :class:`InvalidTransition` when the job is elsewhere, including when another
    process changed it first.
    """
    current = session.scalar(select(Job.state).where(Job.id == job_id))
    if current is None:
        raise LookupError(f"no job {job_id}")
    if (expected is not None and current not in expected) or not can_transition(current, target):
        raise InvalidTransition(job_id, current, target)
    conditions = [Job.id == job_id, Job.state == current]
    if if_plan_version is not None:
        conditions.append(Job.plan_version == if_plan_version)
    result = session.execute(
        update(Job)
        .where(*conditions)
        .values(state=target, updated_at=utcnow(), **fields)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        now = session.scalar(select(Job.state).where(Job.id == job_id))
        raise InvalidTransition(job_id, now, target)
    _audit(session, job_id, "transition", current, target, actor=actor, reason=reason, data=data)
    return current


def record(
    session: Session,
    job_id: int,
    action: str,
    *,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """An audit row that is not a change of state (override, dispatch attempt, note)."""
    state = session.scalar(select(Job.state).where(Job.id == job_id))
    _audit(session, job_id, action, state, state, actor=actor, reason=reason, data=data)


def _audit(
    session: Session,
    job_id: int,
    action: str,
    from_state: str | None,
    to_state: str | None,
    **entry: Any,
) -> None:
    """Add a row to the job's audit trail; ``entry`` holds its actor, reason and data."""
    session.add(
        AuditEvent(job_id=job_id, action=action, from_state=from_state, to_state=to_state, **entry)
    )


def end_planning(
    session: Session,
    job_id: int,
    version: int | None,
    target: str,
    *,
    actor: str,
    **fields: Any,
) -> str:
    """End the planning run ``version`` claimed (any run when None) in ``target``; a job
    that has moved on meanwhile raises :class:`InvalidTransition`."""
    return transition(
        session,
        job_id,
        target,
        actor=actor,
        expected=("planning",),
        if_plan_version=version,
        **fields,
    )


def fail_planning(
    session: Session, job_id: int, version: int | None, message: Text, detail: str, actor: str
) -> str:
    """The planning run ends ``failed``: ``message`` for the maker, ``detail`` for staff."""
    return end_planning(
        session,
        job_id,
        version,
        "failed",
        actor=actor,
        reason=message.en,
        error_message=message.to_dict(),
        error_detail=detail,
        stage="failed",
    )
