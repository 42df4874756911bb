"""A fresh app per test: temporary data dir, test plugins and profiles, tasks run at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent / "support"
sys.path.insert(0, str(SUPPORT))

from web_helpers import (  # noqa: E402
    BLOCK_STL,
    STAFF_PASSWORD,
    STAFF_USER,
    csrf_token,
    make_app,
    upload_form,
)


@pytest.fixture
def app(tmp_path):
    application = make_app(tmp_path)
    yield application
    application.extensions["fabserver"].close()


@pytest.fixture
def runtime(app):
    return app.extensions["fabserver"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def block_stl() -> bytes:
    return BLOCK_STL.read_bytes()


@pytest.fixture
def job_token(client, block_stl) -> str:
    response = upload_form(client, block_stl)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


@pytest.fixture
def staff(app, runtime):
    from fabserver.web.auth import create_staff

    return create_staff(runtime, STAFF_USER, STAFF_PASSWORD, "Ana")


@pytest.fixture
def staff_client(app, staff):
    c = app.test_client()
    response = c.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(c, "/staff/login"),
            "username": STAFF_USER,
            "password": STAFF_PASSWORD,
        },
    )
    assert response.status_code == 302
    return c
