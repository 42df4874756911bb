"""Reports of the lab's activity over a period: JSON, CSV (French and standard), page."""

from __future__ import annotations

import csv
import html
import io
from datetime import date, timedelta

import pytest
from web_helpers import BLOCK_STL, ROOT, job_id_of, staff_post, upload_form

from fabserver.store.models import Job, utcnow

KEYRING = ROOT / "samples" / "laser-keyring.svg"


@pytest.fixture
def bearer(runtime, staff) -> dict[str, str]:
    from fabserver.web.auth import issue_token

    return {"Authorization": f"Bearer {issue_token(runtime, staff.id, 'tests')}"}


def _job(client, runtime, data=None, filename="block.stl", **fields) -> int:
    response = upload_form(client, data or BLOCK_STL.read_bytes(), filename, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    return job_id_of(runtime, response.headers["Location"].rsplit("/", 1)[-1])


def _month() -> tuple[date, date]:
    today = utcnow().date()  # the database keeps UTC times
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


@pytest.fixture
def lab_month(staff_client, client, runtime):
    """A month of jobs: done prototypes, a rejected one, a series, a cutter job, and one
    from the month before (left out)."""
    done_a = _job(client, runtime, email="camille@example.org")
    done_b = _job(client, runtime, email="sam@example.org", name="Sam")
    rejected = _job(client, runtime, email="camille@example.org")
    series = _job(client, runtime, copies="3", phone="06 00 00 00 01", email="", name="Lou")
    cutter = _job(
        client,
        runtime,
        KEYRING.read_bytes(),
        "keyring.svg",
        machine="cutter",
        material="test-board",
        email="Sam@example.org",
        name="Sam",
    )
    before = _job(client, runtime, email="old@example.org", name="Old")
    for job_id, minutes, material in ((done_a, "30", "12,5"), (done_b, "45", "")):
        staff_post(staff_client, job_id, "approve")
        staff_post(staff_client, job_id, "dispatch")
        assert (
            staff_post(
                staff_client, job_id, "done", actual_time_min=minutes, actual_material=material
            ).status_code
            == 303
        )
    staff_post(staff_client, rejected, "reject", reason="Trop fin pour la buse")
    first, _ = _month()
    with runtime.db.session() as s:
        s.get(Job, before).created_at = s.get(Job, before).created_at.replace(
            year=first.year, month=first.month, day=1
        ) - timedelta(days=1)
        jobs = {j.id: j for j in s.query(Job).all()}
        for job in jobs.values():
            s.expunge(job)
    return {
        "done": [jobs[done_a], jobs[done_b]],
        "rejected": jobs[rejected],
        "series": jobs[series],
        "cutter": jobs[cutter],
    }


def _expected_box_row(month: dict) -> dict:
    done = month["done"]
    grams = [
        j.actual_material
        if j.actual_material is not None
        else j.estimate["materials"][0]["quantity"]
        for j in done
    ]
    return {
        "machine": "box-1",
        "site": "lab",  # the default site of a lab without site files
        "material": "test-pla",
        "jobs": 4,  # two done, the rejected one, the series
        "prototypes": 2,
        "series": 1,
        "rejected": 1,
        "machine_time_s": pytest.approx(sum(j.estimate["machine_time_s"] for j in done), abs=0.01),
        "actual_time_s": pytest.approx((30 + 45) * 60),
        "material_quantity": pytest.approx(sum(grams), abs=1e-3),
        "unit": "g",
        "free_value_eur": pytest.approx(sum(j.estimate["cost_eur"] for j in done), abs=0.01),
    }


def test_report_of_a_month_matches_its_jobs(client, bearer, lab_month):
    first, last = _month()
    response = client.get(f"/api/v1/staff/reports?from={first}&to={last}", headers=bearer)
    assert response.status_code == 200
    report = response.get_json()
    assert (report["from"], report["to"]) == (first.isoformat(), last.isoformat())
    rows = {(r["machine"], r["material"]): r for r in report["rows"]}
    assert set(rows) == {("box-1", "test-pla"), ("cutter", "test-board")}
    assert rows["box-1", "test-pla"] == _expected_box_row(lab_month)
    cutter = rows["cutter", "test-board"]
    assert (cutter["jobs"], cutter["prototypes"], cutter["series"]) == (1, 1, 0)
    assert cutter["machine_time_s"] == 0  # not done yet
    assert report["totals"] == {
        "jobs": 5,
        "prototypes": 3,
        "series": 1,
        "rejected": 1,
        "machine_time_s": pytest.approx(rows["box-1", "test-pla"]["machine_time_s"]),
        "actual_time_s": pytest.approx(75 * 60),
        "free_value_eur": pytest.approx(rows["box-1", "test-pla"]["free_value_eur"]),
        "makers": 3,  # camille, sam (e-mail written twice), lou by phone
    }
    assert report["rejections"] == [
        {"job": lab_month["rejected"].id, "machine": "box-1", "reason": "Trop fin pour la buse"}
    ]


def test_report_csv_in_french_and_standard_conventions(client, bearer, lab_month):
    first, last = _month()
    url = f"/api/v1/staff/reports?from={first}&to={last}&format=csv"
    french = client.get(url, headers=bearer)
    assert french.status_code == 200 and french.mimetype == "text/csv"
    text = french.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["machine", "matériau", "demandes"]
    box = next(r for r in rows if r[:2] == ["box-1", "test-pla"])
    expected = _expected_box_row(lab_month)
    assert box[2:6] == ["4", "2", "1", "1"]
    assert box[7] == "1,25"  # 75 minutes, in hours with a decimal comma
    assert float(box[6].replace(",", ".")) == pytest.approx(
        expected["machine_time_s"].expected / 3600, abs=0.005
    )
    assert float(box[8].replace(",", ".")) == pytest.approx(
        expected["material_quantity"].expected, abs=0.001
    )
    assert box[9] == "g" and "," in box[10]
    total = rows[-1]
    assert total[0] == "TOTAL" and total[2:6] == ["5", "3", "1", "1"]

    standard = client.get(url + "&dialect=standard", headers=bearer).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(standard)))
    box = next(r for r in rows if r["machine"] == "box-1")
    assert box["actual_time_h"] == "1.25" and box["jobs"] == "4"
    assert float(box["free_value_eur"]) == pytest.approx(
        expected["free_value_eur"].expected, abs=0.005
    )


def test_report_refuses_unreadable_dates(client, bearer):
    bad = client.get("/api/v1/staff/reports?from=01/11/2026", headers=bearer)
    assert bad.status_code == 400 and "AAAA-MM-JJ" in bad.get_json()["error"]["fr"]
    backwards = client.get("/api/v1/staff/reports?from=2026-11-30&to=2026-11-01", headers=bearer)
    assert backwards.status_code == 400 and "avant" in backwards.get_json()["error"]["fr"]
    assert client.get("/api/v1/staff/reports").status_code == 401


def test_report_page_draws_charts_and_links_the_csv(staff_client, lab_month):
    first, last = _month()
    page = html.unescape(
        staff_client.get(f"/staff/reports?from={first}&to={last}").get_data(as_text=True)
    )
    assert "Activité du lab" in page and "Demandes par machine" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2
    assert "Trop fin pour la buse" in page
    assert 'data-total="makers">3<' in page
    csv_link = staff_client.get(f"/staff/reports.csv?from={first}&to={last}")
    assert csv_link.status_code == 200 and csv_link.get_data(as_text=True).startswith("\ufeff")
    staff_client.get("/lang/en")
    english = staff_client.get(f"/staff/reports?from={first}&to={last}").get_data(as_text=True)
    assert "Jobs per machine" in english and "Activity of the lab" in english


def test_report_page_says_when_dates_are_wrong(staff_client):
    page = html.unescape(staff_client.get("/staff/reports?from=hier").get_data(as_text=True))
    assert "AAAA-MM-JJ" in page
