"""``fabserver serve``: waitress, the database and the planning processes, one command.

The Huey consumer started here has ``FABSERVER_WORKERS`` threads that claim jobs and
supervise them; every plan runs in its own bounded planning process (memory, time
and output limits, killed on cancel), so this process only serves pages and reads
and writes the database and files.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from ..jobs.runtime import build_runtime, start_consumer
from ..jobs.service import requeue_unfinished
from ..jobs.settings import Settings
from ..registry import Registry

log = logging.getLogger("fabserver.web")


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    data_dir: Path | None = None,
    profile_dir: Path | None = None,
    registry: Registry | None = None,
    threads: int = 8,
) -> None:
    """Serve until SIGINT/SIGTERM; jobs interrupted by the last stop are planned again."""
    import waitress

    from . import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env(data_dir, profile_dir=profile_dir)
    runtime = build_runtime(settings, registry)
    # With the embedded SQLite queue this process is the only consumer: anything left
    # "planning" was interrupted by the last stop. With Redis, other workers may be busy.
    stale_after = settings.stale_planning_s if settings.redis_url else 0.0
    requeued = requeue_unfinished(runtime, stale_after)
    if requeued:
        log.info("queued again at start: jobs %s", requeued)
    app = create_app(runtime=runtime)
    consumer = start_consumer(runtime)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("fabserver on http://%s:%d (data in %s)", host, port, settings.data_dir)
    try:
        waitress.serve(
            app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=int(settings.max_upload_mb * 1024 * 1024) + 1024 * 1024,
            ident="fabserver",
        )
    except KeyboardInterrupt:
        pass
    finally:
        consumer.stop(graceful=True)
        runtime.close()
