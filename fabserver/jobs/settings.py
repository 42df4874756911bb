"""Server settings, from arguments first and environment variables second.

Environment variables (all optional):

``FABSERVER_DATA``            data directory (database, files, queue); default ``./data``
``FABSERVER_PROFILES``        profile directory; default the lab's ``profiles/``
``FABSERVER_DATABASE_URL``    SQLAlchemy URL, e.g. ``postgresql+psycopg://fab@db/fab``;
                              default SQLite in the data directory
``FABSERVER_REDIS_URL``       ``redis://host:6379/0``: queue on Redis (several hosts);
                              default Huey on SQLite in the data directory
``FABSERVER_WORKERS``         planning processes run at once by ``serve`` or by one
                              ``worker``; default 2
``FABSERVER_MAX_PARSES``      uploads parsed at once; default the number of cores (others
                              wait ``parse_wait_s``, then get "busy, try again")
``FABSERVER_MAX_UPLOAD_MB``   upload size limit; default 100
``FABSERVER_SECRET_KEY``      session signing key; default a random key kept in the data dir
``FABSERVER_BEHIND_PROXY``     ``1`` behind an HTTPS reverse proxy: trust its X-Forwarded-*
                              headers (one hop) and send cookies over HTTPS only
``FABSERVER_STALE_PLANNING_S`` a job "planning" without news for this long is planned again
                              by a starting ``worker``; default 600 (``serve`` on SQLite,
                              the only consumer, re-plans them all at start)
``FABSERVER_STAFF_SESSION_HOURS`` a staff login lasts this long; default 12
``FABSERVER_UPLOAD_RETENTION_DAYS`` uploads that never became a job are removed after
                              this many days; default 2
``FABSERVER_JOB_FILES_RETENTION_DAYS`` files of finished jobs (done, rejected, cancelled)
                              are removed this many days after; rows and audit stay; default 90
``FABSERVER_PUBLIC_URL``      the address makers reach the server at, for the job link in
                              e-mails; default the address of the first page served
``FABSERVER_SMTP_URL``        ``smtp://host:port`` or ``smtps://user:pass@host:port``; without
                              it e-mails are written to ``outbox/`` in the data directory
``FABSERVER_MAIL_FROM``       the e-mails' sender address
``FABSERVER_DISPATCH_SITES``  the sites whose machines ``serve`` sends files to, when the lab
                              has several: ``all`` (default), ``none`` (a ``worker --site``
                              at each site does it) or site ids separated by commas
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..store.db import sqlite_url


@dataclass
class Settings:
    data_dir: Path
    profile_dir: Path | None = None
    database_url: str | None = None
    redis_url: str | None = None
    workers: int = 2
    max_upload_mb: float = 100.0
    secret_key: str | None = None
    stale_planning_s: float = 600.0
    load_timeout_s: float = 60.0
    load_memory_mb: int = 2048
    max_parses: int = 0  # 0: as many as cores
    parse_wait_s: float = 15.0
    dispatch_retries: int = 5
    dispatch_retry_delay_s: float = 5.0
    behind_proxy: bool = False
    staff_session_hours: float = 12.0
    login_window_s: float = 900.0  # failed staff logins are counted over this window
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    upload_retention_days: float = 2.0
    job_files_retention_days: float = 90.0
    public_url: str | None = None
    mail_retries: int = 8
    mail_retry_delay_s: float = 30.0
    immediate: bool = False  # run tasks at once, in the caller (tests)
    dispatch_sites: str = "all"  # FABSERVER_DISPATCH_SITES (fabserver.jobs.sites)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.profile_dir is not None:
            self.profile_dir = Path(self.profile_dir)

    @classmethod
    def from_env(cls, data_dir: Path | str | None = None, **overrides) -> Settings:
        env = os.environ
        values = {
            "data_dir": Path(data_dir or env.get("FABSERVER_DATA") or "data"),
            "profile_dir": env.get("FABSERVER_PROFILES") or None,
            "database_url": env.get("FABSERVER_DATABASE_URL") or None,
            "redis_url": env.get("FABSERVER_REDIS_URL") or None,
            "secret_key": env.get("FABSERVER_SECRET_KEY") or None,
            "public_url": env.get("FABSERVER_PUBLIC_URL") or None,
            "dispatch_sites": env.get("FABSERVER_DISPATCH_SITES") or "all",
        }
        for key, name, kind in (
            ("workers", "FABSERVER_WORKERS", int),
            ("max_parses", "FABSERVER_MAX_PARSES", int),
            ("max_upload_mb", "FABSERVER_MAX_UPLOAD_MB", float),
            ("stale_planning_s", "FABSERVER_STALE_PLANNING_S", float),
            ("staff_session_hours", "FABSERVER_STAFF_SESSION_HOURS", float),
            ("upload_retention_days", "FABSERVER_UPLOAD_RETENTION_DAYS", float),
            ("job_files_retention_days", "FABSERVER_JOB_FILES_RETENTION_DAYS", float),
        ):
            if env.get(name):
                values[key] = kind(env[name])
        if env.get("FABSERVER_BEHIND_PROXY"):
            values["behind_proxy"] = env["FABSERVER_BEHIND_PROXY"].lower() in ("1", "true", "yes")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def parse_slots(self) -> int:
        return self.max_parses if self.max_parses > 0 else (os.cpu_count() or 1)

    @property
    def dispatch_site_list(self) -> list[str] | None:
        """The sites this process dispatches for; None for all."""
        return parse_dispatch_sites(self.dispatch_sites)

    @property
    def db_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    def session_secret(self) -> str:
        """The configured key, or one generated once and kept (0600) in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip()


def parse_dispatch_sites(value: str | None) -> list[str] | None:
    """``FABSERVER_DISPATCH_SITES``: ``all`` (None), ``none`` ([]) or ids separated by commas."""
    text = (value or "all").strip().lower()
    if text == "all":
        return None
    if text in ("none", ""):
        return []
    return [part.strip() for part in text.split(",") if part.strip()]
