"""What a process needs to run jobs, built once and passed explicitly.

The web app and ``fabserver worker`` each get one :class:`Runtime` from
:func:`fabserver.jobs.runtime.build_runtime`, which composes it (store, profiles,
plugins, the queue and the tasks on it). The modules that act on jobs take it as
their first argument; this module imports none of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from huey import Huey

from ..profiles import ProfileSet
from ..registry import Registry
from ..store import Database, FileStore
from .queue import JobQueue
from .settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    files: FileStore
    profiles: ProfileSet
    registry: Registry
    queue: JobQueue
    # Uploads parsed at once in this process (each parse is a child process).
    parse_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(1)
    )

    @property
    def huey(self) -> Huey:
        """The shared queue (planning, mail, quotes, sweeps)."""
        return self.queue.huey

    @property
    def site_hueys(self) -> dict[str, Huey]:
        """One dispatch queue per site when the lab has several (:mod:`.sites`)."""
        return self.queue.site_hueys

    def enqueue_plan(self, job_id: int, delay: float | None = None) -> None:
        self.queue.plan(job_id, delay)

    def enqueue_dispatch(self, job_id: int) -> None:
        self.queue.dispatch(job_id)

    def enqueue_mail(self, job_id: int, event: str, note: str = "") -> None:
        """An e-mail to the job's maker, sent by the queue (see fabserver.lab.mail)."""
        self.queue.mail(job_id, event, note, self.settings.public_url)

    def close(self) -> None:
        self.db.dispose()
