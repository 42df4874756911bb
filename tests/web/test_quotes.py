"""Instant quotes through the API, on the lab's real profiles and plugins: every machine
answers, the maker steers a row, sends it, then revises the job."""

from __future__ import annotations

import io
from pathlib import Path

import ezdxf
import pytest
from sqlalchemy import select

from fabserver.store.models import Artifact, AuditEvent, Job
from fabserver.testing import CORPUS, CORPUS_MISSING, ROOT, SAMPLES, require

CLOSED_BOX = CORPUS / "svg" / "ClosedBox.svg"


@pytest.fixture
def lab_app(tmp_path):
    from fabserver.web import create_app

    app = create_app(
        {
            "DATA_DIR": tmp_path / "data",
            "PROFILE_DIR": ROOT / "profiles",
            "QUEUE_IMMEDIATE": True,
            "TESTING": True,
        }
    )
    yield app
    app.extensions["fabserver"].close()


@pytest.fixture
def lab(lab_app):
    return lab_app.test_client()


def _quote(client, data: bytes, name: str) -> dict:
    response = client.post(
        "/api/v1/quotes",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _row(quote: dict, machine: str) -> dict:
    return next(p for p in quote["plans"] if p["machine"] == machine)


def _one_colour_dxf(path: Path) -> bytes:
    """A plate with a hole, drawn in CAD's default colour 7 on layer 0."""
    doc = ezdxf.new()
    doc.units = ezdxf.units.MM
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (60, 0), (60, 40), (0, 40)], close=True)
    msp.add_circle((30, 20), 8)
    doc.saveas(path)
    return path.read_bytes()


def test_a_quote_lists_the_design_and_plans_every_machine_that_takes_it(lab):
    quote = _quote(lab, (SAMPLES / "laser-keyring.svg").read_bytes(), "keyring.svg")
    design = quote["design"]
    assert design["kind"] == "drawing"
    assert len(design["size_mm"]) == 2 and all(v > 0 for v in design["size_mm"])
    machines = {p["machine"] for p in quote["plans"]}
    assert {"laser", "vinyl"} <= machines
    assert not any(m.startswith("printer") for m in machines)  # printers take meshes
    red = next(c for c in design["colours"] if c["key"] == "stroke:#ff0000")
    assert red["operations"]["laser"] == "cut"
    assert red["length_mm"] > 0 and red["label"]["fr"].startswith("Trait")
    laser = _row(lab.get(f"/api/v1/quotes/{quote['id']}").get_json(), "laser")
    assert laser["state"] == "done", laser["error"]
    assert laser["machine_time_s"] > 0 and laser["cost_eur"] > 0
    assert laser["verdict"]["kind"] == "prototype"
    assert laser["operations"]["stroke:#ff0000"] == "cut"
    preview = lab.get(f"/q/{quote['id']}/plans/{laser['id']}/preview.svg")
    assert preview.status_code == 200 and b"<svg" in preview.data


def test_closed_box_plans_on_the_laser_without_any_option_typed(lab):
    require(CLOSED_BOX.exists(), CORPUS_MISSING)
    quote = _quote(lab, CLOSED_BOX.read_bytes(), "ClosedBox.svg")
    laser = _row(quote, "laser")
    assert laser["state"] == "done", laser["error"]
    assert laser["machine_time_s"] > 60
    assert set(laser["operations"].values()) == {"cut"}
    assert any("cut" in w["en"] for w in laser["warnings"])  # the notice says what was chosen


def test_a_one_colour_dxf_is_cut_on_laser_and_vinyl_with_a_notice(lab, tmp_path):
    quote = _quote(lab, _one_colour_dxf(tmp_path / "plate.dxf"), "plate.dxf")
    colours = quote["design"]["colours"]
    assert len(colours) == 1
    assert colours[0]["operations"]["laser"] == "cut"
    assert colours[0]["operations"]["vinyl"] == "cut"
    for machine in ("laser", "vinyl"):
        row = _row(quote, machine)
        assert row["state"] == "done", row["error"]
        assert row["machine_time_s"] > 0
    assert any("une couleur" in w["fr"] for w in _row(quote, "laser")["warnings"])


def test_copies_over_the_limit_turn_the_row_into_a_series(lab):
    quote = _quote(lab, (SAMPLES / "laser-keyring.svg").read_bytes(), "keyring.svg")
    laser = _row(quote, "laser")
    body = {"machine": "laser", "material": laser["material"], "options": laser["options"]}
    answer = lab.post(f"/api/v1/quotes/{quote['id']}/plans", json={**body, "copies": 2})
    assert answer.status_code == 202
    two = _row(lab.get(f"/api/v1/quotes/{quote['id']}").get_json(), "laser")
    assert two["copies"] == 2 and two["verdict"]["kind"] == "prototype"
    lab.post(f"/api/v1/quotes/{quote['id']}/plans", json={**body, "copies": 3})
    three = _row(lab.get(f"/api/v1/quotes/{quote['id']}").get_json(), "laser")
    assert three["verdict"]["kind"] == "series"
    assert any("3" in r["fr"] and "exemplaire" in r["fr"] for r in three["verdict"]["reasons"])
    assert three["version"] == two["version"] + 1


def test_changing_a_colour_operation_replans_with_it(lab):
    quote = _quote(lab, (SAMPLES / "laser-keyring.svg").read_bytes(), "keyring.svg")
    laser = _row(quote, "laser")
    before = lab.get(f"/q/{quote['id']}/plans/{laser['id']}/preview.svg").data
    body = {
        "machine": "laser",
        "material": laser["material"],
        "copies": 1,
        "options": laser["options"],
        "operations": {"stroke:#ff0000": "score"},
    }
    assert lab.post(f"/api/v1/quotes/{quote['id']}/plans", json=body).status_code == 202
    after = _row(lab.get(f"/api/v1/quotes/{quote['id']}").get_json(), "laser")
    assert after["state"] in ("done", "failed")
    assert after["operations"]["stroke:#ff0000"] == "score"
    if after["state"] == "done":
        assert lab.get(f"/q/{quote['id']}/plans/{after['id']}/preview.svg").data != before


def test_bad_choices_get_a_message(lab):
    quote = _quote(lab, (SAMPLES / "laser-keyring.svg").read_bytes(), "keyring.svg")
    url = f"/api/v1/quotes/{quote['id']}/plans"
    wrong_op = lab.post(url, json={"machine": "laser", "operations": {"stroke:#ff0000": "melt"}})
    assert wrong_op.status_code == 400
    assert "melt" in wrong_op.get_json()["error"]["en"]
    printer = lab.post(url, json={"machine": "printer-1"})
    assert printer.status_code == 400
    assert "does not take" in printer.get_json()["error"]["en"]
    assert lab.get("/api/v1/quotes/nope").status_code == 404
    unsent = lab.post(f"/api/v1/quotes/{quote['id']}/submit", json={"machine": "laser"})
    assert unsent.status_code == 400 and "onsent" in unsent.get_json()["error"]["en"]


def test_sending_keeps_the_plan_and_revising_plans_again(lab, lab_app):
    runtime = lab_app.extensions["fabserver"]
    quote = _quote(lab, (SAMPLES / "laser-keyring.svg").read_bytes(), "keyring.svg")
    laser = _row(quote, "laser")
    sent = lab.post(
        f"/api/v1/quotes/{quote['id']}/submit",
        json={
            "machine": "laser",
            "material": laser["material"],
            "copies": laser["copies"],
            "options": laser["options"],
            "name": "Camille",
            "email": "camille@example.org",
            "consent": True,
        },
    )
    assert sent.status_code == 201, sent.get_data(as_text=True)
    answer = sent.get_json()
    assert answer["state"] == "review"  # kept, not planned again
    with runtime.db.session() as s:
        job = s.scalar(select(Job).where(Job.token == answer["token"]))
        assert job.estimate["machine_time_s"] == laser["machine_time_s"]
        roles = {a.role for a in s.scalars(select(Artifact).where(Artifact.job_id == job.id))}
        assert {"machine", "preview"} <= roles
        job_id = job.id
    page = lab.get(f"/j/{answer['token']}")
    assert page.status_code == 200 and b"revise" in page.data
    assert lab.get(f"/j/{answer['token']}/preview.svg").status_code == 200

    revised = lab.post(
        f"/api/v1/jobs/{answer['token']}/revise",
        json={"machine": "vinyl", "copies": 3},
    )
    assert revised.status_code == 202, revised.get_data(as_text=True)
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert (job.machine_id, job.copies, job.state) == ("vinyl", 3, "review")
        assert job.verdict["kind"] == "series"
        reasons = [
            e.reason for e in s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id))
        ]
        assert "revised" in reasons
    staff_only = lab.post(f"/api/v1/jobs/{answer['token']}/revise", json={"machine": "printer-1"})
    assert staff_only.status_code == 409


def test_a_mesh_quote_offers_its_model_for_the_3d_view(lab):
    quote = _quote(lab, (SAMPLES / "web-block.stl").read_bytes(), "block.stl")
    assert quote["design"]["kind"] == "mesh"
    assert quote["design"]["size_mm"] == [20.0, 20.0, 10.0]
    assert quote["design"]["colours"] == []
    assert any(p["machine"].startswith("printer") for p in quote["plans"])
    model = lab.get(f"/q/{quote['id']}/model.stl")
    assert model.status_code == 200 and len(model.data) == 84 + 50 * 12


def test_retention_keeps_a_live_quote_files_and_removes_an_old_quote(client, runtime):
    from datetime import timedelta

    from fabserver.jobs.retention import collect_garbage
    from fabserver.store.models import Quote, QuotePlan, utcnow

    quote = _quote(client, (SAMPLES / "web-block.stl").read_bytes(), "block.stl")
    with runtime.db.session() as s:
        row = s.scalar(select(Quote).where(Quote.token == quote["id"]))
        kept = {row.extras["model_sha"]}
        kept |= {f["sha256"] for p in s.scalars(select(QuotePlan)) for f in p.files}
    assert len(kept) > 1 and all(runtime.files.exists(f) for f in kept)
    soon = utcnow() + timedelta(days=runtime.settings.upload_retention_days / 2)
    collect_garbage(runtime, now=soon)
    assert all(runtime.files.exists(f) for f in kept)  # the quote is still open
    later = utcnow() + timedelta(days=runtime.settings.upload_retention_days + 1)
    assert collect_garbage(runtime, now=later).uploads_removed == 1
    with runtime.db.session() as s:
        assert s.scalar(select(Quote)) is None and s.scalar(select(QuotePlan)) is None
    assert not any(runtime.files.exists(f) for f in kept)
    assert client.get(f"/api/v1/quotes/{quote['id']}").status_code == 404
