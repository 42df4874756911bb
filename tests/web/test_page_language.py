"""Every page, in French and in English, speaks one language.

A small lab built on the real plugins and profiles: jobs in every state (queued,
planning, review, approved, sent, done, failed, rejected, cancelled), the staff's
pages, the token page, the error pages. Each page's visible text must hold no word
that only the other language's texts use (see ``page_language``), with French number
formats and units written for people.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from page_language import foreign_words, telltales, visible_text
from web_helpers import ROOT, STAFF_PASSWORD, STAFF_USER, csrf_token, staff_post

from fabserver.jobs.states import transition
from fabserver.profiles import load_profiles
from fabserver.registry import load_registry

LANGUAGES = ("fr", "en")
BIG_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="2000mm" height="1500mm" '
    b'viewBox="0 0 2000 1500"><rect x="10" y="10" width="1900" height="1400" fill="none" '
    b'stroke="#ff0000" stroke-width="0.1"/></svg>'
)
# (page name, machine, sample file): each job is taken to the state in its name.
JOBS = {
    "job-review-mill": ("mill", "mill-nameplate.svg"),
    "job-review-printer": ("printer-1", "fdm-step.stl"),
    "job-approved-laser": ("laser", "laser-keyring.svg"),
    "job-done-laser": ("laser", "laser-keyring.svg"),
    "job-rejected-vinyl": ("vinyl", "vinyl-sticker.svg"),
    "job-cancelled-printer": ("printer-1", "fdm-step.stl"),
    "job-failed-vinyl": ("vinyl", "big.svg"),
}
PAGES = (
    "form",
    "quote-drawing",
    "quote-mesh",
    "form-errors",
    "broken-file",
    "job-queued",
    "job-planning",
    *JOBS,
    "job-dispatched-laser",
    "staff-login",
    "staff-login-error",
    "queue",
    "queue-all",
    *(f"staff-{name}" for name in JOBS),
    "machines",
    "stock",
    "reports",
    "token",
    "error-404",
    "error-400",
    "forbidden",
)

pytestmark = pytest.mark.skipif(
    not {"laser", "vinyl", "mill", "fdm"} <= set(load_registry().plugins),
    reason="the built-in plugins are not installed (pip install -e plugins/…)",
)


def _sample(name: str) -> bytes:
    return BIG_SVG if name == "big.svg" else (ROOT / "samples" / name).read_bytes()


def _upload(client, machine: str, sample: str, copies: int = 2):
    """The maker's form as a browser sends it."""
    profiles = load_profiles()
    material = profiles.materials_for(profiles.machines[machine])[0].id
    form = {
        "csrf_token": csrf_token(client),
        "machine": machine,
        "material": material,
        "copies": str(copies),
        "name": "Camille",
        "email": "camille@example.org",
        "consent": "1",
        "file": (io.BytesIO(_sample(sample)), sample),
    }
    return client.post("/", data=form, content_type="multipart/form-data")


def _app(tmp: Path, immediate: bool):
    from fabserver.web import create_app
    from fabserver.web.auth import create_staff

    app = create_app({"DATA_DIR": tmp / "data", "QUEUE_IMMEDIATE": immediate, "TESTING": True})
    create_staff(app.extensions["fabserver"], STAFF_USER, STAFF_PASSWORD, "Ana")
    return app


def _login(app):
    client = app.test_client()
    response = client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(client, "/staff/login"),
            "username": STAFF_USER,
            "password": STAFF_PASSWORD,
        },
    )
    assert response.status_code == 302
    return client


def _job_id(runtime, token: str) -> int:
    from web_helpers import job_id_of

    return job_id_of(runtime, token)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, dict[str, str]]:
    """{language: {page name: html}} for every page of the lab."""
    lab = _app(tmp_path_factory.mktemp("lab"), immediate=True)
    waiting = _app(tmp_path_factory.mktemp("waiting"), immediate=False)
    runtime = lab.extensions["fabserver"]
    maker, staff = lab.test_client(), _login(lab)
    urls: dict[str, str] = {}
    staff_urls: dict[str, str] = {}
    for name, sample in (("quote-drawing", "laser-keyring.svg"), ("quote-mesh", "web-block.stl")):
        response = maker.post(
            "/quote",
            data={
                "csrf_token": csrf_token(maker, "/"),
                "file": (io.BytesIO(_sample(sample)), sample),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 303, (name, response.get_data(as_text=True)[-2000:])
        urls[name] = response.headers["Location"]
    for name, (machine, sample) in JOBS.items():
        response = _upload(maker, machine, sample)
        assert response.status_code == 303, (name, response.get_data(as_text=True)[-2000:])
        urls[name] = response.headers["Location"]
        job_id = _job_id(runtime, urls[name].rsplit("/", 1)[-1])
        staff_urls[f"staff-{name}"] = f"/staff/jobs/{job_id}"
        if "approved" in name or "done" in name:
            staff_post(staff, job_id, "approve", note="Bonne pièce")
        if "done" in name:
            staff_post(staff, job_id, "dispatch")
            staff_post(staff, job_id, "done", actual_time_min="3", actual_material="1")
        if "rejected" in name:
            staff_post(staff, job_id, "reject", reason="Trop fin")
        if "cancelled" in name:
            token = csrf_token(maker, urls[name])
            maker.post(urls[name] + "/cancel", data={"csrf_token": token})
    # one more laser job, sent to the machine and not yet done
    response = _upload(maker, "laser", "laser-keyring.svg")
    urls["job-dispatched-laser"] = response.headers["Location"]
    job_id = _job_id(runtime, urls["job-dispatched-laser"].rsplit("/", 1)[-1])
    staff_post(staff, job_id, "approve")
    staff_post(staff, job_id, "dispatch")
    staff.post(
        "/staff/stock",
        data={
            "csrf_token": csrf_token(staff, "/staff/stock"),
            "material": load_profiles().materials_for(load_profiles().machines["laser"])[0].id,
            "width_mm": "150",
            "height_mm": "100",
            "count": "1",
            "note": "étagère B",
        },
    )
    # jobs no planning process has taken yet, or one is working on
    waiting_maker = waiting.test_client()
    queued = _upload(waiting_maker, "laser", "laser-keyring.svg").headers["Location"]
    planning = _upload(waiting_maker, "laser", "laser-keyring.svg").headers["Location"]
    waiting_runtime = waiting.extensions["fabserver"]
    with waiting_runtime.db.session() as s:
        transition(
            s,
            _job_id(waiting_runtime, planning.rsplit("/", 1)[-1]),
            "planning",
            actor="worker",
            progress=0.4,
        )

    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        for client in (maker, staff, waiting_maker):
            client.get(f"/lang/{lang}")
        got = {name: maker.get(url) for name, url in urls.items()}
        got["job-queued"] = waiting_maker.get(queued)
        got["job-planning"] = waiting_maker.get(planning)
        got["form"] = maker.get("/")
        got["form-errors"] = _upload(maker, "laser", "laser-keyring.svg", copies=0)
        got["broken-file"] = _broken_upload(maker)
        anonymous = lab.test_client()
        anonymous.get(f"/lang/{lang}")
        got["staff-login"] = anonymous.get("/staff/login")
        got["staff-login-error"] = anonymous.post(
            "/staff/login",
            data={
                "csrf_token": csrf_token(anonymous, "/staff/login"),
                "username": STAFF_USER,
                "password": "wrong",
            },
        )
        got["forbidden"] = anonymous.get("/staff/machines/laser/status.json")
        got["error-404"] = maker.get("/no/such/page")
        got["error-400"] = maker.post("/", data={})  # no CSRF token
        got["queue"] = staff.get("/staff/")
        got["queue-all"] = staff.get("/staff/?all=1")
        got.update({name: staff.get(url) for name, url in staff_urls.items()})
        got["machines"] = staff.get("/staff/machines")
        got["stock"] = staff.get("/staff/stock")
        got["reports"] = staff.get("/staff/reports")
        got["token"] = staff.post(
            "/staff/tokens",
            data={"csrf_token": csrf_token(staff, "/staff/machines"), "name": "tableur"},
        )
        out[lang] = {name: r.get_data(as_text=True) for name, r in got.items()}
        statuses = {name: r.status_code for name, r in got.items()}
        assert statuses["error-404"] == 404 and statuses["error-400"] == 400
        assert statuses["forbidden"] == 403, statuses
        assert statuses["form-errors"] in (400, 422), statuses
        assert all(code == 200 for name, code in statuses.items() if name not in _NOT_200), statuses
    for app in (lab, waiting):
        app.extensions["fabserver"].close()
    return out


_NOT_200 = {
    "error-404",
    "error-400",
    "forbidden",
    "form-errors",
    "staff-login-error",
    "broken-file",
}


def _broken_upload(client):
    profiles = load_profiles()
    material = profiles.materials_for(profiles.machines["printer-1"])[0].id
    return client.post(
        "/",
        data={
            "csrf_token": csrf_token(client),
            "machine": "printer-1",
            "material": material,
            "copies": "1",
            "name": "Camille",
            "email": "camille@example.org",
            "consent": "1",
            "file": (io.BytesIO(b"solid broken\nfacet normal 0 0 1\nendsolid"), "broken.stl"),
        },
        content_type="multipart/form-data",
    )


@pytest.fixture(scope="module")
def tells() -> dict[str, set[str]]:
    return telltales()


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_page_speaks_one_language(pages, tells, lang, page):
    html = pages[lang][page]
    assert f'<html lang="{lang}">' in html
    found = foreign_words(html, lang, tells)
    assert found == [], f"{page} ({lang}) shows words of the other language: {found}"


def test_the_check_catches_a_planted_word_of_the_other_language(pages, tells):
    french = pages["fr"]["job-done-laser"]
    assert foreign_words(french, "fr", tells) == []
    planted = french.replace("</main>", "<p>File ready to download</p></main>")
    assert {w for w, _ in foreign_words(planted, "fr", tells)} >= {"ready", "download"}
    english = pages["en"]["queue"]
    planted = english.replace("</main>", "<p>Fichier prêt à télécharger</p></main>")
    assert {w for w, _ in foreign_words(planted, "en", tells)} >= {"fichier", "prêt"}
    # a word without accents, known from the French texts only
    assert foreign_words(english.replace("</main>", "<p>feuille</p></main>"), "en", tells)


def test_the_dictionaries_know_the_words_the_pages_once_got_wrong(tells):
    for word in ("sheet", "upload", "climb", "ramp", "ready", "download", "maker"):
        assert word in tells["en"], word
    for word in ("feuille", "avalant", "rampe", "prêt"):
        assert word in tells["fr"], word


def _text(html: str) -> str:
    return visible_text(html)


def test_french_pages_write_numbers_and_units_the_french_way(pages):
    laser = _text(pages["fr"]["job-approved-laser"])
    assert re.search(r"\d+,\d\u00a0feuilles?\b", laser), laser  # "1,0 feuille", not "1,0 sheet"
    assert "m²" in laser and "m2" not in laser
    assert re.search(r"Taille du dessin :\s+\d+,\d × \d+,\d\u00a0mm", laser)
    staff = _text(pages["fr"]["staff-job-approved-laser"])
    assert re.search(r"\d+,\d × \d+,\d\u00a0mm", staff) and "kB" not in staff
    assert re.search(r"\d+,\d\u00a0ko", staff)
    english = _text(pages["en"]["staff-job-approved-laser"])
    assert re.search(r"\d+\.\d × \d+\.\d\u00a0mm", english) and re.search(
        r"\d+\.\d\u00a0kB", english
    )
    assert re.search(r"\d+\.\d\u00a0sheets?\b", _text(pages["en"]["job-approved-laser"]))


def test_small_quantities_are_not_rounded_to_nothing(pages):
    for lang in LANGUAGES:
        for page in ("job-rejected-vinyl", "job-review-printer", "staff-job-rejected-vinyl"):
            text = _text(pages[lang][page])
            assert not re.search(r"(?<![\d,.])0[,.]0+\u00a0(m²|g|m|cm³|feuilles?|sheets?)\b", text)
            assert "\u00a00\u00a0min" not in text and "\n0\u00a0min" not in text


def test_a_zero_that_means_the_materials_own_value_says_so(pages):
    assert "celle du filament" in _text(pages["fr"]["job-review-printer"])
    assert "the filament's" in _text(pages["en"]["job-review-printer"])
    assert "0\u00a0°C" not in _text(pages["fr"]["job-review-printer"])


def test_the_mills_choices_and_the_audit_are_in_words(pages):
    staff = pages["fr"]["staff-job-review-mill"]
    for raw, label in (("climb", "en avalant"), ("ramp", "en rampe"), ("as_is", "telle quelle")):
        assert f'value="{raw}"' in staff and label in staff
    assert "dépôt du fichier" in _text(staff)
    done = _text(pages["fr"]["staff-job-done-laser"])
    assert "Fichier prêt à télécharger" in done and "File ready" not in done
    assert "Ready" not in done


def test_progress_is_announced_to_screen_readers(pages):
    for page in ("job-queued", "job-planning"):
        html = pages["fr"][page]
        progress = html.split('data-testid="progress"')[1].split(">")[0]
        assert 'role="status"' in progress and 'aria-live="polite"' in progress
        assert 'aria-label="Avancement"' in html
