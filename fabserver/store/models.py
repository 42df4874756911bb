"""Database models (SQLAlchemy 2, typed mappings).

A job keeps resolved SNAPSHOTS of its machine and material profiles, so it can
be re-planned identically after the profile files change. Files (uploads,
machine files, previews) live in the :class:`~fabserver.store.files.FileStore`
and are referenced here by their sha256; a maker's file name is only ever shown,
never used as a path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JOB_STATES = (
    "queued",
    "planning",
    "review",
    "approved",
    "dispatched",
    "done",
    "failed",
    "rejected",
    "cancelled",
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Upload(Base):
    """A file as received: its bytes are in the file store under ``sha256``."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Design(Base):
    """What the loader found in an upload (kind, format, size, repairs, warnings)."""

    __tablename__ = "designs"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "mesh" | "drawing" | "gcode"
    format: Mapped[str] = mapped_column(String(32))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    upload: Mapped[Upload] = relationship(lazy="joined")


class Job(Base):
    """One maker's request: a design on a machine, in a material, for some copies."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the maker's link
    design_id: Mapped[int] = mapped_column(ForeignKey("designs.id"), index=True)
    plugin: Mapped[str] = mapped_column(String(64))
    machine_id: Mapped[str] = mapped_column(String(64))
    # the site the machine stands at (staff of that site see the job; its worker dispatches)
    site: Mapped[str] = mapped_column(String(64), default="", index=True)
    machine_snapshot: Mapped[dict[str, Any]]
    material_id: Mapped[str] = mapped_column(String(64))
    material_snapshot: Mapped[dict[str, Any]]
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    copies: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    plan_version: Mapped[int] = mapped_column(default=0)
    # planning progress, refreshed by the worker (also its heartbeat)
    progress: Mapped[float] = mapped_column(default=0.0)
    stage: Mapped[str] = mapped_column(String(64), default="")
    heartbeat_at: Mapped[datetime | None]
    # results
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict_override: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plan_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # Text, for the maker
    error_detail: Mapped[str | None] = mapped_column(Text)  # trace, for staff
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # the maker (no account: reached through the token link)
    maker_name: Mapped[str] = mapped_column(String(200))
    maker_email: Mapped[str] = mapped_column(String(200), default="")
    maker_phone: Mapped[str] = mapped_column(String(50), default="")
    maker_locale: Mapped[str] = mapped_column(String(5), default="fr")
    # the contact normalised (see fabserver.lab.history), to find a maker's other jobs
    contact_email: Mapped[str] = mapped_column(String(200), default="", index=True)
    contact_phone: Mapped[str] = mapped_column(String(50), default="", index=True)
    consent_at: Mapped[datetime]
    # dispatch: one idempotency key per job; a claim stops a second send
    dispatch_key: Mapped[str] = mapped_column(String(64))
    dispatch_claimed_at: Mapped[datetime | None]
    dispatch_attempts: Mapped[int] = mapped_column(default=0)
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the offcut the plan was placed on (fabserver.stock.Placement.to_dict()), if any
    stock: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # what really happened: read from the machine's host after the print ("moonraker",
    # "octoprint") or typed by the staff at "done" ("staff")
    actual_time_s: Mapped[float | None]
    actual_material: Mapped[float | None]
    actual_material_unit: Mapped[str | None] = mapped_column(String(16))
    actual_source: Mapped[str | None] = mapped_column(String(16))
    # set when retention removed the job's files (its rows and audit stay)
    files_removed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    design: Mapped[Design] = relationship(lazy="joined")
    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="job", order_by="Artifact.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[AuditEvent]] = relationship(
        back_populates="job", order_by="AuditEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_jobs_machine_state", "machine_id", "state"),)

    @property
    def effective_verdict(self) -> dict[str, Any] | None:
        """The verdict that binds: staff's override (a whole verdict, keeping the computed
        reasons) when there is one."""
        return self.verdict_override or self.verdict


class Artifact(Base):
    """A file a plan produced: machine file(s), preview SVG, per-layer JSON."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    plan_version: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))  # "machine", "extra", "preview", "layers"
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))  # generated, ASCII: job-12.gcode
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[Job] = relationship(back_populates="artifacts")


class AuditEvent(Base):
    """Who did what to a job, when, and why; every change of state is one row."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # "maker", "staff:ana", "worker", "system"
    action: Mapped[str] = mapped_column(String(32))  # "transition", "override", "dispatch-attempt"…
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[Job] = relationship(back_populates="events")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # the sites whose jobs, queue and stock this account works on; all of them for
    # the network's administrators
    all_sites: Mapped[bool] = mapped_column(default=True)
    sites: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def works_at(self, site: str) -> bool:
        return self.all_sites or site in (self.sites or [])

    # Flask-Login's user protocol, kept here so the web layer needs no wrapper
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """A staff member's API token; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship(lazy="joined")


class CorrectionReset(Base):
    """Staff restarted the learnt time correction of a machine × material: the jobs
    finished before ``at`` no longer count (``fabserver.jobs.learning``)."""

    __tablename__ = "correction_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(String(64))
    material_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))


class StaffSession(Base):
    """A staff login, server-side: the cookie holds only a random id, whose sha256 is the key.

    Logout and a password change delete the rows, so a copied cookie stops working
    at once; a copy of the database gives away no usable session.
    """

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    address: Mapped[str] = mapped_column(String(64), default="")


class LoginAttempt(Base):
    """A failed staff login, counted per account and per address for rate limiting.

    Flask-Limiter has no SQL storage, and the lab's processes share the database
    (SQLite file or PostgreSQL) in every deployment, Redis only at scale: a small
    table of recent failures holds the count across processes everywhere.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)


class StockPiece(Base):
    """Pieces of a sheet material kept in the lab: offcuts, remnants, whole sheets.

    A rectangle (``width_mm`` × ``height_mm``) or an odd outline (``outline_mm``,
    a polygon as ``[[x, y], …]``); ``count`` identical pieces; ``note`` says where
    they are stored ("étagère B").
    """

    __tablename__ = "stock_pieces"

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[str] = mapped_column(String(64), index=True)
    # the site whose shelves hold it; only that site's jobs are planned on it
    site: Mapped[str] = mapped_column(String(64), default="", index=True)
    width_mm: Mapped[float | None]
    height_mm: Mapped[float | None]
    outline_mm: Mapped[list[Any] | None] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(String(200), default="")
    source_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Quote(Base):
    """A design uploaded before any machine is chosen, and what every machine answers.

    ``token`` is the quote's unguessable address (no account: whoever holds the link
    steers it); ``colours`` is the maker's colour table, with each drawing machine's
    operation; ``extras`` holds what the page needs beside (the 3D model's or the
    drawing's file, the proposals made to each machine).
    """

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("designs.id"), index=True)
    colours: Mapped[list[Any]] = mapped_column(default=list)
    extras: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    design: Mapped[Design] = relationship(lazy="joined")
    plans: Mapped[list[QuotePlan]] = relationship(
        back_populates="quote", order_by="QuotePlan.id", cascade="all, delete-orphan"
    )


class QuotePlan(Base):
    """One machine's draft for a quote: the maker's choices and, once planned, the answer.

    States: ``queued`` → ``planning`` → ``done`` or ``failed``; a change by the maker
    bumps ``version`` and queues it again (a planning process of an older version
    is stopped and its results dropped). ``files`` lists the plan's files in the
    file store, so a submitted job keeps exactly this plan.
    """

    __tablename__ = "quote_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    machine_id: Mapped[str] = mapped_column(String(64))
    plugin: Mapped[str] = mapped_column(String(64))
    machine_snapshot: Mapped[dict[str, Any]]
    material_id: Mapped[str] = mapped_column(String(64))
    material_snapshot: Mapped[dict[str, Any]]
    copies: Mapped[int] = mapped_column(default=1)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    operations: Mapped[dict[str, Any]] = mapped_column(default=dict)  # colour key → operation
    notices: Mapped[list[Any]] = mapped_column(default=list)  # what the server chose, and why
    state: Mapped[str] = mapped_column(String(16), default="queued")
    version: Mapped[int] = mapped_column(default=1)
    attempts: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(default=0.0)
    heartbeat_at: Mapped[datetime | None]
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plan_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    found: Mapped[list[Any] | None] = mapped_column(JSON)  # the plan's colour rows
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    stock: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    files: Mapped[list[Any]] = mapped_column(default=list)
    error_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    quote: Mapped[Quote] = relationship(back_populates="plans")
