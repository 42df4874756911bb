"""The same app on PostgreSQL (a throw-away cluster started by the test)."""

from __future__ import annotations

import threading

import pytest
from web_helpers import csrf_token, job_id_of, make_app, staff_post, upload_form

from fabserver.testing import postgres_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_app(tmp_path, postgres_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as connection:  # a clean schema for each test
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    app = make_app(tmp_path, DATABASE_URL=postgres_url)
    yield app
    app.extensions["fabserver"].close()


def test_full_flow_on_postgres(pg_app, block_stl):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fabserver.store.models import Base, Job
    from fabserver.web.auth import create_staff

    runtime = pg_app.extensions["fabserver"]
    assert runtime.db.engine.dialect.name == "postgresql"
    with runtime.db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    maker = pg_app.test_client()
    response = upload_form(maker, block_stl)
    assert response.status_code == 303
    token = response.headers["Location"].rsplit("/", 1)[-1]
    job_id = job_id_of(runtime, token)
    create_staff(runtime, "ana", "correct horse battery")
    staff = pg_app.test_client()
    staff.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(staff, "/staff/login"),
            "username": "ana",
            "password": "correct horse battery",
        },
    )
    for action, fields in (
        ("approve", {}),
        ("dispatch", {}),
        ("done", {"actual_time_min": "4", "actual_material": "1"}),
    ):
        assert staff_post(staff, job_id, action, **fields).status_code == 303
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert job.state == "done" and job.actual_time_s == 240.0
        assert [e.to_state for e in job.events if e.action == "transition"] == [
            "queued",
            "planning",
            "review",
            "approved",
            "dispatched",
            "done",
        ]


def test_concurrent_claims_on_postgres(pg_app, block_stl):
    from fabserver.jobs.states import InvalidTransition, transition

    runtime = pg_app.extensions["fabserver"]
    token = upload_form(pg_app.test_client(), block_stl).headers["Location"].rsplit("/", 1)[-1]
    job_id = job_id_of(runtime, token)
    with runtime.db.session() as s:
        transition(s, job_id, "queued", actor="test")
    barrier = threading.Barrier(4)
    results = []

    def claim():
        barrier.wait()
        try:
            with runtime.db.session() as s:
                transition(s, job_id, "planning", actor="racer", expected=("queued",))
            results.append("won")
        except InvalidTransition:
            results.append("lost")

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "lost", "lost", "won"]
