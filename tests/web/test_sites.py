"""A lab of three sites on one server: profiles, per-site dispatch queues, staff who see their
own sites only (pages and API), the maker's choice of site, stock and reports per site."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fab_testplugins import SITES, three_site_profiles
from web_helpers import csrf_token, make_app, upload_form

from fabserver.cli import main
from fabserver.errors import ProfileError
from fabserver.profiles import DEFAULT_SITE_ID, load_profiles


@pytest.fixture
def site_profiles(tmp_path):
    return three_site_profiles(tmp_path / "profiles", tmp_path / "outbox")


@pytest.fixture
def sites_app(tmp_path, site_profiles):
    # A real (SQLite) queue, not run at once: messages stay where they were sent.
    application = make_app(tmp_path, PROFILE_DIR=site_profiles, QUEUE_IMMEDIATE=False)
    yield application
    application.extensions["fabserver"].close()


def _login(app, username: str, password: str):
    client = app.test_client()
    answer = client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(client, "/staff/login"),
            "username": username,
            "password": password,
        },
    )
    assert answer.status_code == 302
    return client


def _planned_job(runtime, machine: str, block_stl: bytes) -> int:
    """A job of ``machine`` planned in this process, as a worker would."""
    from fabserver.jobs import intake, service
    from fabserver.jobs.tasks import plan_job

    upload = intake.receive(runtime, block_stl, "block.stl")
    design = intake.record_design(
        runtime, upload, intake.load_bounded(runtime, block_stl, "block.stl")
    )
    maker = service.Maker("Zoé", email="zoe@example.org")
    job = service.submit(runtime, design, machine, "test-pla", 1, {}, maker)
    plan_job(runtime, job.id)
    return job.id


# --- profiles ---------------------------------------------------------------------------


def test_shipped_profiles_put_every_machine_at_saint_omer():
    profiles = load_profiles()
    assert list(profiles.sites) == ["saint-omer"]
    assert {m.site for m in profiles.machines.values()} == {"saint-omer"}
    assert profiles.site("saint-omer").name.fr == "Saint-Omer"


def test_a_lab_without_site_files_is_one_default_site(tmp_path):
    import shutil

    from fab_testplugins import PROFILES

    shutil.copytree(PROFILES, tmp_path / "p")
    profiles = load_profiles(tmp_path / "p")
    assert list(profiles.sites) == [DEFAULT_SITE_ID]
    assert {m.site for m in profiles.machines.values()} == {DEFAULT_SITE_ID}


def test_three_sites_each_with_its_machines(site_profiles):
    profiles = load_profiles(site_profiles)
    assert set(profiles.sites) == set(SITES)
    for site, machine in SITES.items():
        assert machine in [m.id for m in profiles.machines_at(site)]
    assert profiles.site("boulogne").name.en == "Boulogne-sur-Mer"


def test_a_machine_must_name_its_site_when_there_are_several(site_profiles):
    path = site_profiles / "machines" / "cutter.toml"
    path.write_text(path.read_text().replace('site = "saint-omer"\n', ""))
    with pytest.raises(ProfileError) as caught:
        load_profiles(site_profiles)
    assert caught.value.file == "machines/cutter.toml" and caught.value.key == "site"


def test_a_machine_at_an_unknown_site_is_named(site_profiles):
    path = site_profiles / "machines" / "cutter.toml"
    path.write_text(path.read_text().replace('"saint-omer"', '"calais"'))
    with pytest.raises(ProfileError, match="calais") as caught:
        load_profiles(site_profiles)
    assert caught.value.key == "site"


def test_site_policy_and_prices_override_the_labs(site_profiles):
    (site_profiles / "sites" / "arras.toml").write_text(
        'name = "Arras"\n[policy.prototype]\nmax_copies = 3\n[prices.test-pla]\ng = 0.05\n'
    )
    profiles = load_profiles(site_profiles)
    assert profiles.policy_for("arras").prototype.max_copies == 3
    assert profiles.policy_for("boulogne") == profiles.policy
    pla = profiles.material("test-pla")
    assert profiles.priced_for(pla, "arras").prices["g"] == 0.05
    assert profiles.priced_for(pla, "boulogne").prices == pla.prices


def test_a_bad_site_file_names_file_and_key(site_profiles):
    (site_profiles / "sites" / "arras.toml").write_text('name = "Arras"\n[prices.nothing]\ng = 1\n')
    with pytest.raises(ProfileError) as caught:
        load_profiles(site_profiles)
    assert (caught.value.file, caught.value.key) == ("sites/arras.toml", "prices.nothing")
    (site_profiles / "sites" / "arras.toml").write_text(
        'name = "Arras"\n[policy.prototype]\nmax_copies = 0\n'
    )
    with pytest.raises(ProfileError) as caught:
        load_profiles(site_profiles)
    assert caught.value.key == "policy.prototype.max_copies"


# --- CLI --------------------------------------------------------------------------------


def test_cli_lists_sites_and_machines_with_their_site(site_profiles):
    runner = CliRunner()
    result = runner.invoke(main, ["--profiles", str(site_profiles), "sites", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert set(rows) == set(SITES)
    assert rows["arras"]["machines"] == ["boom", "box-3"]
    assert rows["boulogne"]["name"] == "Boulogne-sur-Mer"
    result = runner.invoke(main, ["--profiles", str(site_profiles), "machines", "--json"])
    assert {row["id"]: row["site"] for row in json.loads(result.output)}["box-2"] == "boulogne"


def test_cli_add_staff_asks_for_sites_in_a_network(tmp_path, site_profiles):
    runner = CliRunner()
    base = ["--profiles", str(site_profiles), "add-staff"]
    data = ["--data", str(tmp_path / "data"), "--password", "long-enough"]
    result = runner.invoke(main, [*base, "ana", *data])
    assert result.exit_code != 0 and "--site" in result.output
    result = runner.invoke(main, [*base, "ana", *data, "--site", "calais"])
    assert result.exit_code != 0 and "no site 'calais'" in result.output
    result = runner.invoke(main, [*base, "ana", *data, "--site", "arras", "--site", "boulogne"])
    assert result.exit_code == 0, result.output
    assert "arras, boulogne" in result.output
    result = runner.invoke(main, [*base, "bob", *data, "--all-sites"])
    assert result.exit_code == 0 and "every site" in result.output


# --- queues -----------------------------------------------------------------------------


def test_dispatch_goes_to_the_queue_of_the_jobs_site(sites_app, block_stl):
    from fabserver.jobs import service

    runtime = sites_app.extensions["fabserver"]
    assert set(runtime.site_hueys) == set(SITES)
    job_id = _planned_job(runtime, "box-3", block_stl)
    service.approve(runtime, job_id, "staff:test")
    before = {site: huey.pending_count() for site, huey in runtime.site_hueys.items()}
    service.request_dispatch(runtime, job_id, "staff:test")
    after = {site: huey.pending_count() for site, huey in runtime.site_hueys.items()}
    assert {site: after[site] - before[site] for site in SITES} == {
        "saint-omer": 0,
        "boulogne": 0,
        "arras": 1,
    }


def test_a_printers_follow_up_is_asked_from_its_own_site(sites_app, monkeypatch):
    """The question "how did the print end?" goes to the host on the site's network, so it
    is queued on that site's queue, like the dispatch."""
    from types import SimpleNamespace

    from fabserver.jobs import tasks

    runtime = sites_app.extensions["fabserver"]
    monkeypatch.setattr(
        tasks, "connector_for", lambda machine: SimpleNamespace(follow_interval=lambda: 60.0)
    )
    machine = runtime.profiles.machine("box-3")
    before = {site: huey.pending_count() for site, huey in runtime.site_hueys.items()}
    shared = runtime.huey.pending_count()
    tasks.start_following(runtime, 12345, machine)
    after = {site: huey.pending_count() for site, huey in runtime.site_hueys.items()}
    assert {site: after[site] - before[site] for site in SITES} == {
        "saint-omer": 0,
        "boulogne": 0,
        machine.site: 1,
    }
    assert runtime.huey.pending_count() == shared


def test_a_single_site_lab_dispatches_on_the_shared_queue(app, runtime):
    assert runtime.site_hueys == {}


# --- API --------------------------------------------------------------------------------


def test_api_sites_and_machines_by_site(sites_app, block_stl):
    runtime = sites_app.extensions["fabserver"]
    _planned_job(runtime, "box-2", block_stl)
    client = sites_app.test_client()
    sites = {s["id"]: s for s in client.get("/api/v1/sites").get_json()["sites"]}
    assert set(sites) == set(SITES)
    assert sites["boulogne"]["queue"]["jobs"] == 1 and sites["arras"]["queue"]["jobs"] == 0
    assert sites["boulogne"]["queue"]["machine_time_s"] > 0
    assert sites["arras"]["name"] == {"fr": "Arras", "en": "Arras"}
    machines = client.get("/api/v1/machines?site=arras").get_json()["machines"]
    assert {m["id"] for m in machines} == {"box-3", "boom"}
    assert all(m["site"] == "arras" for m in machines)
    unknown = client.get("/api/v1/machines?site=calais")
    assert unknown.status_code == 400 and "calais" in unknown.get_json()["error"]["fr"]


def test_api_staff_token_of_one_site_gets_403_on_another_sites_job(sites_app, block_stl):
    from fabserver.web.auth import create_staff, issue_token

    runtime = sites_app.extensions["fabserver"]
    omer = _planned_job(runtime, "box-1", block_stl)
    arras = _planned_job(runtime, "box-3", block_stl)
    user = create_staff(runtime, "arras", "password-arras", sites=["arras"])
    token = {"Authorization": f"Bearer {issue_token(runtime, user.id)}"}
    client = sites_app.test_client()
    assert client.get(f"/api/v1/staff/jobs/{omer}", headers=token).status_code == 403
    for action in ("approve", "reject", "cancel", "dispatch"):
        answer = client.post(f"/api/v1/staff/jobs/{omer}/{action}", headers=token, json={})
        assert answer.status_code == 403, action
    assert client.get(f"/api/v1/staff/jobs/{arras}", headers=token).get_json()["site"] == "arras"
    assert client.post(f"/api/v1/staff/jobs/{arras}/approve", headers=token).status_code == 200
    assert client.get(f"/api/v1/jobs/{_token(runtime, omer)}").get_json()["site"] == "saint-omer"


def test_api_staff_lists_of_another_site_are_refused_with_the_holders_sites(sites_app):
    from fabserver.web.auth import create_staff, issue_token

    runtime = sites_app.extensions["fabserver"]
    user = create_staff(runtime, "arras", "password-arras", sites=["arras"])
    token = {"Authorization": f"Bearer {issue_token(runtime, user.id)}"}
    client = sites_app.test_client()
    for path in ("/api/v1/staff/jobs", "/api/v1/staff/stock", "/api/v1/staff/reports"):
        answer = client.get(f"{path}?site=saint-omer", headers=token)
        assert answer.status_code == 403, path
        assert answer.get_json()["error"]["en"] == (
            "This is not your site: your account works on arras."
        ), path
        assert client.get(f"{path}?site=arras", headers=token).status_code == 200, path


def _token(runtime, job_id: int) -> str:
    from fabserver.store.models import Job

    with runtime.db.session() as s:
        return s.get(Job, job_id).token


# --- staff pages ------------------------------------------------------------------------


def test_staff_pages_show_only_the_staff_members_sites(sites_app, block_stl):
    from fabserver.web.auth import create_staff

    runtime = sites_app.extensions["fabserver"]
    omer = _planned_job(runtime, "box-1", block_stl)
    arras = _planned_job(runtime, "box-3", block_stl)
    create_staff(runtime, "arras", "password-arras", sites=["arras"])
    create_staff(runtime, "network", "password-all", all_sites=True)
    client = _login(sites_app, "arras", "password-arras")
    queue = client.get("/staff/").get_data(as_text=True)
    assert 'data-machine="box-3"' in queue and 'data-machine="box-1"' not in queue
    assert f'href="/staff/jobs/{arras}"' in queue and f'href="/staff/jobs/{omer}"' not in queue
    assert "Arras" in queue
    assert client.get(f"/staff/jobs/{omer}").status_code == 403
    answer = client.post(
        f"/staff/jobs/{omer}/approve", data={"csrf_token": csrf_token(client, "/staff/")}
    )
    assert answer.status_code == 403
    admin = _login(sites_app, "network", "password-all").get("/staff/").get_data(as_text=True)
    assert f'href="/staff/jobs/{arras}"' in admin and f'href="/staff/jobs/{omer}"' in admin


def test_stock_belongs_to_a_site(sites_app):
    from fabserver.lab import stockroom
    from fabserver.web.auth import create_staff

    runtime = sites_app.extensions["fabserver"]
    create_staff(runtime, "duo", "password-duo", sites=["arras", "boulogne"])
    client = _login(sites_app, "duo", "password-duo")
    form = {"material": "test-board", "width_mm": "300", "height_mm": "200", "count": "1"}
    token = csrf_token(client, "/staff/stock")
    client.post("/staff/stock", data={"csrf_token": token, **form})  # no site: refused
    client.post("/staff/stock", data={"csrf_token": token, **form, "site": "saint-omer"})
    client.post("/staff/stock", data={"csrf_token": token, **form, "site": "arras"})
    with runtime.db.session() as s:
        pieces = [(p.site, p.material_id) for p in stockroom.list_pieces(s)]
        assert pieces == [("arras", "test-board")]
        assert stockroom.available(s, "test-board", site="boulogne") == []
        assert len(stockroom.available(s, "test-board", site="arras")) == 1
    page = client.get("/staff/stock").get_data(as_text=True)
    assert 'name="site"' in page and "Boulogne-sur-Mer" in page


def test_reports_per_site_and_for_the_network(sites_app, block_stl):
    from fabserver.web.auth import create_staff, issue_token

    runtime = sites_app.extensions["fabserver"]
    for machine in ("box-1", "box-1", "box-3"):
        _planned_job(runtime, machine, block_stl)
    admin = create_staff(runtime, "network", "password-all", all_sites=True)
    token = {"Authorization": f"Bearer {issue_token(runtime, admin.id)}"}
    client = sites_app.test_client()
    network = client.get("/api/v1/staff/reports", headers=token).get_json()
    assert network["totals"]["jobs"] == 3
    assert {site: t["jobs"] for site, t in network["by_site"].items()} == {
        "saint-omer": 2,
        "arras": 1,
    }
    arras = client.get("/api/v1/staff/reports?site=arras", headers=token).get_json()
    assert arras["totals"]["jobs"] == 1 and arras["sites"] == ["arras"]
    page = _login(sites_app, "network", "password-all").get("/staff/reports?site=saint-omer")
    assert 'data-site="saint-omer"' in page.get_data(as_text=True)


# --- makers -----------------------------------------------------------------------------


def test_makers_choose_a_site_and_the_form_remembers_it(sites_app, block_stl):
    runtime = sites_app.extensions["fabserver"]
    _planned_job(runtime, "box-1", block_stl)
    client = sites_app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'id="site"' in page and 'data-site="arras"' in page
    assert "1 demande(s) en attente" in page  # Saint-Omer's queue, in French by default
    answer = upload_form(client, block_stl, machine="box-3", site="arras")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert "fabserver_site=arras" in answer.headers["Set-Cookie"]
    again = client.get("/").get_data(as_text=True)
    assert '<option value="arras" selected>' in again
    job_page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Site : Arras" in job_page
