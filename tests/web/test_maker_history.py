"""A maker's history: jobs grouped by contact; the per-maker limit on free prototypes."""

from __future__ import annotations

import html
import shutil
from datetime import timedelta

import fab_testplugins
import pytest
from web_helpers import BLOCK_STL, job_id_of, make_app, staff_post, upload_form

from fabserver.lab.history import normalise_email, normalise_phone
from fabserver.store.models import Job


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6.12.34.56.78", "+33612345678"),
        ("+32 470 12 34 56", "+32470123456"),
        ("", ""),
    ],
)
def test_phone_forms_of_one_number_are_equal(given, key):
    assert normalise_phone(given) == key


def test_email_is_lower_cased():
    assert normalise_email("  Camille.Martin@Example.ORG ") == "camille.martin@example.org"


@pytest.fixture
def limited(tmp_path):
    """The test lab with at most 2 free prototypes per maker over 30 days."""
    profiles = tmp_path / "profiles"
    shutil.copytree(fab_testplugins.PROFILES, profiles)
    policy = (profiles / "policy.toml").read_text()
    (profiles / "policy.toml").write_text(
        "max_prototypes_per_maker = 2\nwindow_days = 30\n" + policy
    )
    app = make_app(tmp_path / "limited", PROFILE_DIR=profiles)
    yield app
    app.extensions["fabserver"].close()


def _job(client, runtime, **maker) -> tuple[int, dict]:
    response = upload_form(client, BLOCK_STL.read_bytes(), **maker)
    assert response.status_code == 303, response.get_data(as_text=True)
    token = response.headers["Location"].rsplit("/", 1)[-1]
    return job_id_of(runtime, token), client.get(f"/api/v1/jobs/{token}").get_json()


def test_third_prototype_of_a_maker_within_the_window_is_a_series(limited):
    runtime = limited.extensions["fabserver"]
    client = limited.test_client()
    _, first = _job(client, runtime, email="camille@example.org", phone="")
    _, second = _job(client, runtime, email="", phone="06 12 34 56 78")
    assert (first["verdict"]["kind"], second["verdict"]["kind"]) == ("prototype", "prototype")
    # the same maker: the e-mail of the first job, the phone of the second, written otherwise
    _, third = _job(client, runtime, email="CAMILLE@example.org", phone="+33612345678")
    assert third["verdict"]["kind"] == "series"
    reasons = [r["fr"] for r in third["verdict"]["reasons"]]
    assert reasons == ["au-delà : 3e prototype sur 30 jours, limite 2"]
    assert [r["en"] for r in third["verdict"]["reasons"]] == [
        "over: 3rd prototype in 30 days, limit 2"
    ]
    # another maker is not concerned
    _, other = _job(client, runtime, email="sam@example.org", name="Sam")
    assert other["verdict"]["kind"] == "prototype"


def test_prototypes_older_than_the_window_or_rejected_do_not_count(limited):
    from web_helpers import STAFF_PASSWORD, STAFF_USER, csrf_token

    from fabserver.web.auth import create_staff

    runtime = limited.extensions["fabserver"]
    create_staff(runtime, STAFF_USER, STAFF_PASSWORD, "Ana")
    client = limited.test_client()
    old_id, _ = _job(client, runtime)
    rejected_id, _ = _job(client, runtime)
    with runtime.db.session() as s:
        old = s.get(Job, old_id)
        old.created_at = old.created_at - timedelta(days=31)
    staff_client = limited.test_client()
    staff_client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(staff_client, "/staff/login"),
            "username": STAFF_USER,
            "password": STAFF_PASSWORD,
        },
    )
    assert (
        staff_post(staff_client, rejected_id, "reject", reason="Mauvais fichier").status_code == 303
    )
    _, now = _job(client, runtime)
    _, next_one = _job(client, runtime)
    assert (now["verdict"]["kind"], next_one["verdict"]["kind"]) == ("prototype", "prototype")
    _, over = _job(client, runtime)
    assert over["verdict"]["kind"] == "series"


def test_staff_see_the_makers_earlier_jobs(staff_client, client, runtime):
    first = upload_form(client, BLOCK_STL.read_bytes(), email="camille@example.org")
    first_id = job_id_of(runtime, first.headers["Location"].rsplit("/", 1)[-1])
    other = upload_form(client, BLOCK_STL.read_bytes(), email="sam@example.org", name="Sam")
    other_id = job_id_of(runtime, other.headers["Location"].rsplit("/", 1)[-1])
    later = upload_form(client, BLOCK_STL.read_bytes(), email="Camille@Example.org")
    later_id = job_id_of(runtime, later.headers["Location"].rsplit("/", 1)[-1])
    page = html.unescape(staff_client.get(f"/staff/jobs/{later_id}").get_data(as_text=True))
    history = page[page.index('data-testid="maker-history"') :]
    history = history[: history.index("</table>")]
    assert f'/staff/jobs/{first_id}"' in history and f'/staff/jobs/{other_id}"' not in history
    first_page = html.unescape(staff_client.get(f"/staff/jobs/{first_id}").get_data(as_text=True))
    assert "Première demande de cette personne" in first_page
