"""Helpers for the web tests (importable from test modules and subprocess scripts)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import fab_testplugins

ROOT = Path(__file__).resolve().parents[3]
BLOCK_STL = ROOT / "samples" / "web-block.stl"  # 20 × 20 × 10 mm box, corner at the origin

STAFF_USER, STAFF_PASSWORD = "ana", "correct horse battery"


def make_app(tmp_path: Path, **config):
    from fabserver.web import create_app

    settings = {
        "DATA_DIR": tmp_path / "data",
        "PROFILE_DIR": fab_testplugins.PROFILES,
        "QUEUE_IMMEDIATE": True,
        "TESTING": True,
        **config,
    }
    return create_app(settings, registry=fab_testplugins.registry())


def csrf_token(client, path: str = "/") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def upload_form(client, data: bytes | None = None, filename: str = "block.stl", **fields):
    """POST the maker's form as a browser would (with the CSRF token of the page)."""
    form = {
        "csrf_token": csrf_token(client),
        "machine": "box-1",
        "material": "test-pla",
        "copies": "1",
        "name": "Camille",
        "email": "camille@example.org",
        "consent": "1",
    }
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    form.update(fields)
    return client.post("/", data=form, content_type="multipart/form-data")


def upload_api(client, data: bytes, filename: str = "part.stl", headers=None, **fields):
    """POST a new job to the API as a program would (no CSRF token, the API's fields);
    a field given as ``None`` is left out."""
    form = {
        "file": (io.BytesIO(data), filename),
        "machine": "box-1",
        "material": "test-pla",
        "name": "Camille",
        "email": "camille@example.org",
        "consent": "1",
        **fields,
    }
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(
        "/api/v1/jobs", data=form, headers=headers, content_type="multipart/form-data"
    )


def job_id_of(runtime, token: str) -> int:
    from sqlalchemy import select

    from fabserver.store.models import Job

    with runtime.db.session() as s:
        return s.scalar(select(Job.id).where(Job.token == token))


def staff_post(client, job_id: int, action: str, **fields):
    token = csrf_token(client, f"/staff/jobs/{job_id}")
    return client.post(f"/staff/jobs/{job_id}/{action}", data={"csrf_token": token, **fields})


def sent_to_login(response) -> bool:
    """A staff page opened without a session answers with the login form's address."""
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")
