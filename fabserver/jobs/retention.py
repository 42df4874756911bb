"""Storage retention: what the file store may forget, and what it costs on disk.

Two rules, both in the settings:

- an upload that never became a job (a broken file, a form left half-way) is
  removed, file and rows, ``upload_retention_days`` after it arrived;
- the files of a finished job (done, rejected, cancelled) are removed
  ``job_files_retention_days`` after it finished; the job's rows and its audit
  trail stay, with ``files_removed_at`` set and an audit row saying so.

Files are content-addressed and may be shared (the same design uploaded twice, the
same preview), so a file is removed only when nothing still kept refers to it. Files
younger than :data:`GRACE` are never removed: a plan or an upload may have written
one whose row is not committed yet (``FileStore.put`` refreshes the date of a file
it finds already there, for the same reason). Run by ``fabserver gc`` and by a
periodic task in every consumer; running it twice does nothing more.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from ..store.models import Artifact, Design, Job, Quote, QuotePlan, Upload, utcnow
from .context import Runtime
from .states import FINAL_STATES, record

#: A file written less than this long ago is never removed (its row may be on its way).
GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class GcReport:
    """What one collection removed."""

    uploads_removed: int
    jobs_cleared: int
    files_removed: int
    bytes_freed: int


@dataclass(frozen=True)
class DiskUse:
    """What staff see: the file store's size and the disk's free space."""

    files: int
    stored_bytes: int
    disk_free_bytes: int
    disk_total_bytes: int
    upload_retention_days: float
    job_files_retention_days: float


def collect_garbage(runtime: Runtime, now: datetime | None = None) -> GcReport:
    """Apply both retention rules, then remove the files nothing kept refers to."""
    settings = runtime.settings
    now = now or utcnow()
    upload_cutoff = now - timedelta(days=settings.upload_retention_days)
    job_cutoff = now - timedelta(days=settings.job_files_retention_days)
    with runtime.db.session() as s:
        with_job = select(Design.upload_id).join(Job, Job.design_id == Design.id)
        stale = s.scalars(
            select(Upload.id).where(Upload.created_at < upload_cutoff, Upload.id.not_in(with_job))
        ).all()
        if stale:
            # A quote lives as long as its upload: its drafts and files go with it.
            quotes = select(Quote.id).join(Design, Design.id == Quote.design_id)
            quotes = quotes.where(Design.upload_id.in_(stale))
            s.execute(delete(QuotePlan).where(QuotePlan.quote_id.in_(quotes)))
            s.execute(delete(Quote).where(Quote.id.in_(quotes)))
            s.execute(delete(Design).where(Design.upload_id.in_(stale)))
            s.execute(delete(Upload).where(Upload.id.in_(stale)))
        finished = s.scalars(
            select(Job.id).where(
                Job.state.in_(FINAL_STATES),
                Job.updated_at < job_cutoff,
                Job.files_removed_at.is_(None),
            )
        ).all()
        days = f"{settings.job_files_retention_days:g}"
        cleared = 0
        for job_id in finished:
            # Compare-and-set: consumers on several hosts may collect at the same time.
            claimed = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.files_removed_at.is_(None))
                .values(files_removed_at=now)
            ).rowcount
            if claimed:
                cleared += 1
                record(
                    s,
                    job_id,
                    "files-removed",
                    actor="system",
                    reason=f"files removed {days} days after the job finished",
                )
    files, freed = _remove_unreferenced(runtime, _referenced(runtime), now)
    return GcReport(len(stale), cleared, files, freed)


def _referenced(runtime: Runtime) -> set[str]:
    """sha256 of every file something kept still needs."""
    with runtime.db.session() as s:
        cleared = set(s.scalars(select(Job.id).where(Job.files_removed_at.is_not(None))))
        upload_jobs: dict[int, list[int]] = {}
        for upload_id, job_id in s.execute(
            select(Design.upload_id, Job.id).join(Job, Job.design_id == Design.id)
        ):
            upload_jobs.setdefault(upload_id, []).append(job_id)
        keep = {
            sha
            for upload_id, sha in s.execute(select(Upload.id, Upload.sha256))
            # No job yet (recent: older ones are gone by now), or a job whose files stay.
            if not upload_jobs.get(upload_id)
            or any(j not in cleared for j in upload_jobs[upload_id])
        }
        keep.update(
            s.scalars(
                select(Artifact.sha256)
                .join(Job, Job.id == Artifact.job_id)
                .where(Job.files_removed_at.is_(None))
            )
        )
        for extras in s.scalars(select(Quote.extras)):  # the quotes still kept
            keep.update(v for k, v in (extras or {}).items() if k.endswith("_sha"))
        for files in s.scalars(select(QuotePlan.files)):
            keep.update(f["sha256"] for f in files or ())
    return keep


def _store_files(runtime: Runtime):
    """Every file under the store's objects folder (stored files and leftover temporaries)."""
    objects = runtime.files.root / "objects"
    for folder in objects.iterdir() if objects.is_dir() else ():
        if folder.is_dir():
            yield from (entry for entry in os.scandir(folder) if entry.is_file())


def _remove_unreferenced(runtime: Runtime, keep: set[str], now: datetime) -> tuple[int, int]:
    oldest = (now - GRACE).replace(tzinfo=UTC).timestamp()
    removed = freed = 0
    for entry in _store_files(runtime):
        sha = Path(entry.path).parent.name + entry.name
        if sha in keep:
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:  # removed meanwhile (another collection)
            continue
        if stat.st_mtime > oldest:
            continue
        Path(entry.path).unlink(missing_ok=True)
        removed += 1
        freed += stat.st_size
    return removed, freed


def disk_use(runtime: Runtime) -> DiskUse:
    files = stored = 0
    for entry in _store_files(runtime):
        try:
            stored += entry.stat().st_size
        except FileNotFoundError:
            continue
        files += 1
    disk = shutil.disk_usage(runtime.files.root)
    return DiskUse(
        files=files,
        stored_bytes=stored,
        disk_free_bytes=disk.free,
        disk_total_bytes=disk.total,
        upload_retention_days=runtime.settings.upload_retention_days,
        job_files_retention_days=runtime.settings.job_files_retention_days,
    )
