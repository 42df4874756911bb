"""What planning needs from the lab's records, read before a plan starts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..profiles import Policy
from ..store.models import Job, utcnow
from . import history, stockroom


def planning_context(session: Session, job: Job, policy: Policy) -> dict[str, Any]:
    """The offcuts the job may go on and the maker's recent free prototypes, as plain
    data for :func:`fabserver.planning.run_plan` (``offcuts``, ``earlier_prototypes``)."""
    earlier = None
    if policy.max_prototypes_per_maker is not None:
        earlier = history.earlier_prototypes(session, job, policy.window_days, utcnow())
    return {
        "offcuts": stockroom.available(
            session, job.material_id, exclude_job=job.id, site=job.site or None
        ),
        "earlier_prototypes": earlier,
    }
