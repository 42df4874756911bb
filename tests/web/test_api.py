"""The JSON API: OpenAPI document, public routes, token-authenticated staff routes."""

from __future__ import annotations

import io
import json
import re

import pytest
from web_helpers import BLOCK_STL, job_id_of

from fabserver.web.auth import issue_token
from fabserver.web.openapi import openapi_document


@pytest.fixture
def bearer(runtime, staff) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(runtime, staff.id, 'tests')}"}


def _api_rules(app) -> set[tuple[str, str]]:
    """(path in OpenAPI form, method) of every route the API blueprint serves."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((path, method.lower()))
    return out


def test_openapi_document_is_valid_and_describes_every_route(client, app):
    from openapi_spec_validator import validate

    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc == json.loads(json.dumps(openapi_document()))
    validate(doc)
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert documented == _api_rules(app)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path.startswith("/staff/"):
                assert op["security"] == [{"bearerAuth": []}], (path, method)


def test_machines_lists_materials_and_option_schemas(client, runtime):
    machines = {m["id"]: m for m in client.get("/api/v1/machines").get_json()["machines"]}
    assert set(machines) == set(runtime.profiles.machines)
    assert [m["id"] for m in machines["box-2"]["materials"]] == ["test-petg", "test-pla"]
    names = [o["name"] for o in machines["box-1"]["options"]]
    assert names == [o.name for o in runtime.registry.plugins["testbox"].option_schema()]


def _create(client, data=None, **fields):
    form = {
        "file": (io.BytesIO(data if data is not None else BLOCK_STL.read_bytes()), "block.stl"),
        "machine": "box-1",
        "material": "test-pla",
        "copies": "2",
        "name": "Sam",
        "phone": "0600000000",
        "consent": "1",
        "options": json.dumps({"layer_height": 0.4}),
        **fields,
    }
    return client.post("/api/v1/jobs", data=form, content_type="multipart/form-data")


def test_create_job_without_csrf_and_follow_it(client):
    response = _create(client)
    assert response.status_code == 201
    body = response.get_json()
    job = client.get(f"/api/v1/jobs/{body['token']}").get_json()
    assert job["state"] == "review" and job["copies"] == 2 and job["options"]["layer_height"] == 0.4
    assert body["url"].endswith(f"/j/{body['token']}")


def test_create_job_errors(client):
    assert _create(client, consent="0").status_code == 400
    assert _create(client, options="[1, 2]").status_code == 400
    broken = _create(client, data=b"solid nothing\nendsolid")
    assert broken.status_code == 422 and set(broken.get_json()["error"]) == {"fr", "en"}
    assert _create(client, machine="cutter", material="test-board").status_code == 400
    assert client.get("/api/v1/jobs/nope").status_code == 404
    assert client.get("/api/v1/jobs/nope").get_json()["error"]["en"].startswith("Page not found")


def test_staff_routes_need_a_token(client, runtime, job_token):
    job_id = job_id_of(runtime, job_token)
    for path in ("/api/v1/staff/jobs", f"/api/v1/staff/jobs/{job_id}"):
        response = client.get(path)
        assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]
        bad = client.get(path, headers={"Authorization": "Bearer fab_wrong"})
        assert bad.status_code == 401
    assert client.post(f"/api/v1/staff/jobs/{job_id}/approve", json={}).status_code == 401


def test_staff_flow_through_the_api(client, runtime, bearer, job_token):
    job_id = job_id_of(runtime, job_token)
    listed = client.get("/api/v1/staff/jobs?state=review", headers=bearer).get_json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    assert client.get("/api/v1/staff/jobs?state=bogus", headers=bearer).status_code == 400
    detail = client.get(f"/api/v1/staff/jobs/{job_id}", headers=bearer).get_json()
    assert detail["maker"]["email"] == "camille@example.org" and detail["files"]

    def act(name, **body):
        return client.post(f"/api/v1/staff/jobs/{job_id}/{name}", headers=bearer, json=body)

    assert act("override", kind="series", note="commande").get_json()["verdict"]["kind"] == "series"
    assert act("done", actual_time_min=1).status_code == 409  # not dispatched yet
    assert act("approve").get_json()["state"] == "approved"
    assert act("dispatch").get_json()["state"] == "dispatched"
    untimed = act("done")  # the download connector reports nothing: the time must be typed
    assert untimed.status_code == 409 and "did not report" in untimed.get_json()["error"]["en"]
    done = act("done", actual_time_min=2.5, actual_material=1.2).get_json()
    assert done["state"] == "done" and done["actual"]["time_s"] == 150.0
    assert done["actual"]["source"] == "staff" and done["actual"]["material_quantity"] == 1.2
    assert {e["actor"] for e in done["audit"]} >= {"staff:ana", "worker", "maker"}
    file_id = detail["files"][0]["id"]
    download = client.get(f"/api/v1/staff/jobs/{job_id}/files/{file_id}", headers=bearer)
    assert download.status_code == 200 and download.data.startswith(b"; testbox")


def test_replan_and_reject_through_the_api(client, runtime, bearer, job_token):
    job_id = job_id_of(runtime, job_token)
    url = f"/api/v1/staff/jobs/{job_id}"
    replanned = client.post(f"{url}/replan", headers=bearer, json={"options": {"infill": "40%"}})
    assert replanned.get_json()["options"]["infill"] == 40.0
    assert replanned.get_json()["plan_version"] == 2
    bad = client.post(f"{url}/replan", headers=bearer, json={"options": {"nozzle": 1}})
    assert bad.status_code == 409 and "nozzle" in bad.get_json()["error"]["en"]
    rejected = client.post(f"{url}/reject", headers=bearer, json={"reason": "hors sujet"})
    assert rejected.get_json()["rejection_reason"] == "hors sujet"
    assert client.post(f"{url}/approve", headers=bearer, json={}).status_code == 409
