"""Three sites on one server: PostgreSQL and Redis (real, started here), a dispatch worker per
site, a folder connector per site.

Each site's job must be sent by its own site's worker only (the audit trail names the
process that sent it, and a site whose worker is down keeps its job waiting while the
others send theirs); a staff token of one site gets 403 on another site's job.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from servers import ROOT, fab_testplugins, fabserver_command
from sqlalchemy import select

from fabserver.testing import postgres_server, redis_server

SITES = fab_testplugins.SITES

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("redis")]


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _start_worker(env: dict[str, str], site: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*fabserver_command(), "worker", "--workers", "1", "--site", site],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_each_site_dispatches_its_own_jobs_and_staff_see_only_theirs(tmp_path):
    from fabserver.jobs import intake, service
    from fabserver.jobs.runtime import build_runtime
    from fabserver.jobs.settings import Settings
    from fabserver.store.models import AuditEvent, Job
    from fabserver.web import create_app
    from fabserver.web.auth import create_staff, issue_token

    outbox = tmp_path / "outbox"
    profiles = fab_testplugins.three_site_profiles(tmp_path / "profiles", outbox)
    data = tmp_path / "data"
    entry_points = fab_testplugins.write_entry_points(tmp_path / "entry-points")
    with postgres_server() as database_url, redis_server(tmp_path) as redis_url:
        env = {
            **os.environ,
            "FABSERVER_DATA": str(data),
            "FABSERVER_DATABASE_URL": database_url,
            "FABSERVER_REDIS_URL": redis_url,
            "FABSERVER_PROFILES": str(profiles),
            "PYTHONPATH": os.pathsep.join(
                [str(entry_points), str(fab_testplugins.PROFILES.parent)]
            ),
        }
        settings = Settings(
            data_dir=data,
            profile_dir=profiles,
            database_url=database_url,
            redis_url=redis_url,
            dispatch_sites="none",  # this process (the web side) sends nothing itself
        )
        runtime = build_runtime(settings, fab_testplugins.registry())
        assert set(runtime.site_hueys) == set(SITES)
        logs = {site: tmp_path / f"worker-{site}.log" for site in SITES}
        # Arras's worker starts late: meanwhile its job must wait, not go out elsewhere.
        workers = {
            site: _start_worker(env, site, logs[site]) for site in ("saint-omer", "boulogne")
        }
        try:
            stl = (ROOT / "samples" / "web-block.stl").read_bytes()
            upload = intake.receive(runtime, stl, "block.stl")
            design = intake.record_design(
                runtime, upload, intake.load_bounded(runtime, stl, "block.stl")
            )
            maker = service.Maker("Test", email="t@example.org")
            jobs = {
                site: service.submit(runtime, design, machine, "test-pla", 1, {}, maker).id
                for site, machine in SITES.items()
            }

            def states() -> dict[str, str]:
                with runtime.db.session() as s:
                    found = dict(s.execute(select(Job.id, Job.state)).all())
                failed = [site for site, job in jobs.items() if found[job] == "failed"]
                assert not failed, [log.read_text()[-2000:] for log in logs.values()]
                return {site: found[job] for site, job in jobs.items()}

            # Planning runs on any worker: Arras's job too, with no Arras worker up.
            _wait_for(lambda: set(states().values()) == {"review"}, 180, "three jobs planned")
            with runtime.db.session() as s:
                assert {site: s.get(Job, job).site for site, job in jobs.items()} == {
                    site: site for site in SITES
                }

            app = create_app({"TESTING": True}, runtime=runtime)
            client = app.test_client()
            tokens = {}
            for site in SITES:
                user = create_staff(runtime, f"staff-{site}", "password-" + site, sites=[site])
                tokens[site] = {"Authorization": f"Bearer {issue_token(runtime, user.id)}"}
            admin = create_staff(runtime, "network", "password-all", all_sites=True)
            admin_token = {"Authorization": f"Bearer {issue_token(runtime, admin.id)}"}

            # A staff token of one site cannot see nor act on another site's job.
            arras_job, omer_job = jobs["arras"], jobs["saint-omer"]
            api = "/api/v1/staff/jobs"
            assert client.get(f"{api}/{omer_job}", headers=tokens["arras"]).status_code == 403
            refused = client.post(f"{api}/{omer_job}/approve", headers=tokens["arras"], json={})
            assert refused.status_code == 403
            assert states()["saint-omer"] == "review"
            listed = client.get(api, headers=tokens["arras"]).get_json()["jobs"]
            assert [j["id"] for j in listed] == [arras_job]
            assert listed[0]["site"] == "arras"
            other = client.get(f"{api}?site=boulogne", headers=tokens["arras"])
            assert other.status_code == 403
            everything = client.get(api, headers=admin_token).get_json()["jobs"]
            assert {j["id"] for j in everything} == set(jobs.values())

            # Each site's staff approve and dispatch their own job.
            for site, job in jobs.items():
                for action in ("approve", "dispatch"):
                    answer = client.post(f"{api}/{job}/{action}", headers=tokens[site], json={})
                    assert answer.status_code == 200, answer.get_json()
            _wait_for(
                lambda: states()["saint-omer"] == states()["boulogne"] == "dispatched",
                120,
                "Saint-Omer and Boulogne jobs sent",
            )
            time.sleep(3.0)  # ample time for a wrong consumer to take Arras's message
            assert states()["arras"] == "approved"
            assert not (outbox / "arras").exists() or not any((outbox / "arras").iterdir())

            workers["arras"] = _start_worker(env, "arras", logs["arras"])
            _wait_for(lambda: states()["arras"] == "dispatched", 180, "Arras job sent")

            with runtime.db.session() as s:
                sends = s.scalars(
                    select(AuditEvent).where(
                        AuditEvent.action == "dispatch-attempt",
                        AuditEvent.job_id.in_(jobs.values()),
                    )
                ).all()
            senders = {e.job_id: e.data["worker"].split(":")[1] for e in sends if e.data["ok"]}
            assert senders == {job: str(workers[site].pid) for site, job in jobs.items()}
            for site, job in jobs.items():  # each file in its own site's folder, once
                files = sorted(p.name for p in (outbox / site).iterdir())
                assert files == [f"J{job:04d}-block.gcode"], files
        finally:
            _stop(list(workers.values()))
            runtime.close()
