"""Maker pages through the Flask test client: the form, the job page and the bad inputs."""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET

from sqlalchemy import func, select
from web_helpers import (
    BLOCK_STL,
    csrf_token,
    job_id_of,
    make_app,
    upload_api,
    upload_form,
)

from fabserver.store.models import Job, Upload

SVG_BADGE = b"""<svg xmlns="http://www.w3.org/2000/svg" width="40mm" height="20mm" viewBox="0 0 40 20">
<rect x="2" y="2" width="36" height="16" fill="none" stroke="#ff0000"/></svg>"""


def test_form_lists_machines_materials_and_generated_options(client, runtime):
    html = client.get("/").get_data(as_text=True)
    # Every machine whose plugin is installed, tagged with what it accepts.
    assert 'value="box-1" data-accepts="mesh" data-plugin="testbox"' in html
    assert 'value="cutter" data-accepts="drawing" data-plugin="testcut"' in html
    # Materials carry the machines they fit, from the profiles.
    assert 'value="test-petg" data-machines="box-2"' in html
    assert 'value="test-pla" data-machines="box-1 box-2"' in html
    # Option fields come from each plugin's schema.
    for plugin in runtime.registry.plugins.values():
        for option in plugin.option_schema():
            if option.name != "copies":
                assert f'name="opt-{plugin.id}-{option.name}"' in html
    assert 'name="opt-testbox-layer_height"' in html and 'min="0.1"' in html and 'max="0.6"' in html
    assert '<option value="lines"' in html  # a choice option becomes a select
    assert 'type="checkbox" name="opt-testbox-brim"' in html
    assert html.count('name="csrf_token"') >= 1
    assert 'lang="fr"' in html and "Envoyer un fichier au lab" in html


def test_upload_plans_and_shows_estimate_verdict_preview_layers(client, runtime, block_stl):
    response = upload_form(client, block_stl, **{"opt-testbox-layer_height": "0.5"})
    assert response.status_code == 303
    token = response.headers["Location"].rsplit("/", 1)[-1]
    assert len(token) >= 32  # unguessable: 24 random bytes

    page = client.get(f"/j/{token}").get_data(as_text=True)
    assert 'data-state="review"' in page
    assert 'data-testid="machine-time"' in page and 'data-testid="verdict"' in page
    assert "Prototype gratuit" in page

    status = client.get(f"/j/{token}/status.json").get_json()
    assert status["state"] == "review" and status["progress"] == 1.0

    svg = client.get(f"/j/{token}/preview.svg")
    assert svg.mimetype == "image/svg+xml"
    root = ET.fromstring(svg.data)
    assert root.tag.endswith("svg")
    assert "script-src" not in svg.headers["Content-Security-Policy"]

    layers = client.get(f"/j/{token}/layers.json").get_json()
    # 10 mm tall, 0.5 mm layers: computed here independently of the plugin.
    assert len(layers["layers"]) == math.floor(10 / 0.5 + 1e-9)
    assert layers["layers"][-1]["z"] == 10.0

    job = client.get(f"/api/v1/jobs/{token}").get_json()
    assert job["options"]["layer_height"] == 0.5
    # Filament: 4 sides × 20 mm per layer, 0.5 mm of filament per extruding move.
    grams = 20 * 4 * 0.5 * 2.98 / 1000
    assert math.isclose(job["estimate"]["materials"][0]["quantity"], grams, rel_tol=1e-9)
    assert [h["to"] for h in job["history"]] == ["queued", "planning", "review"]


def test_upload_is_stored_by_content_and_its_name_never_used_as_a_path(client, runtime, block_stl):
    import hashlib

    response = upload_form(client, block_stl, filename="../../../../tmp/evil.stl")
    assert response.status_code == 303
    sha = hashlib.sha256(block_stl).hexdigest()
    stored = runtime.files.path(sha)
    assert stored.read_bytes() == block_stl
    assert stored.is_relative_to(runtime.settings.data_dir)
    with runtime.db.session() as s:
        upload = s.scalar(select(Upload).where(Upload.sha256 == sha))
    assert upload.original_name == "../../../../tmp/evil.stl"
    assert upload.media_type == "model/stl"  # from the content


def test_upload_is_fsynced_before_the_reply(client, block_stl, monkeypatch):
    import os

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    response = upload_form(client, block_stl)
    assert response.status_code == 303
    assert len(synced) >= 2  # the file, then its folder


def test_broken_file_gets_a_friendly_page_and_is_kept(client, runtime):
    broken = BLOCK_STL.read_bytes()[:300]  # a binary STL cut short
    response = upload_form(client, broken, filename="cut.stl")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="broken-file"' in html
    assert "Traceback" not in html and "Error" not in html.split("<main")[1]
    assert "Rien n'est perdu" in html
    with runtime.db.session() as s:
        assert s.scalar(select(func.count(Upload.id))) == 1  # the upload itself is kept
        assert s.scalar(select(func.count(Job.id))) == 0


def test_broken_file_page_in_english(client):
    client.get("/lang/en?next=/")
    response = upload_form(client, b"this is not a design at all", filename="notes.stl")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'lang="en"' in html
    assert "This file cannot be used" in html and "Nothing was lost" in html


def test_oversize_upload_is_413_with_a_friendly_page(tmp_path, block_stl):
    app = make_app(tmp_path, MAX_UPLOAD_MB=0.0005)  # ~500 bytes; the STL is 684
    client = app.test_client()
    response = upload_form(client, block_stl)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "Fichier trop gros" in html and "Traceback" not in html
    app.extensions["fabserver"].close()


def test_form_without_csrf_token_is_400(client, block_stl):
    response = client.post(
        "/",
        data={"file": (io.BytesIO(block_stl), "a.stl"), "machine": "box-1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Rechargez la page" in response.get_data(as_text=True)


def test_machine_that_does_not_take_the_file_is_refused_and_the_file_kept(
    client, runtime, block_stl
):
    response = upload_form(client, block_stl, machine="cutter", material="test-board")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "ne prend pas ce type de fichier" in html
    assert "Imprimante d&#39;essai 1" in html  # names the machines that do
    ref = html.split('name="design_ref" value="')[1].split('"')[0]
    # The maker fixes the machine only; the file is not sent again.
    response = upload_form(client, None, design_ref=ref)
    assert response.status_code == 303
    with runtime.db.session() as s:
        assert s.scalar(select(func.count(Upload.id))) == 1


def test_forged_design_reference_is_ignored(client):
    response = upload_form(client, None, design_ref="1.forged")
    assert response.status_code == 400
    assert "Choisissez un fichier" in response.get_data(as_text=True)


def test_material_must_fit_the_machine(client, block_stl):
    response = upload_form(client, block_stl, machine="box-1", material="test-petg")
    assert response.status_code == 400
    assert "Choisissez un matériau pour" in response.get_data(as_text=True)


def test_consent_and_contact_are_required(client, block_stl):
    response = upload_form(client, block_stl, consent="")
    assert response.status_code == 400
    assert "accepter les règles" in response.get_data(as_text=True)
    response = upload_form(client, block_stl, email="", phone="")
    assert response.status_code == 400
    assert "e-mail ou un téléphone" in response.get_data(as_text=True)
    assert upload_form(client, block_stl, email="", phone="06 12 34 56 78").status_code == 303


def test_option_out_of_bounds_is_explained(client, block_stl):
    response = upload_form(client, block_stl, **{"opt-testbox-layer_height": "2"})
    assert response.status_code == 400
    assert "hors des bornes" in response.get_data(as_text=True)


def test_drawing_goes_to_the_cutter(client):
    response = upload_form(client, SVG_BADGE, "badge.svg", machine="cutter", material="test-board")
    assert response.status_code == 303
    token = response.headers["Location"].rsplit("/", 1)[-1]
    job = client.get(f"/api/v1/jobs/{token}").get_json()
    assert job["state"] == "review" and job["design"]["kind"] == "drawing"
    assert client.get(f"/j/{token}/layers.json").status_code == 404  # one layer: no slider


def test_plugin_that_raises_fails_the_job_kindly(client, runtime, block_stl):
    response = upload_form(client, block_stl, machine="boom", material="test-board")
    token = response.headers["Location"].rsplit("/", 1)[-1]
    html = client.get(f"/j/{token}").get_data(as_text=True)
    assert 'data-state="failed"' in html and 'data-testid="error"' in html
    assert "kaboom" not in html and "Traceback" not in html
    with runtime.db.session() as s:
        job = s.get(Job, job_id_of(runtime, token))
        assert "RuntimeError: kaboom" in job.error_detail  # the trace, for staff


def test_language_switch_and_no_open_redirect(client):
    response = client.get("/lang/en?next=/j/unknown")
    assert response.status_code == 302 and response.headers["Location"] == "/j/unknown"
    html = client.get("/").get_data(as_text=True)
    assert "Send a design to the lab" in html and 'aria-current="true" class="on">EN' in html
    assert client.get("/lang/fr?next=https://evil.example/").headers["Location"] == "/"
    assert client.get("/lang/fr?next=//evil.example/").headers["Location"] == "/"
    assert "Envoyer un fichier au lab" in client.get("/").get_data(as_text=True)


def test_unknown_job_link_is_404(client):
    response = client.get("/j/not-a-real-token")
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)
    assert client.get("/j/x/status.json").status_code == 404


def test_maker_can_cancel_before_approval_only(client, runtime, job_token):
    token = csrf_token(client, f"/j/{job_token}")
    assert client.post(f"/j/{job_token}/cancel", data={"csrf_token": token}).status_code == 303
    assert client.get(f"/api/v1/jobs/{job_token}").get_json()["state"] == "cancelled"


def test_status_json_is_not_cached(client, job_token):
    response = client.get(f"/j/{job_token}/status.json")
    assert response.headers["Cache-Control"] == "no-store"
    assert set(json.loads(response.data)) >= {"state", "progress", "stage"}


def test_incomplete_email_is_refused(client, block_stl):
    response = upload_form(client, block_stl, email="camille@", phone="")
    assert response.status_code == 400
    assert "semble incomplète" in response.get_data(as_text=True)


def test_upload_parse_is_bounded_in_time(client, runtime):
    # A 330,000-triangle sphere (16 MB) takes its child far longer than the limit to read;
    # a small block could be read before the server first looks, on a loaded machine.
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=7, radius=40.0)
    data = trimesh.exchange.stl.export_stl(sphere)
    runtime.settings.load_timeout_s = 1e-3
    response = upload_form(client, data)
    assert response.status_code == 422
    assert 'data-testid="broken-file"' in response.get_data(as_text=True)
    with runtime.db.session() as s:
        assert s.scalar(select(func.count(Upload.id))) == 1  # still kept


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # nothing inline to allow


def test_behind_a_proxy_links_and_cookies_follow_https(tmp_path, block_stl):
    app = make_app(tmp_path, BEHIND_PROXY=True)
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "fab.example.org"}
    response = upload_api(
        client, block_stl, "b.stl", headers, name="A", email=None, phone="0600000000"
    )
    assert response.get_json()["url"].startswith("https://fab.example.org/j/")
    assert "Secure" in client.get("/lang/en", headers=headers).headers["Set-Cookie"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["fabserver"].close()


def test_job_page_lists_the_settings_used(client, block_stl):
    response = upload_form(
        client, block_stl, **{"opt-testbox-pattern": "lines", "opt-testbox-infill": "30"}
    )
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    settings = html.split('data-testid="settings">')[1].split("</dl>")[0]
    assert "<dt>Motif</dt><dd>Lignes</dd>" in settings
    assert "<dt>Remplissage</dt><dd>30 %</dd>" in settings
    assert "<dt>Hauteur de couche</dt><dd>0,3 mm</dd>" in settings
    assert "<dt>Bordure</dt><dd>non</dd>" in settings
