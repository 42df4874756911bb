"""Retention: files past their time are removed; job rows and audit stay."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select, update
from web_helpers import BLOCK_STL, job_id_of, upload_form

from fabserver.jobs import service
from fabserver.jobs.retention import collect_garbage
from fabserver.store.models import Artifact, AuditEvent, Job, Upload, utcnow


def _job(runtime, job_id: int) -> Job:
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        job.artifacts  # noqa: B018 - loaded while the session is open
        job.events  # noqa: B018
        return job


def _upload_sha(runtime, job: Job) -> str:
    with runtime.db.session() as s:
        return s.get(Upload, job.design.upload_id).sha256


def _make_jobs(client, runtime):
    """A broken upload (no job), a rejected job and a job still in review, plus one with
    the same design file as the rejected one, still in review too."""
    broken = BLOCK_STL.read_bytes()[:300]
    assert upload_form(client, broken, filename="cut.stl").status_code == 422
    tokens = []
    for copies in ("1", "2", "3"):
        response = upload_form(client, BLOCK_STL.read_bytes(), copies=copies)
        assert response.status_code == 303
        tokens.append(response.headers["Location"].rsplit("/", 1)[-1])
    rejected, active, _ = (job_id_of(runtime, t) for t in tokens)
    service.reject(runtime, rejected, "staff:ana", "too many copies")
    with runtime.db.session() as s:
        broken_sha = s.scalar(select(Upload.sha256).where(Upload.original_name == "cut.stl"))
    return broken_sha, rejected, active, tokens


def test_gc_removes_old_files_and_keeps_rows_and_audit(client, runtime):
    broken_sha, rejected, active, tokens = _make_jobs(client, runtime)
    files = runtime.files
    before = _job(runtime, rejected)
    rejected_files = {a.sha256 for a in before.artifacts}
    active_files = {a.sha256 for a in _job(runtime, active).artifacts}
    active_files |= {a.sha256 for a in _job(runtime, job_id_of(runtime, tokens[2])).artifacts}
    shared_design = _upload_sha(runtime, before)
    only_rejected = rejected_files - active_files
    assert files.exists(broken_sha) and all(files.exists(f) for f in rejected_files)

    # Nothing is old yet: nothing goes.
    assert asdict(collect_garbage(runtime)) == {
        "uploads_removed": 0,
        "jobs_cleared": 0,
        "files_removed": 0,
        "bytes_freed": 0,
    }

    later = utcnow() + timedelta(days=runtime.settings.job_files_retention_days + 1)
    report = collect_garbage(runtime, now=later)
    assert report.uploads_removed == 1 and report.jobs_cleared == 1
    assert report.files_removed == 1 + len(only_rejected) and report.bytes_freed >= 300
    assert not files.exists(broken_sha)
    with runtime.db.session() as s:
        assert s.scalar(select(Upload).where(Upload.sha256 == broken_sha)) is None
    after = _job(runtime, rejected)
    assert after.state == "rejected" and after.files_removed_at is not None
    assert [e.id for e in before.events] == [e.id for e in after.events[:-1]]
    assert after.events[-1].action == "files-removed"
    assert {a.sha256 for a in after.artifacts} == rejected_files  # rows kept
    # Its own files are gone, but what a job in review shares with it stays.
    assert all(files.exists(f) for f in active_files)
    assert files.exists(shared_design)  # the same design file, used by live jobs
    assert not any(files.exists(f) for f in only_rejected)

    # The maker's link still works.
    assert client.get(f"/j/{tokens[0]}").status_code == 200

    # A second run finds nothing more to do.
    again = collect_garbage(runtime, now=later)
    assert (again.uploads_removed, again.jobs_cleared, again.files_removed) == (0, 0, 0)


def test_gc_spares_recent_files_nothing_refers_to_yet(runtime):
    sha = runtime.files.put(b"a plan being written")
    later = utcnow() + timedelta(minutes=30)
    assert collect_garbage(runtime, now=later).files_removed == 0
    assert runtime.files.exists(sha)
    assert collect_garbage(runtime, now=utcnow() + timedelta(hours=2)).files_removed == 1
    assert not runtime.files.exists(sha)


def test_storing_known_bytes_again_refreshes_their_date(runtime):
    sha = runtime.files.put(b"the same design twice")
    path = runtime.files.path(sha)
    old = time.time() - 10 * 86400
    os.utime(path, (old, old))
    assert runtime.files.put(b"the same design twice") == sha
    assert path.stat().st_mtime > old + 86400


def test_gc_command_removes_a_forgotten_upload(client, runtime):
    from fabserver.cli import main

    broken = BLOCK_STL.read_bytes()[:300]
    assert upload_form(client, broken, filename="cut.stl").status_code == 422
    with runtime.db.session() as s:
        upload = s.scalar(select(Upload).where(Upload.original_name == "cut.stl"))
        s.execute(
            update(Upload)
            .where(Upload.id == upload.id)
            .values(created_at=utcnow() - timedelta(days=3))
        )
    old = time.time() - 3 * 86400
    os.utime(runtime.files.path(upload.sha256), (old, old))
    result = CliRunner().invoke(
        main,
        [
            "--profiles",
            str(runtime.settings.profile_dir),
            "gc",
            "--data",
            str(runtime.settings.data_dir),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["uploads_removed"] == 1 and report["files_removed"] == 1
    assert not runtime.files.exists(upload.sha256)


def test_staff_see_the_disk_use(staff_client, client, block_stl):
    upload_form(client, block_stl)
    html = staff_client.get("/staff/machines").get_data(as_text=True)
    assert 'data-testid="disk-use"' in html
    assert "Fichiers conservés" in html and "Libre sur le disque" in html
    assert "90 jours" in html


def test_the_periodic_task_collects_by_itself(runtime):
    sha = runtime.files.put(b"left behind by a crash")
    old = time.time() - 2 * 3600
    os.utime(runtime.files.path(sha), (old, old))
    periodic = {t.__name__: t for t in runtime.huey._registry._periodic_tasks}
    runtime.huey.execute(periodic["fabserver.retention"]())
    assert not runtime.files.exists(sha)


def test_a_lone_finished_job_loses_all_its_files_but_no_row(client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    service.cancel(runtime, job_id, "staff:ana", "the maker changed their mind")
    job = _job(runtime, job_id)
    stored = {a.sha256 for a in job.artifacts} | {_upload_sha(runtime, job)}
    assert all(runtime.files.exists(f) for f in stored)
    report = collect_garbage(runtime, now=utcnow() + timedelta(days=400))
    assert report.jobs_cleared == 1 and report.files_removed == len(stored)
    assert not any(runtime.files.exists(f) for f in stored)
    with runtime.db.session() as s:
        assert len(s.scalars(select(Artifact).where(Artifact.job_id == job_id)).all()) == len(
            job.artifacts
        )
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.job_id == job_id)).all()
    assert actions[-1] == "files-removed" and len(actions) == len(job.events) + 1
    gone = client.get(f"/j/{job_token}/preview.svg")
    assert gone.status_code == 404  # no current preview any more
    page = client.get(f"/j/{job_token}").get_data(as_text=True)
    assert 'data-testid="files-removed"' in page and 'data-testid="preview"' not in page


def test_staff_see_that_the_files_were_removed(client, runtime, staff_client, job_token):
    job_id = job_id_of(runtime, job_token)
    service.cancel(runtime, job_id, "staff:ana", "the maker changed their mind")
    collect_garbage(runtime, now=utcnow() + timedelta(days=400))
    html = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert 'data-testid="files-removed"' in html and 'data-testid="download"' not in html
    assert "fichiers supprimés (conservation)" in html
    # A file removed under a row still referring to it is answered "no longer kept".
    with runtime.db.session() as s:
        artifact = s.scalar(select(Artifact).where(Artifact.job_id == job_id))
    response = staff_client.get(f"/staff/jobs/{job_id}/files/{artifact.id}")
    assert response.status_code == 410 and "plus conservé" in response.get_data(as_text=True)
