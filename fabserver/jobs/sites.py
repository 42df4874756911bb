"""Sites of the lab's network in the queue: one dispatch queue per site.

Machines sit on their own site's network, so a job's machine file is sent by a
consumer at that site: ``fabserver worker --site arras`` consumes the Arras
dispatch queue (a Huey instance named after the site on the one Redis or SQLite
queue) besides the shared queue, where planning runs on any worker. A lab with
a single site keeps dispatch on the shared queue, as before sites existed.
"""

from __future__ import annotations

import logging
from typing import Any

from huey import Huey
from sqlalchemy import select, update

from ..profiles import ProfileSet
from ..store.models import Job, StockPiece
from .context import Runtime

log = logging.getLogger("fabserver.jobs")


def queued_sites(profiles: ProfileSet) -> list[str]:
    """The sites with a dispatch queue of their own: all of them when the lab has several,
    none for a single site (its dispatch runs on the shared queue)."""
    return list(profiles.sites) if len(profiles.sites) > 1 else []


def has_site_queues(runtime: Runtime) -> bool:
    return bool(queued_sites(runtime.profiles))


def job_site(runtime: Runtime, job_id: int) -> str:
    with runtime.db.session() as s:
        site = s.scalar(select(Job.site).where(Job.id == job_id))
    if site is None:
        raise LookupError(job_id)
    return site


def dispatch_hueys(runtime: Runtime, sites: list[str] | None) -> list[tuple[str, Huey]]:
    """The site queues a consumer takes dispatch tasks from: ``sites``, or all when None."""
    if sites is not None:
        unknown = [s for s in sites if s not in runtime.profiles.sites]
        if unknown:
            known = ", ".join(runtime.profiles.sites)
            raise LookupError(f"no site '{unknown[0]}' (known: {known})")
    return [
        (site_id, huey)
        for site_id, huey in runtime.site_hueys.items()
        if sites is None or site_id in sites
    ]


def place_unplaced(runtime: Runtime) -> None:
    """Jobs and stock recorded before the lab had sites get one from the profiles: a job
    the site of its machine, a stock piece the only site, or the one site whose machines
    take its material."""
    profiles = runtime.profiles
    with runtime.db.session() as s:
        if not s.scalar(select(Job.id).where(Job.site == "").limit(1)) and not s.scalar(
            select(StockPiece.id).where(StockPiece.site == "").limit(1)
        ):
            return
        for machine in profiles.machines.values():
            s.execute(
                update(Job)
                .where(Job.site == "", Job.machine_id == machine.id)
                .values(site=machine.site)
            )
        if len(profiles.sites) == 1:  # a machine since removed was at the only site too
            s.execute(update(Job).where(Job.site == "").values(site=next(iter(profiles.sites))))
        for material in profiles.materials.values():
            sites = {m.site for m in profiles.machines_for(material)}
            if len(profiles.sites) == 1:
                sites = set(profiles.sites)
            if len(sites) == 1:
                s.execute(
                    update(StockPiece)
                    .where(StockPiece.site == "", StockPiece.material_id == material.id)
                    .values(site=sites.pop())
                )


class SiteConsumers:
    """The shared queue's consumer and one per site dispatch queue, started and stopped as
    one (what ``start_consumer`` returns when the lab has several sites)."""

    def __init__(self, main: Any, sites: list[Any]):
        self.main = main
        self.sites = sites

    @classmethod
    def start(cls, main: Any, sites: list[tuple[str, Huey]], workers: int = 1) -> SiteConsumers:
        consumers = []
        for site_id, huey in sites:
            consumer = site_consumer(huey, workers)
            consumer.start()
            log.info("dispatch for site %s", site_id)
            consumers.append(consumer)
        return cls(main, consumers)

    def stop(self, graceful: bool = False) -> None:
        for consumer in self.sites:
            consumer.stop(graceful=graceful)
        if self.main is not None:
            self.main.stop(graceful=graceful)


def site_consumer(huey: Huey, workers: int = 1) -> Any:
    """A consumer of a site's dispatch queue: sends are short, a thread or two is enough;
    the periodic sweep runs on the shared queue only."""
    return huey.create_consumer(
        workers=workers, worker_type="thread", periodic=False, max_delay=1.0
    )


def start_site_dispatch(runtime: Runtime, sites: list[str] | None) -> list[Any]:
    """Consumers of the dispatch queues of ``sites`` (none when None), started; a lab with a
    single site has no such queue: its dispatch runs on the shared one."""
    if not sites:
        return []
    if not has_site_queues(runtime):
        unknown = [s for s in sites if s not in runtime.profiles.sites]
        if unknown:
            raise LookupError(
                f"no site '{unknown[0]}' (known: {', '.join(runtime.profiles.sites)})"
            )
        return []
    return SiteConsumers.start(None, dispatch_hueys(runtime, sites)).sites
