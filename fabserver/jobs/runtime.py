"""Everything a process needs to run jobs, built once and passed explicitly.

The web app and ``fabserver worker`` each build one :class:`Runtime`; the Huey
tasks are closures over it, registered under fixed names so that a consumer on
another host runs the same code for the same message.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from huey import Huey, MemoryHuey, PriorityRedisHuey, SqliteHuey

from ..designs.bounded import preload
from ..profiles import ProfileSet, load_profiles
from ..registry import Registry, check_profiles, load_registry
from ..store import Database, FileStore, open_database
from .settings import Settings

log = logging.getLogger("fabserver.jobs")

QUEUE_NAME = "fabserver"


def make_huey(settings: Settings, name: str = QUEUE_NAME) -> Huey:
    if settings.immediate:
        return MemoryHuey(name, immediate=True)
    if settings.redis_url:
        # The priority variant (a sorted set): light plans first, as on SQLite.
        return PriorityRedisHuey(name, url=settings.redis_url)
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
    # Uploads parsed at once in this process (each parse is a child process).
    parse_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(1)
    )
    #: one dispatch queue per site when the lab has several (fabserver.jobs.sites)
    site_hueys: dict[str, Huey] = field(default_factory=dict)

    def enqueue_plan(self, job_id: int, delay: float | None = None) -> None:
        """Queue the job's plan message, lighter jobs first (see :mod:`.fairness`)."""
        from .fairness import plan_priority

        task = self.tasks["plan"]
        priority = plan_priority(self, job_id)
        self.huey.enqueue(task.s(job_id, priority=priority, delay=delay))

    def enqueue_dispatch(self, job_id: int) -> None:
        from .sites import dispatch_task_for

        dispatch_task_for(self, job_id)(job_id)

    def enqueue_mail(self, job_id: int, event: str, note: str = "") -> None:
        """An e-mail to the job's maker, sent by the queue (see fabserver.lab.mail)."""
        self.tasks["mail"](job_id, event, note, self.settings.public_url)

    def close(self) -> None:
        self.db.dispose()


def build_runtime(settings: Settings, registry: Registry | None = None) -> Runtime:
    """Load profiles and plugins and check them together, open the store (migrating it),
    declare the tasks."""
    from ..lab import mail
    from . import quotes, sites, tasks

    profiles = load_profiles(settings.profile_dir)
    registry = registry if registry is not None else load_registry()
    check_profiles(registry, profiles)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(
        settings=settings,
        db=open_database(settings.db_url),
        files=FileStore(settings.data_dir / "files"),
        profiles=profiles,
        registry=registry,
        huey=make_huey(settings),
        parse_slots=threading.BoundedSemaphore(settings.parse_slots),
    )
    tasks.declare(runtime)
    mail.declare(runtime)
    sites.declare_site_queues(runtime)
    sites.place_unplaced(runtime)
    quotes.declare(runtime)
    # Planning processes fork from a server that has the plugins imported already.
    preload(sorted({type(plugin).__module__ for plugin in runtime.registry.plugins.values()}))
    return runtime


def start_consumer(runtime: Runtime, workers: int | None = None):
    """A Huey consumer, started in the background; call ``.stop()`` to end it.

    Its threads only claim jobs and supervise them: each plan runs in its own
    bounded planning process (:mod:`.planner`), never in this one. It also takes the
    dispatch tasks of the sites ``FABSERVER_DISPATCH_SITES`` names (all by default),
    when the lab has several.
    """
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
