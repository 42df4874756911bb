"""A maker's history: jobs grouped by the maker's contact, normalised.

Makers have no account: the same person is recognised by the e-mail address
(lower-cased) or the phone number (digits only, French ``0…`` and ``+33 …``
forms made equal) they leave with each job.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..store.models import Job

_NOT_DIGITS = re.compile(r"\D")
# Jobs that never became work for the lab do not count against a maker's prototypes.
_NOT_COUNTED = ("rejected", "cancelled", "failed")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    """``06 12 34 56 78``, ``+33 6 12 34 56 78`` and ``0033612345678`` all give
    ``+33612345678``; other international numbers keep their country code."""
    raw = phone.strip()
    digits = _NOT_DIGITS.sub("", raw)
    if not digits:
        return ""
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0") and len(digits) == 10:
        return "+33" + digits[1:]
    return digits


def contact_keys(email: str, phone: str) -> dict[str, str]:
    """The columns that group a maker's jobs."""
    return {"contact_email": normalise_email(email), "contact_phone": normalise_phone(phone)}


def _same_maker(job: Job):
    conditions = []
    if job.contact_email:
        conditions.append(Job.contact_email == job.contact_email)
    if job.contact_phone:
        conditions.append(Job.contact_phone == job.contact_phone)
    return or_(*conditions) if conditions else None


def earlier_jobs(session: Session, job: Job, limit: int = 50) -> list[Job]:
    """The maker's other jobs created before this one, newest first."""
    same = _same_maker(job)
    if same is None:
        return []
    return list(
        session.scalars(
            select(Job).where(same, Job.id < job.id).order_by(Job.id.desc()).limit(limit)
        ).unique()
    )


def earlier_prototypes(session: Session, job: Job, window_days: int, now: datetime) -> int:
    """Free prototypes the maker asked for in the ``window_days`` before ``now``,
    before this job: what the per-maker limit counts."""
    same = _same_maker(job)
    if same is None:
        return 0
    since = now - timedelta(days=window_days)
    candidates = session.scalars(
        select(Job).where(
            same,
            Job.id < job.id,
            Job.created_at >= since,
            Job.state.not_in(_NOT_COUNTED),
        )
    ).unique()
    return sum(1 for j in candidates if (j.effective_verdict or {}).get("kind") == "prototype")
