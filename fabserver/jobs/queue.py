"""The job queue: the Huey instances and the tasks declared on them, as one typed object.

The tasks have fixed names, so that a consumer on another host runs the same code
for the same message. What each task does is given to :class:`JobQueue` as
:class:`QueueWork` (plain functions, closures over the runtime built by
:func:`fabserver.jobs.runtime.build_runtime`): this module knows the queue, not
the jobs, and imports nothing that imports it.

A lab with several sites has one more Huey instance per site (named after it, on
the same Redis or SQLite store) with the dispatch and follow-up tasks: a machine's
file is sent by a consumer on the machine's network (:mod:`.sites`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from huey import Huey, MemoryHuey, PriorityRedisHuey, SqliteHuey, crontab
from huey.api import Task, TaskWrapper

from .settings import Settings

QUEUE_NAME = "fabserver"


def make_huey(settings: Settings, name: str = QUEUE_NAME) -> Huey:
    if settings.immediate:
        return MemoryHuey(name, immediate=True)
    if settings.redis_url:
        # The priority variant (a sorted set): light plans first, as on SQLite.
        return PriorityRedisHuey(name, url=settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.data_dir / "queue.sqlite3"))


def site_queue_name(site_id: str) -> str:
    return f"{QUEUE_NAME}-dispatch-{site_id}"


@dataclass(frozen=True)
class QueueWork:
    """What the queued tasks do, and the two facts the queue asks about a job."""

    plan: Callable[[int], None]  # job id
    dispatch: Callable[[int, int], None]  # job id, retries left
    follow: Callable[[int], float | None]  # job id -> seconds before asking again, or None
    mail: Callable[[int, str, str, str | None], None]  # job id, event, note, base URL
    quote: Callable[[int, int], None]  # draft plan id, version
    # Periodic (what they return is not used):
    sweep: Callable[[], object]  # jobs left behind by a dead worker or a lost message
    sweep_quotes: Callable[[], object]
    collect_garbage: Callable[[], object]  # files past their retention
    plan_priority: Callable[[int], int]  # job id -> Huey priority, higher first
    job_site: Callable[[int], str]  # job id -> its site (LookupError when unknown)


@dataclass(frozen=True)
class _SiteTasks:
    dispatch: TaskWrapper
    follow: TaskWrapper


class JobQueue:
    """The shared queue (planning, mail, quotes, periodic sweeps) and, when the lab has
    several sites, one dispatch queue per site."""

    def __init__(self, settings: Settings, work: QueueWork, sites: Iterable[str] = ()):
        self.settings = settings
        self.work = work
        self.huey = make_huey(settings)
        self.site_hueys: dict[str, Huey] = {
            site_id: make_huey(settings, site_queue_name(site_id)) for site_id in sites
        }
        huey = self.huey
        self._plan = huey.task(name="fabserver.plan_job")(work.plan)
        self._mail = huey.task(
            name="fabserver.mail_job",
            retries=settings.mail_retries,
            retry_delay=settings.mail_retry_delay_s,
            retry_backoff=2.0,
        )(work.mail)
        self._quote = huey.task(name="fabserver.plan_quote")(work.quote)
        for name, minute, run in (
            ("fabserver.sweep", "*", work.sweep),
            ("fabserver.sweep_quotes", "*", work.sweep_quotes),
            ("fabserver.retention", "7", work.collect_garbage),
        ):
            huey.periodic_task(crontab(minute=minute), name=name)(run)
        self._shared = self._site_tasks(huey)
        self._sites = {site_id: self._site_tasks(h) for site_id, h in self.site_hueys.items()}

    def _site_tasks(self, huey: Huey) -> _SiteTasks:
        """The dispatch and follow-up tasks on ``huey`` (the same names on every queue)."""
        work = self.work

        @huey.task(
            name="fabserver.dispatch_job",
            retries=self.settings.dispatch_retries,
            retry_delay=self.settings.dispatch_retry_delay_s,
            retry_backoff=2.0,
            context=True,
        )
        def dispatch_task(job_id: int, task: Task | None = None) -> None:
            work.dispatch(job_id, task.retries if task is not None else 0)

        @huey.task(name="fabserver.follow_job")
        def follow_task(job_id: int) -> None:
            again = work.follow(job_id)
            if again is not None:
                follow_task.schedule((job_id,), delay=again)

        return _SiteTasks(dispatch_task, follow_task)

    def plan(self, job_id: int, delay: float | None = None) -> None:
        """Queue the job's plan message, lighter jobs first (see :mod:`.fairness`)."""
        priority = self.work.plan_priority(job_id)
        self.huey.enqueue(self._plan.s(job_id, priority=priority, delay=delay))

    def dispatch(self, job_id: int) -> None:
        """Queue the sending of the job's file, on its site's queue when the lab has several."""
        self._tasks_of(self.work.job_site(job_id) if self._sites else "", job_id).dispatch(job_id)

    def follow(self, job_id: int, site: str, delay: float) -> None:
        """Ask the machine how the job ended in ``delay`` seconds, from the machine's site."""
        tasks = self._sites.get(site, self._shared) if self._sites else self._shared
        tasks.follow.schedule((job_id,), delay=delay)

    def mail(self, job_id: int, event: str, note: str, base_url: str | None) -> None:
        self._mail(job_id, event, note, base_url)

    def quote(self, plan_id: int, version: int, priority: int) -> None:
        self.huey.enqueue(self._quote.s(plan_id, version, priority=priority))

    def _tasks_of(self, site: str, job_id: int) -> _SiteTasks:
        if not self._sites:
            return self._shared
        tasks = self._sites.get(site)
        if tasks is None:
            raise LookupError(f"job {job_id} is at site '{site}', which the profiles do not name")
        return tasks
