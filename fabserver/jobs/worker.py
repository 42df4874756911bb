"""``fabserver worker``: the queue without the web, for other hosts (``FABSERVER_REDIS_URL``).

Like ``serve``, its consumer threads only claim jobs and supervise them; each plan
runs in a bounded planning process (:mod:`.planner`), ``FABSERVER_WORKERS`` at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..registry import Registry
from .recovery import requeue_unfinished
from .runtime import build_runtime
from .settings import Settings
from .sites import start_site_dispatch

log = logging.getLogger("fabserver.jobs")


def run_worker(
    data_dir: Path | None = None,
    workers: int | None = None,
    profile_dir: Path | None = None,
    registry: Registry | None = None,
    sites: list[str] | None = None,
) -> None:
    """Run consumers until SIGINT/SIGTERM. Several workers may share one Redis and database.

    With ``sites``, the worker also sends those sites' jobs to their machines (it runs on
    their network); planning runs on every worker."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env(data_dir, profile_dir=profile_dir, workers=workers)
    runtime = build_runtime(settings, registry)
    # Other consumers may be planning right now: only jobs silent for a while are re-planned.
    requeue_unfinished(runtime, settings.stale_planning_s)
    consumer = runtime.huey.create_consumer(
        workers=settings.workers, worker_type="thread", periodic=True, max_delay=1.0
    )
    log.info("worker: %d planning process(es) on %s", settings.workers, type(runtime.huey).__name__)
    dispatchers = start_site_dispatch(runtime, sites)
    try:
        consumer.run()  # handles SIGTERM / SIGINT itself
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop(graceful=True)
        runtime.close()
