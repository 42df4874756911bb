"""A fair queue: light plans first, and no maker holding every planning process.

Two rules, both cheap:

- the plan message's Huey priority falls with the work a job announces (the
  file's size, the copies) and with the number of the same maker's jobs already
  waiting or planning, so a maker's tenth job waits behind another's first;
- a consumer does not claim a job while the same maker already has
  :func:`per_maker_limit` jobs planning; the message comes back a moment later.
"""

from __future__ import annotations

import logging
import math

from sqlalchemy import func, select

from ..store.models import Design as DesignRow
from ..store.models import Job, Upload
from .context import Runtime

log = logging.getLogger("fabserver.jobs")

DEFER_S = 2.0  # a deferred plan message is offered again after this
TOP_PRIORITY = 100


def _same_maker(job: Job):
    """SQL condition: jobs of the same maker (e-mail, else phone, else name)."""
    if job.maker_email:
        return func.lower(Job.maker_email) == job.maker_email.lower()
    if job.maker_phone:
        return Job.maker_phone == job.maker_phone
    return Job.maker_name == job.maker_name


def per_maker_limit(runtime: Runtime) -> int:
    """Planning processes one maker may hold at once in this consumer: half of them."""
    return max(1, runtime.settings.workers // 2)


def plan_priority(runtime: Runtime, job_id: int) -> int:
    """Higher first: a small file, few copies, and a maker with nothing else waiting."""
    with runtime.db.session() as s:
        row = s.execute(
            select(Job, Upload.size)
            .join(DesignRow, DesignRow.id == Job.design_id)
            .join(Upload, Upload.id == DesignRow.upload_id)
            .where(Job.id == job_id)
        ).first()
        if row is None:
            return 0
        job, size = row
        others = s.scalar(
            select(func.count(Job.id)).where(
                Job.id != job_id,
                Job.state.in_(("queued", "planning")),
                _same_maker(job),
            )
        )
    weight = math.log2(max(size or 0, 1024) / 1024) + math.log2(max(job.copies, 1))
    return max(0, TOP_PRIORITY - round(2 * weight) - 10 * int(others or 0))


def may_claim(runtime: Runtime, job_id: int) -> bool:
    """False while the job's maker already holds their share of the planning processes."""
    if runtime.settings.immediate:  # tasks run one at a time in the caller
        return True
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None or job.state != "queued":
            return True  # the claim itself will say no
        planning = s.scalar(
            select(func.count(Job.id)).where(
                Job.id != job_id,
                Job.state == "planning",
                _same_maker(job),
            )
        )
    return int(planning or 0) < per_maker_limit(runtime)


def defer(runtime: Runtime, job_id: int) -> None:
    """Offer the plan message again in a moment, behind the others."""
    log.info("plan of job %s deferred: its maker holds their share of planning", job_id)
    runtime.enqueue_plan(job_id, delay=DEFER_S)
