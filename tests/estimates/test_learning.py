"""Estimates that learn: the correction factor from finished jobs, and the next plan."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fabserver.learning import MIN_JOBS, Sample, learn

SUPPORT = Path(__file__).resolve().parent.parent / "web" / "support"
NOW = datetime(2026, 12, 1, 12, 0)


def samples(ratios, days_ago=None):
    days_ago = days_ago or [i for i in range(len(ratios))]
    return [
        Sample(600.0, 600.0 * r, NOW - timedelta(days=d))
        for r, d in zip(ratios, days_ago, strict=True)
    ]


def test_too_few_jobs_say_nothing():
    assert learn(samples([1.2] * (MIN_JOBS - 1)), NOW) is None
    assert learn(samples([1.2] * MIN_JOBS), NOW).factor == pytest.approx(1.2)


def test_outliers_are_dropped():
    # A job left paused overnight (×9) and one typed in the wrong unit (×0.02).
    c = learn(samples([1.1, 1.12, 1.08, 1.1, 1.15, 1.09, 9.0, 0.02]), NOW)
    assert c.jobs == 6
    assert c.factor == pytest.approx(1.1, abs=0.011)
    assert c.spread < 0.1


def test_recent_jobs_weigh_more():
    # Three old jobs at 1.5 (a year ago), four recent at 1.0: the machine was tuned since.
    c = learn(samples([1.5, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0], [400, 410, 420, 1, 2, 3, 4]), NOW)
    assert c.factor == pytest.approx(1.0)
    # Four old and three recent: the plain median would be 1.5; recency makes it 1.0.
    c = learn(samples([1.5, 1.5, 1.5, 1.5, 1.0, 1.0, 1.0], [400, 410, 420, 430, 1, 2, 3]), NOW)
    assert c.factor == pytest.approx(1.0)
    flat = learn(
        samples([1.5, 1.5, 1.5, 1.5, 1.0, 1.0, 1.0], [400, 410, 420, 430, 1, 2, 3]),
        NOW,
        half_life_days=1e9,
    )
    assert flat.factor == pytest.approx(1.5)


@pytest.fixture
def lab(tmp_path):
    sys.path.insert(0, str(SUPPORT))
    from web_helpers import BLOCK_STL, make_app, upload_form

    app = make_app(tmp_path)
    client = app.test_client()
    response = upload_form(client, BLOCK_STL.read_bytes())
    assert response.status_code == 303, response.get_data(as_text=True)
    token = response.headers["Location"].rsplit("/", 1)[-1]
    yield app, client, token
    app.extensions["fabserver"].close()


def staff_client(app, runtime):
    from web_helpers import STAFF_PASSWORD, STAFF_USER, csrf_token

    from fabserver.web.auth import create_staff

    create_staff(runtime, STAFF_USER, STAFF_PASSWORD, "Ana")
    c = app.test_client()
    c.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(c, "/staff/login"),
            "username": STAFF_USER,
            "password": STAFF_PASSWORD,
        },
    )
    return c


def _csrf(client, path):
    from web_helpers import csrf_token

    return csrf_token(client, path)


def _finish(runtime, job_id: int, factor: float) -> None:
    from fabserver.jobs import service
    from fabserver.store.models import Job

    with runtime.db.session() as s:
        raw = s.get(Job, job_id).estimate["raw_machine_time_s"]
    service.approve(runtime, job_id, "staff:ana")
    service.request_dispatch(runtime, job_id, "staff:ana")
    service.mark_done(runtime, job_id, "staff:ana", f"{raw * factor / 60.0:.6f}")


def test_five_jobs_done_at_1_2_times_the_estimate_correct_the_next_plan(lab):
    from sqlalchemy import select

    from fabserver.jobs import service
    from fabserver.jobs.learning import correction_for
    from fabserver.store.models import Job

    app, client, token = lab
    runtime = app.extensions["fabserver"]
    with runtime.db.session() as s:
        first = s.scalar(select(Job).where(Job.token == token))
        design, machine_id, material_id = first.design, first.machine_id, first.material_id
    maker = service.Maker("Camille", email="camille@example.org")
    job_ids = [first.id]
    job_ids += [
        service.submit(runtime, design, machine_id, material_id, 1, {}, maker).id
        for _ in range(MIN_JOBS - 1)
    ]
    for job_id in job_ids:
        _finish(runtime, job_id, 1.2)

    nxt = service.submit(runtime, design, machine_id, material_id, 1, {}, maker)
    data = client.get(f"/api/v1/jobs/{nxt.token}").get_json()
    estimate = data["estimate"]
    assert estimate["machine_time_s"] == pytest.approx(1.2 * estimate["raw_machine_time_s"])
    assert estimate["correction"]["factor"] == pytest.approx(1.2)
    assert estimate["correction"]["jobs"] == MIN_JOBS
    assert "5 derniers travaux" in estimate["correction"]["note"]["fr"]
    assert "last 5 jobs" in estimate["correction"]["note"]["en"]
    page = client.get(f"/j/{nxt.token}").get_data(as_text=True)
    assert 'data-testid="time-correction"' in page and "5 derniers travaux" in page

    # Staff see it on the machine page, and reset it there.
    staff = staff_client(app, runtime)
    html = staff.get("/staff/machines").get_data(as_text=True)
    assert f'data-testid="correction-{machine_id}-{material_id}"' in html
    assert "× 1,20" in html and "5 travaux" in html
    response = staff.post(
        f"/staff/machines/{machine_id}/corrections/{material_id}/reset",
        data={"csrf_token": _csrf(staff, "/staff/machines")},
    )
    assert response.status_code == 303

    # After the reset the next plan is raw again.
    with runtime.db.session() as s:
        assert correction_for(s, machine_id, material_id) is None
    again = service.submit(runtime, design, machine_id, material_id, 1, {}, maker)
    estimate = client.get(f"/api/v1/jobs/{again.token}").get_json()["estimate"]
    assert estimate["correction"] is None
    assert estimate["machine_time_s"] == estimate["raw_machine_time_s"]
