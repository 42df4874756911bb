"""Staff pages: access control, the queue, and every action on a job."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from web_helpers import (
    STAFF_PASSWORD,
    STAFF_USER,
    csrf_token,
    job_id_of,
    sent_to_login,
    staff_post,
    upload_form,
)

from fabserver.store.models import AuditEvent, Job

STAFF_GETS = [
    "/staff/",
    "/staff/machines",
    "/staff/jobs/{id}",
    "/staff/jobs/{id}/files/1",
    "/staff/jobs/{id}/source",
]
STAFF_POSTS = ["approve", "reject", "override", "replan", "dispatch", "done", "cancel"]


def _state(runtime, job_id: int) -> str:
    with runtime.db.session() as s:
        return s.get(Job, job_id).state


def _audit(runtime, job_id: int) -> list[AuditEvent]:
    with runtime.db.session() as s:
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id).order_by(AuditEvent.id))
        )


@pytest.mark.parametrize("path", STAFF_GETS)
def test_makers_are_sent_to_the_login_form_from_staff_pages(client, runtime, job_token, path):
    target = path.format(id=job_id_of(runtime, job_token))
    response = client.get(target)
    assert sent_to_login(response)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == [target]
    login = client.get(response.headers["Location"])
    assert login.status_code == 200 and 'id="username"' in login.get_data(as_text=True)


@pytest.mark.parametrize("action", STAFF_POSTS)
def test_makers_get_403_on_staff_actions(client, runtime, job_token, action):
    job_id = job_id_of(runtime, job_token)
    token = csrf_token(client)
    response = client.post(f"/staff/jobs/{job_id}/{action}", data={"csrf_token": token})
    assert response.status_code == 403
    assert _state(runtime, job_id) == "review"


def test_login_rejects_a_wrong_password(app, staff):
    c = app.test_client()
    token = csrf_token(c, "/staff/login")
    response = c.post(
        "/staff/login", data={"csrf_token": token, "username": STAFF_USER, "password": "nope"}
    )
    assert response.status_code == 401
    assert sent_to_login(c.get("/staff/"))
    response = c.post(
        "/staff/login",
        data={"csrf_token": token, "username": STAFF_USER, "password": STAFF_PASSWORD},
    )
    assert response.status_code == 302 and c.get("/staff/").status_code == 200


def test_login_without_csrf_is_400(app, staff):
    c = app.test_client()
    response = c.post("/staff/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD})
    assert response.status_code == 400


def test_password_is_stored_hashed(runtime, staff):
    assert STAFF_PASSWORD not in staff.password_hash
    assert staff.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_queue_groups_by_machine_and_state_with_totals(staff_client, client, runtime, block_stl):
    tokens = [
        upload_form(client, block_stl, copies=str(n)).headers["Location"].rsplit("/", 1)[-1]
        for n in (1, 3)
    ]
    upload_form(client, block_stl, machine="box-2", material="test-petg")
    html = staff_client.get("/staff/").get_data(as_text=True)
    box1 = html.split('data-machine="box-1"')[1].split('data-machine="')[0]
    assert "En attente de validation (2)" in box1
    # Totals: the sum of the two jobs' estimates, read back through the public API.
    estimates = [client.get(f"/api/v1/jobs/{t}").get_json()["estimate"] for t in tokens]
    grams = sum(e["materials"][0]["quantity"] for e in estimates)
    totals = box1.split('data-testid="totals-box-1"')[1].split("</p>")[0]
    # figures keep their unit on the same line (no-break space)
    assert f"{grams:.1f}".replace(".", ",") + "\u00a0g" in totals
    minutes = round(sum(e["machine_time_s"] for e in estimates) / 60)
    assert f"{minutes}\u00a0min" in totals


def test_full_review_dispatch_done_flow(staff_client, client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    detail = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert "camille@example.org" in detail and 'data-testid="preview"' in detail

    assert staff_post(staff_client, job_id, "approve", note="ok").status_code == 303
    assert _state(runtime, job_id) == "approved"
    assert staff_post(staff_client, job_id, "dispatch").status_code == 303
    assert _state(runtime, job_id) == "dispatched"  # download connector, immediate queue
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        estimate_s = job.estimate["machine_time_s"]
        estimate_g = job.estimate["materials"][0]["quantity"]
        assert job.receipt["download"] is True and job.dispatch_key in job.receipt["key"]

    response = staff_post(staff_client, job_id, "done", actual_time_min="3.5", actual_material="2")
    assert response.status_code == 303
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert job.state == "done" and job.actual_time_s == 210.0 and job.actual_material == 2.0
    page = staff_client.get("/staff/machines").get_data(as_text=True)
    ratio = page.split('data-testid="ratio-box-1"')[1].split("</p>")[0]
    assert f"{210.0 / estimate_s:.2f}".replace(".", ",") in ratio
    assert f"{2.0 / estimate_g:.2f}".replace(".", ",") in ratio

    maker_page = client.get(f"/j/{job_token}").get_data(as_text=True)
    assert 'data-state="done"' in maker_page
    steps = [
        (e.from_state, e.to_state) for e in _audit(runtime, job_id) if e.action == "transition"
    ]
    assert steps == [
        (None, "queued"),
        ("queued", "planning"),
        ("planning", "review"),
        ("review", "approved"),
        ("approved", "dispatched"),
        ("dispatched", "done"),
    ]
    actors = {e.actor for e in _audit(runtime, job_id)}
    assert {"maker", "worker", "staff:ana"} <= actors


def test_reject_needs_a_reason_and_the_maker_sees_it(staff_client, client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    response = staff_post(staff_client, job_id, "reject", reason="  ")
    assert response.status_code == 303 and _state(runtime, job_id) == "review"
    assert "Donnez la raison" in staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    staff_post(staff_client, job_id, "reject", reason="Trop fin pour la buse de 0,4 mm")
    page = client.get(f"/j/{job_token}").get_data(as_text=True)
    assert 'data-state="rejected"' in page and "Trop fin pour la buse de 0,4 mm" in page


def test_override_verdict_with_note(staff_client, client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    assert client.get(f"/api/v1/jobs/{job_token}").get_json()["verdict"]["kind"] == "prototype"
    staff_post(staff_client, job_id, "override", kind="series", note="pièce pour une entreprise")
    verdict = client.get(f"/api/v1/jobs/{job_token}").get_json()["verdict"]
    assert verdict["kind"] == "series" and verdict["note"] == "pièce pour une entreprise"
    assert verdict["overridden_by"] == "staff:ana"
    assert verdict["label"]["fr"].startswith("Série")  # the label follows the new kind
    assert "Décision de l'équipe" in client.get(f"/j/{job_token}").get_data(as_text=True)
    events = [e for e in _audit(runtime, job_id) if e.action == "override"]
    assert len(events) == 1 and events[0].reason == "pièce pour une entreprise"
    journal = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    journal = journal.split('data-testid="audit"', 1)[1]
    assert "verdict changé" in journal and "Calcul en cours → En attente de validation" in journal


def test_replan_with_other_options(staff_client, client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    before = client.get(f"/api/v1/jobs/{job_token}").get_json()
    staff_post(staff_client, job_id, "replan", **{"opt-layer_height": "0.15", "copies": "2"})
    after = client.get(f"/api/v1/jobs/{job_token}").get_json()
    assert after["state"] == "review" and after["options"]["layer_height"] == 0.15
    assert after["copies"] == 2
    # Half the layer height, twice the copies: four times the filament.
    ratio = (
        after["estimate"]["materials"][0]["quantity"]
        / before["estimate"]["materials"][0]["quantity"]
    )
    assert math.isclose(ratio, 4.0, rel_tol=0.05)
    layers = client.get(after["layers_url"]).get_json()["layers"]
    assert len(layers) == math.floor(10 / 0.15 + 1e-9)


def test_replan_refuses_bad_options(staff_client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    staff_post(staff_client, job_id, "replan", **{"opt-layer_height": "9"})
    assert _state(runtime, job_id) == "review"


def test_actions_out_of_order_are_refused(staff_client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    staff_post(staff_client, job_id, "done", actual_time_min="3")
    assert _state(runtime, job_id) == "review"
    staff_post(staff_client, job_id, "dispatch")
    assert _state(runtime, job_id) == "review"
    html = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert "Impossible" in html


def test_cancel(staff_client, client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    staff_post(staff_client, job_id, "cancel", reason="doublon")
    assert _state(runtime, job_id) == "cancelled"


def test_download_machine_file_and_source(staff_client, runtime, job_token, block_stl):
    job_id = job_id_of(runtime, job_token)
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        artifact = next(a for a in job.artifacts if a.role == "machine")
    response = staff_client.get(f"/staff/jobs/{job_id}/files/{artifact.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="job-{job_id}.gcode"'
    lines = response.get_data(as_text=True).splitlines()
    # One G1 line per toolpath move: 34 layers of (1 travel + 4 sides) at 0.3 mm.
    assert lines[0] == "; testbox" and len(lines) - 1 == math.floor(10 / 0.3 + 1e-9) * 5
    source = staff_client.get(f"/staff/jobs/{job_id}/source")
    assert source.data == block_stl
    assert staff_client.get(f"/staff/jobs/{job_id}/files/99999").status_code == 404


def test_failed_job_shows_trace_to_staff_only(staff_client, client, runtime, block_stl):
    token = (
        upload_form(client, block_stl, machine="boom", material="test-board")
        .headers["Location"]
        .rsplit("/", 1)[-1]
    )
    job_id = job_id_of(runtime, token)
    html = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert 'data-testid="trace"' in html and "RuntimeError: kaboom" in html


def test_staff_page_in_english(staff_client, runtime, job_token):
    staff_client.get("/lang/en?next=/")
    html = staff_client.get(f"/staff/jobs/{job_id_of(runtime, job_token)}").get_data(as_text=True)
    assert "Audit trail" in html and "Waiting for review" in html and "Free prototype" in html


def test_api_token_page(staff_client, runtime):
    token = csrf_token(staff_client, "/staff/machines")
    html = staff_client.post(
        "/staff/tokens", data={"csrf_token": token, "name": "tablet"}
    ).get_data(as_text=True)
    value = html.split('data-testid="token">')[1].split("<")[0]
    assert value.startswith("fab_")
    from fabserver.web.auth import token_user

    assert token_user(runtime, value).username == STAFF_USER


def test_logout(staff_client):
    token = csrf_token(staff_client, "/staff/")
    assert staff_client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert sent_to_login(staff_client.get("/staff/"))


def test_add_staff_command(tmp_path):
    from click.testing import CliRunner
    from web_helpers import make_app

    from fabserver.cli import main
    from fabserver.web.auth import check_login

    data = tmp_path / "data"
    result = CliRunner().invoke(
        main,
        ["add-staff", "lou", "--data", str(data), "--api-token"],
        input="s3cret-passw0rd\ns3cret-passw0rd\n",
    )
    assert result.exit_code == 0, result.output
    assert "API token (shown once): fab_" in result.output
    app = make_app(tmp_path)
    runtime = app.extensions["fabserver"]
    assert check_login(runtime, "lou", "s3cret-passw0rd") is not None
    assert check_login(runtime, "lou", "wrong") is None
    again = CliRunner().invoke(
        main, ["add-staff", "lou", "--data", str(data), "--password", "another-one"]
    )
    assert again.exit_code != 0 and "already exists" in again.output
    runtime.close()


def test_machine_status_endpoint(staff_client, client, monkeypatch):
    from fabserver.dispatch import MachineState
    from fabserver.web import staff as staff_views

    class Printing:
        def status(self):
            return MachineState("printing", 0.25)

    monkeypatch.setattr(staff_views, "connector_for", lambda machine: Printing())
    live = staff_client.get("/staff/machines/box-1/status.json").get_json()
    assert (live["state"], live["progress"], live["message"]) == ("printing", 0.25, None)
    assert live["label"] == {"fr": "En cours", "en": "Printing"}
    # No dispatched job on box-1 is printing that file: no estimate of ours, no host figure.
    assert live["job"] is None and live["remaining_text"] is None
    assert staff_client.get("/staff/machines/nope/status.json").status_code == 404
    assert client.get("/staff/machines/box-1/status.json").status_code == 403
    assert 'data-status-url="/staff/machines/box-1/status.json"' in staff_client.get(
        "/staff/"
    ).get_data(as_text=True)


def test_broken_plugins_and_unavailable_machines_are_shown_to_staff(tmp_path):
    from web_helpers import STAFF_PASSWORD, STAFF_USER, fab_testplugins

    from fabserver.registry import BrokenPlugin
    from fabserver.web import create_app
    from fabserver.web.auth import create_staff

    registry = fab_testplugins.registry()
    del registry.plugins["testcut"]
    registry.broken["testcut"] = BrokenPlugin("testcut", "testcut = x:Y", "ImportError: no x")
    app = create_app(
        {
            "DATA_DIR": tmp_path / "d",
            "PROFILE_DIR": fab_testplugins.PROFILES,
            "QUEUE_IMMEDIATE": True,
        },
        registry=registry,
    )
    runtime = app.extensions["fabserver"]
    create_staff(runtime, STAFF_USER, STAFF_PASSWORD)
    c = app.test_client()
    assert 'value="cutter"' not in c.get("/").get_data(as_text=True)  # not offered
    c.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(c, "/staff/login"),
            "username": STAFF_USER,
            "password": STAFF_PASSWORD,
        },
    )
    html = c.get("/staff/machines").get_data(as_text=True)
    problems = html.split('data-testid="plugin-problems"')[1].split("</div>")[0]
    assert "Découpeuse d&#39;essai" in problems and "ImportError: no x" in problems
    runtime.close()
