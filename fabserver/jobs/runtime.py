"""Everything a process needs to run jobs, built once and passed explicitly.

The web app and ``fabserver worker`` each build one :class:`Runtime`; the Huey
tasks are closures over it, registered under fixed names so that a consumer on
another host runs the same code for the same message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from ..profiles import ProfileSet, load_profiles
from ..registry import Registry, load_registry
from ..store import Database, FileStore, open_database
from .settings import Settings

log = logging.getLogger("fabserver.jobs")

QUEUE_NAME = "fabserver"


def make_huey(settings: Settings, name: str = QUEUE_NAME) -> Huey:
    if settings.immediate:
        return MemoryHuey(name, immediate=True)
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.data_dir / "queue.sqlite3"))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    files: FileStore
    profiles: ProfileSet
    registry: Registry
    huey: Huey
    tasks: dict[str, Any] = field(default_factory=dict)
    #: one dispatch queue per site when the lab has several (fabserver.jobs.sites)
    site_hueys: dict[str, Huey] = field(default_factory=dict)

    def enqueue_plan(self, job_id: int) -> None:
        self.tasks["plan"](job_id)

    def enqueue_dispatch(self, job_id: int) -> None:
        from .sites import dispatch_task_for

        dispatch_task_for(self, job_id)(job_id)

    def enqueue_mail(self, job_id: int, event: str, note: str = "") -> None:
        """An e-mail to the job's maker, sent by the queue (see fabserver.lab.mail)."""
        self.tasks["mail"](job_id, event, note, self.settings.public_url)

    def close(self) -> None:
        self.db.dispose()


def build_runtime(settings: Settings, registry: Registry | None = None) -> Runtime:
    """Open the store (migrating it), load profiles and plugins, declare the tasks."""
    from ..lab import mail
    from . import sites, tasks

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(
        settings=settings,
        db=open_database(settings.db_url),
        files=FileStore(settings.data_dir / "files"),
        profiles=load_profiles(settings.profile_dir),
        registry=registry if registry is not None else load_registry(),
        huey=make_huey(settings),
    )
    tasks.declare(runtime)
    mail.declare(runtime)
    sites.declare_site_queues(runtime)
    sites.place_unplaced(runtime)
    return runtime


def start_consumer(runtime: Runtime, workers: int | None = None):
    """A Huey consumer on threads, started in the background; call ``.stop()`` to end it.

    It also takes the dispatch tasks of the sites ``FABSERVER_DISPATCH_SITES`` names
    (all by default), when the lab has several."""
    from .sites import SiteConsumers, dispatch_hueys

    consumer = runtime.huey.create_consumer(
        workers=workers or runtime.settings.workers,
        worker_type="thread",
        periodic=True,  # the sweep: jobs left behind by a dead worker or a lost message
        max_delay=1.0,  # an idle SQLite queue is polled at least every second
    )
    consumer.start()
    sites = dispatch_hueys(runtime, runtime.settings.dispatch_site_list)
    return SiteConsumers.start(consumer, sites) if sites else consumer
