"""Building the :class:`~.context.Runtime` of a process: the one place that composes
the store, the profiles and plugins, the queue and what its tasks do.

The web app and ``fabserver worker`` each build one; the modules that act on jobs
take it as an argument and never import this one, so the jobs package has no
import circle (``tests/test_import_graph.py``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..designs.bounded import preload
from ..lab import mail
from ..profiles import load_profiles
from ..registry import Registry, check_profiles, load_registry
from ..store import FileStore, open_database
from . import fairness, follow, quotes, recovery, retention, sites, tasks
from .context import Runtime
from .queue import QUEUE_NAME, JobQueue, QueueWork, make_huey
from .settings import Settings

__all__ = ["QUEUE_NAME", "Runtime", "build_runtime", "make_huey", "start_consumer"]

log = logging.getLogger("fabserver.jobs")


def build_runtime(settings: Settings, registry: Registry | None = None) -> Runtime:
    """Load profiles and plugins and check them together, open the store (migrating it),
    declare the queue's tasks."""
    profiles = load_profiles(settings.profile_dir)
    registry = registry if registry is not None else load_registry()
    check_profiles(registry, profiles)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    # The tasks run once the runtime below exists: each closes over it.
    work = QueueWork(
        plan=lambda job_id: tasks.plan_job(runtime, job_id),
        dispatch=lambda job_id, retries_left: tasks.dispatch_job(runtime, job_id, retries_left),
        follow=lambda job_id: follow.follow_job(runtime, job_id),
        mail=lambda job_id, event, note, base_url: mail.send_queued(
            runtime, job_id, event, note, base_url
        ),
        quote=lambda plan_id, version: quotes.plan_draft(runtime, plan_id, version),
        sweep=lambda: recovery.sweep(runtime),
        sweep_quotes=lambda: quotes.sweep(runtime),
        collect_garbage=lambda: retention.collect_garbage(runtime),
        plan_priority=lambda job_id: fairness.plan_priority(runtime, job_id),
        job_site=lambda job_id: sites.job_site(runtime, job_id),
    )
    runtime = Runtime(
        settings=settings,
        db=open_database(settings.db_url),
        files=FileStore(settings.data_dir / "files"),
        profiles=profiles,
        registry=registry,
        queue=JobQueue(settings, work, sites=sites.queued_sites(profiles)),
        parse_slots=threading.BoundedSemaphore(settings.parse_slots),
    )
    sites.place_unplaced(runtime)
    # Planning processes fork from a server that has the plugins imported already.
    preload(sorted({type(plugin).__module__ for plugin in runtime.registry.plugins.values()}))
    return runtime


def start_consumer(runtime: Runtime, workers: int | None = None) -> Any:
    """A Huey consumer, started in the background; call ``.stop()`` to end it.

    Its threads only claim jobs and supervise them: each plan runs in its own
    bounded planning process (:mod:`.planner`), never in this one. It also takes the
    dispatch tasks of the sites ``FABSERVER_DISPATCH_SITES`` names (all by default),
    when the lab has several.
    """
    consumer = runtime.huey.create_consumer(
        workers=workers or runtime.settings.workers,
        worker_type="thread",
        periodic=True,  # the sweep: jobs left behind by a dead worker or a lost message
        max_delay=1.0,  # an idle SQLite queue is polled at least every second
    )
    consumer.start()
    site_queues = sites.dispatch_hueys(runtime, runtime.settings.dispatch_site_list)
    return sites.SiteConsumers.start(consumer, site_queues) if site_queues else consumer
