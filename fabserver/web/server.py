"""``fabserver serve``: waitress, the database and the planning processes, one command.

The Huey consumer started here has ``FABSERVER_WORKERS`` threads that claim jobs and
supervise them; every plan runs in its own bounded planning process (memory, time
and output limits, killed on cancel), so this process only serves pages and reads
and writes the database and files.
"""

from __future__ import annotations

import io
import logging
import signal
from pathlib import Path
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import RequestEntityTooLarge

from ..jobs.recovery import requeue_unfinished
from ..jobs.runtime import build_runtime, start_consumer
from ..jobs.settings import Settings
from ..registry import Registry

log = logging.getLogger("fabserver.web")

# Waitress stops reading a body this far beyond the app's own limit; below it, the
# app reads the body and refuses it itself (a form field may come after the file).
BODY_SLACK_BYTES = 1024 * 1024


class _TooLargeTask(WSGITask):
    """Waitress refused the body (beyond the limit + slack): the app answers anyway, with
    its French or English 413 page or the API's JSON, from the headers alone."""

    def get_environment(self) -> dict[str, Any]:
        from .errors import TOO_LARGE_KEY

        environ = super().get_environment()
        environ[TOO_LARGE_KEY] = True
        environ["wsgi.input"] = io.BytesIO()
        environ["CONTENT_LENGTH"] = "0"
        return environ

    def execute(self) -> None:
        # The rest of the body is still on its way: this connection cannot serve another
        # request, so it is closed once the answer is sent.
        self.set_close_on_finish()
        super().execute()


def _error_task(channel: HTTPChannel, request) -> WSGITask | ErrorTask:
    if isinstance(request.error, RequestEntityTooLarge):
        return _TooLargeTask(channel, request)
    return ErrorTask(channel, request)


class _Channel(HTTPChannel):
    error_task_class = staticmethod(_error_task)


def make_server(app, host: str, port: int, threads: int, max_upload_mb: float):
    """A waitress server for ``app`` whose oversize answers come from the app.

    ``port`` 0 takes a free port (``server.effective_port``)."""
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=int(max_upload_mb * 1024 * 1024) + BODY_SLACK_BYTES,
        ident="fabserver",
    )
    server.channel_class = _Channel
    return server


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    data_dir: Path | None = None,
    profile_dir: Path | None = None,
    registry: Registry | None = None,
    threads: int = 8,
) -> None:
    """Serve until SIGINT/SIGTERM; jobs interrupted by the last stop are planned again."""
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
    server = make_server(app, host, port, threads, settings.max_upload_mb)
    log.info("fabserver on http://%s:%d (data in %s)", host, port, settings.data_dir)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        consumer.stop(graceful=True)
        runtime.close()
