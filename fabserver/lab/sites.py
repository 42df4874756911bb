"""How much work waits at each site and on each machine, for makers choosing where to go."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Job

#: States of a job still ahead of the machine.
WAITING = ("queued", "planning", "review", "approved", "dispatched")


def machine_queues(session: Session) -> dict[str, dict[str, Any]]:
    """``{machine id: {jobs, machine_time_s}}`` over the jobs still waiting."""
    rows = session.execute(
        select(Job.machine_id, Job.site, Job.estimate).where(Job.state.in_(WAITING))
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for machine_id, site, estimate in rows:
        queue = out.setdefault(machine_id, {"site": site, "jobs": 0, "machine_time_s": 0.0})
        queue["jobs"] += 1
        queue["machine_time_s"] += float((estimate or {}).get("machine_time_s") or 0.0)
    return out


def site_queues(session: Session) -> dict[str, dict[str, Any]]:
    """``{site id: {jobs, machine_time_s}}`` over the jobs still waiting."""
    out: dict[str, dict[str, Any]] = {}
    for queue in machine_queues(session).values():
        site = out.setdefault(queue["site"], {"jobs": 0, "machine_time_s": 0.0})
        site["jobs"] += queue["jobs"]
        site["machine_time_s"] = round(site["machine_time_s"] + queue["machine_time_s"], 1)
    return out
